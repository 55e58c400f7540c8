package ipv4

import (
	"net/netip"
	"testing"
)

// FuzzParse: Parse accepts exactly what netip parses as an IPv4 address and writes back the
// same, with the same address, from a string and from bytes alike.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"192.0.2.7", "0.0.0.0", "255.255.255.255", "256.0.0.1", "01.2.3.4", "1.2.3",
		"1.2.3.4.", "1.2.3.4.5", "1..2.3", "1.2.3.0004", "1.2.3.-4", "::1", "::ffff:1.2.3.4", "1.2.3.4/32", "", "1.2.3.4 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := netip.ParseAddr(s)
		wantOK := err == nil && want.Is4() && want.String() == s
		got, ok := Parse(s)
		gotB, okB := Parse([]byte(s))
		if ok != wantOK || okB != ok || ok && (got != want || gotB != want) {
			t.Errorf("Parse(%q) = %v, %v (bytes: %v, %v); netip: %v, %v", s, got, ok, gotB, okB, want, wantOK)
		}
	})
}
