package rules

import "net/netip"

// broadcast is the limited broadcast address.
var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

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
