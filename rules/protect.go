package rules

import "net/netip"

// broadcast is the limited broadcast address.
var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// neverBanned are the ranges of NeverBan, for prefixes.
var neverBanned = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("0.0.0.0/32"), netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("ff00::/8"),
}

// ProtectedPrefix reports whether p holds an address that is never banned. An address
// (most of 100,000 bans handed to the firewall) is NeverBan's few comparisons, not seven
// prefix overlaps.
func ProtectedPrefix(p netip.Prefix) bool {
	if p.IsSingleIP() {
		return NeverBan(p.Addr()) != ""
	}
	for _, n := range neverBanned {
		if n.Overlaps(p) {
			return true
		}
	}
	return false
}

// NeverBan reports why ip may never be banned, whatever the config says, or "" when it may:
// loopback (a webmail submitting on localhost), the unspecified address, broadcast and
// multicast, IPv4-mapped forms included. No log line and no `ban` can put them in a chain.
func NeverBan(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsUnspecified():
		return "the unspecified address"
	case ip == broadcast:
		return "the broadcast address"
	case ip.IsMulticast():
		return "a multicast address"
	}
	return ""
}

// SelfIgnored reports whether ip is one of the host's own addresses and the jail ignores them
// (ignoreself). The caller sets Self from the host's interfaces at each run.
func (j *Jail) SelfIgnored(ip netip.Addr) bool {
	if !j.IgnoreSelf {
		return false
	}
	ip = ip.Unmap()
	for _, a := range j.Self {
		if a == ip {
			return true
		}
	}
	return false
}
