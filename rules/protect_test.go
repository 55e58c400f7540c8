package rules

import (
	"net/netip"
	"testing"
)

func TestNeverBan(t *testing.T) {
	for ip, want := range map[string]string{
		"127.0.0.1": "a loopback address", "127.255.0.9": "a loopback address", "::1": "a loopback address",
		"::ffff:127.0.0.1": "a loopback address", "0.0.0.0": "the unspecified address", "::": "the unspecified address",
		"::ffff:0.0.0.0": "the unspecified address", "255.255.255.255": "the broadcast address",
		"::ffff:255.255.255.255": "the broadcast address", "224.0.0.1": "a multicast address",
		"239.255.255.250": "a multicast address", "ff02::1": "a multicast address", "::ffff:224.0.0.5": "a multicast address",
		"192.0.2.7": "", "2001:db8::1": "", "10.0.0.1": "", "192.168.1.255": "", "fe80::1": "",
	} {
		if got := NeverBan(netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %q, want %q", ip, got, want)
		}
	}
}

// TestProtectedPrefix: a prefix is protected when it overlaps a range of neverBanned; an
// address (its fast path) exactly when NeverBan names it, the edges of each range included.
func TestProtectedPrefix(t *testing.T) {
	for p, want := range map[string]bool{
		"127.0.0.1/32": true, "126.255.255.255/32": false, "128.0.0.0/32": false, "127.255.255.255/32": true,
		"0.0.0.0/32": true, "0.0.0.1/32": false, "255.255.255.255/32": true, "255.255.255.254/32": false,
		"224.0.0.0/32": true, "239.255.255.255/32": true, "223.255.255.255/32": false, "240.0.0.0/32": false,
		"::1/128": true, "::/128": true, "::2/128": false, "ff00::/128": true, "feff:ffff::/128": false,
		"192.0.2.7/32": false, "2001:db8::1/128": false,
		"127.0.0.0/8": true, "126.0.0.0/7": true, "192.0.2.0/24": false, "0.0.0.0/0": true, "::/0": true,
		"2001:db8::/32": false, "ff02::/16": true, "fe00::/7": true,
	} {
		pre := netip.MustParsePrefix(p)
		if got := ProtectedPrefix(pre); got != want {
			t.Errorf("%s: %v, want %v", p, got, want)
		}
		slow := false
		for _, n := range neverBanned {
			slow = slow || n.Overlaps(pre)
		}
		if slow != want {
			t.Errorf("%s: the ranges say %v, the test %v", p, slow, want)
		}
	}
}

func TestIgnoreSelf(t *testing.T) {
	self := []netip.Addr{netip.MustParseAddr("192.0.2.50"), netip.MustParseAddr("2001:db8::50")}
	on := Jail{IgnoreSelf: true, Self: self}
	off := Jail{IgnoreSelf: false, Self: self}
	for _, ip := range []string{"192.0.2.50", "::ffff:192.0.2.50", "2001:db8::50"} {
		a := netip.MustParseAddr(ip)
		if !on.Ignores(a) || off.Ignores(a) {
			t.Errorf("%s: ignoreself on %v, off %v", ip, on.Ignores(a), off.Ignores(a))
		}
	}
	if on.Ignores(netip.MustParseAddr("192.0.2.51")) {
		t.Error("another address is not the host's")
	}
}
