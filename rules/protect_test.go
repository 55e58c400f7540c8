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
