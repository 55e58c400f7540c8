// Package ipv4 reads the dotted form of an IPv4 address from a string or from bytes, without
// the string netip.ParseAddr needs: the hot path of a first run over a botnet's log (rules)
// and of checking 100,000 keys of a state (state).
package ipv4

import "net/netip"

// Parse parses s when it is an IPv4 address in the form netip.ParseAddr reads and
// netip.Addr.String writes: four decimal numbers of 0 to 255 without leading zeros, separated
// by dots. ok is false for anything else, which netip may still parse (an IPv6 address, say).
func Parse[T string | []byte](s T) (a netip.Addr, ok bool) {
	var ip [4]byte
	for part := range ip {
		if part > 0 {
			if len(s) == 0 || s[0] != '.' {
				return a, false
			}
			s = s[1:]
		}
		n, v := 0, 0
		for n < len(s) && n < 4 && s[n] >= '0' && s[n] <= '9' {
			v = v*10 + int(s[n]-'0')
			n++
		}
		if n == 0 || n > 3 || v > 255 || n > 1 && s[0] == '0' {
			return a, false
		}
		ip[part] = byte(v)
		s = s[n:]
	}
	if len(s) > 0 {
		return a, false
	}
	return netip.AddrFrom4(ip), true
}
