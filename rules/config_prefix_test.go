package rules

import (
	"strings"
	"testing"
)

func TestLoadConfigPrefix(t *testing.T) {
	const jail = "jails:\n  postfix-sasl:\n    logpath: [/var/log/mail.log]\n"
	tests := []struct {
		name, yaml string
		wantSubnet Subnet
		wantIPv6   int
		wantErr    string
	}{
		{"off by default", jail, Subnet{}, 128, ""},
		{"in a jail", jail + "    subnet: {ipv4: 16, ipv6: 48, min_ips: 3}\n    ipv6_prefix: 64\n", Subnet{16, 48, 3}, 64, ""},
		{"defaults of left-out keys", jail + "    subnet: {min_ips: 2}\n", Subnet{24, 64, 2}, 128, ""},
		{"inherited from defaults:", "defaults:\n  subnet: {ipv4: 28}\n  ipv6_prefix: 56\n" + jail, Subnet{28, 64, 5}, 56, ""},
		{"a jail turns it off", "defaults:\n  subnet: {ipv4: 28}\n" + jail + "    subnet:\n", Subnet{}, 128, ""},
		{"ipv4 too short", jail + "    subnet: {ipv4: 7}\n", Subnet{}, 0, "c.yaml:4: jails.postfix-sasl.subnet.ipv4: must be from 8 to 32, got 7"},
		{"ipv6 too long", jail + "    subnet:\n      ipv6: 129\n", Subnet{}, 0, "c.yaml:5: jails.postfix-sasl.subnet.ipv6: must be from 16 to 128, got 129"},
		{"min_ips 1", "defaults:\n  subnet: {min_ips: 1}\n" + jail, Subnet{}, 0, "c.yaml:2: defaults.subnet.min_ips: must be >= 2, got 1"},
		{"unknown key", jail + "    subnet: {ipv4: 24, mask: 8}\n", Subnet{}, 0, "c.yaml:4: jails.postfix-sasl.subnet.mask: unknown key (want ipv4, ipv6 or min_ips)"},
		{"not a mapping", jail + "    subnet: 24\n", Subnet{}, 0, "c.yaml:4: jails.postfix-sasl.subnet: must be a mapping"},
		{"ipv6_prefix 8", jail + "    ipv6_prefix: 8\n", Subnet{}, 0, "c.yaml:4: jails.postfix-sasl.ipv6_prefix: must be from 16 to 128, got 8"},
		{"ipv6_prefix text", jail + "    ipv6_prefix: /64\n", Subnet{}, 0, `c.yaml:4: jails.postfix-sasl.ipv6_prefix: must be an integer, got "/64"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(strings.NewReader(tt.yaml), "c.yaml", Env{ReadFile: noFiles})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			j := c.Jails[0]
			if j.Subnet != tt.wantSubnet || j.IPv6Prefix != tt.wantIPv6 {
				t.Errorf("subnet %v ipv6_prefix %d, want %v %d", j.Subnet, j.IPv6Prefix, tt.wantSubnet, tt.wantIPv6)
			}
		})
	}
}
