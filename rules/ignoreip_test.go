package rules

import (
	"net/netip"
	"strings"
	"testing"
)

// TestParsePrefix: ignoreip entries. IPv4 written as IPv4-mapped IPv6 is unmapped, CIDRs as
// addresses are (matching sees only unmapped addresses, so a mapped prefix would match
// nothing); zones are refused.
func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"192.0.2.7", "192.0.2.7/32", ""},
		{"10.1.2.3/8", "10.0.0.0/8", ""},
		{"2001:db8::1", "2001:db8::1/128", ""},
		{"::ffff:192.0.2.7", "192.0.2.7/32", ""},
		{"::ffff:198.18.0.0/111", "198.18.0.0/15", ""},
		{"::ffff:198.18.0.0/96", "0.0.0.0/0", ""},
		{"::ffff:198.18.7.7/128", "198.18.7.7/32", ""},
		{"::ffff:198.18.0.0/95", "", `bad CIDR "::ffff:198.18.0.0/95": an IPv4-mapped prefix needs a length of at least 96`},
		{"fe80::1%eth0", "", `bad IP "fe80::1%eth0": IPv6 zones are not allowed`},
		{"fe80::/10%eth0", "", `bad CIDR "fe80::/10%eth0"`},
		{"10.0.0.0/33", "", `bad CIDR "10.0.0.0/33"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePrefix(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != netip.MustParsePrefix(tt.want) {
				t.Errorf("got %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestIgnoreIPMapped: a mapped CIDR in ignoreip ignores the IPv4 addresses it names.
func TestIgnoreIPMapped(t *testing.T) {
	c, err := LoadConfig(strings.NewReader("jails:\n  a:\n    filter: postfix-sasl\n    logpath: x\n    ignoreip: [\"::ffff:198.18.0.0/111\"]\n"), "cfg.yaml", Env{ReadFile: noFiles})
	if err != nil {
		t.Fatal(err)
	}
	j := c.Jail("a")
	for ip, want := range map[string]bool{"198.19.255.1": true, "198.18.0.1": true, "::ffff:198.18.0.1": true, "198.20.0.1": false} {
		if got := j.Ignores(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Ignores(%s) = %v, want %v", ip, got, want)
		}
	}
}
