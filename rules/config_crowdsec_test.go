package rules

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestLoadConfigCrowdsec(t *testing.T) {
	const jails = "jails:\n  postfix-sasl:\n    logpath: [/var/log/mail.log]\n"
	env := Env{ReadFile: noFiles, ReadSecret: secrets(map[string]string{
		"/etc/f2b/cs-password": "s3cret\n",
		"/etc/f2b/cs-bouncer":  "0123abcd\n",
		"/etc/f2b/empty":       "\n",
	})}
	const full = "crowdsec:\n  url: http://127.0.0.1:8080\n  machine_id: mx1\n  password_file: /etc/f2b/cs-password\n  bouncer_key_file: /etc/f2b/cs-bouncer\n"
	tests := []struct {
		name, yaml string
		want       func(c *CrowdsecConfig) bool
		wantErr    string
		wantWarn   string
	}{
		{"none", jails, func(c *CrowdsecConfig) bool { return c == nil }, "", ""},
		{"defaults", full + jails, func(c *CrowdsecConfig) bool {
			return c.Push && c.Pull && c.Password == "s3cret" && c.BouncerKey == "0123abcd" && c.ScenarioPrefix == "fail2ban-scan" &&
				c.Timeout == 5 && c.BanAction == "iptables" && c.BlockType == "REJECT" && len(c.IgnoreIP) == 2 && c.IgnoreSelf
		}, "", ""},
		{"from defaults", "defaults:\n  banaction: ipset\n  blocktype: drop\n  ignoreip: [10.0.0.0/8]\n" + full + jails, func(c *CrowdsecConfig) bool {
			return c.BanAction == "ipset" && c.BlockType == "DROP" && slices.Equal(c.IgnoreIP, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
		}, "", ""},
		{"own settings", full + "  banaction: nftables\n  blocktype: DROP\n  origins: [cscli, lists]\n  scenario_prefix: mail\n  timeout: 2s\n  push: false\n" + jails,
			func(c *CrowdsecConfig) bool {
				return c.BanAction == "nftables" && c.BlockType == "DROP" && slices.Equal(c.Origins, []string{"cscli", "lists"}) &&
					c.ScenarioPrefix == "mail" && c.Timeout == 2 && !c.Push && c.Password == ""
			}, "", ""},
		{"http to another host", strings.Replace(full, "http://127.0.0.1:8080", "http://lapi.example.org:8080", 1) + jails, func(c *CrowdsecConfig) bool { return true }, "",
			"c.yaml:2: crowdsec.url: http:// to another host: the machine's password, its token and the bouncer key cross the network in clear text (use https://)"},
		{"pull only", "crowdsec:\n  url: https://lapi.example.org\n  machine_id: mx1\n  push: false\n  bouncer_key_file: /etc/f2b/cs-bouncer\n" + jails,
			func(c *CrowdsecConfig) bool { return !c.Push && c.BouncerKey == "0123abcd" }, "", ""},
		{"missing", "crowdsec:\n  push: true\n" + jails, nil,
			"c.yaml:1: crowdsec.url: the LAPI's URL is required\n" +
				"c.yaml:1: crowdsec.machine_id: required: the machine this host pushes as (cscli machines add), which also names its own decisions on pull\n" +
				"c.yaml:1: crowdsec.password_file: push needs password_file, the machine's password\n" +
				"c.yaml:1: crowdsec.bouncer_key_file: pull needs bouncer_key_file, the bouncer's API key (cscli bouncers add)", ""},
		{"bad values", "crowdsec:\n  url: ftp://x\n  machine_id: a@b\n  push: maybe\n  banaction: pf\n  blocktype: TARPIT\n  timeout: 0\n  bogus: 1\n" + jails, nil,
			"c.yaml:2: crowdsec.url: want an http:// or https:// URL, got \"ftp://x\"\n" +
				"c.yaml:3: crowdsec.machine_id: must be a name without '@' nor spaces, got \"a@b\"\n" +
				"c.yaml:4: crowdsec.push: must be true or false, got \"maybe\"\n" +
				"c.yaml:5: crowdsec.banaction: must be iptables, ipset or nftables, got \"pf\"\n" +
				"c.yaml:6: crowdsec.blocktype: must be REJECT or DROP, got \"TARPIT\"\n" +
				"c.yaml:7: crowdsec.timeout: must be positive, got \"0\"\n" +
				"c.yaml:8: crowdsec.bogus: unknown key (want url, machine_id, password_file, bouncer_key_file, push, pull, origins, scenario_prefix, timeout, banaction or blocktype)", ""},
		{"unreadable secrets", "crowdsec:\n  url: http://127.0.0.1:8080\n  machine_id: mx1\n  password_file: /etc/f2b/none\n  bouncer_key_file: /etc/f2b/empty\n" + jails,
			func(c *CrowdsecConfig) bool {
				return strings.Contains(c.PasswordErr, "/etc/f2b/none") && c.BouncerKeyErr == "/etc/f2b/empty is empty"
			}, "", "c.yaml:4: crowdsec.password_file: open /etc/f2b/none: file does not exist; the LAPI is not used for this until it is fixed"},
		{"jail named fleet", "jails:\n  fleet:\n    logpath: [/var/log/mail.log]\n", nil,
			"c.yaml:2: jails.fleet: the name fleet is reserved for the bans pulled from CrowdSec (chain f2b-fleet): rename the jail", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(strings.NewReader(tt.yaml), "c.yaml", env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error:\n%v\nwant:\n%s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c.Crowdsec) {
				t.Errorf("crowdsec: %+v", c.Crowdsec)
			}
			var warns []string
			for _, w := range c.Warnings {
				warns = append(warns, w.String())
			}
			if tt.wantWarn != "" && !slices.Contains(warns, tt.wantWarn) {
				t.Errorf("warnings %q, want %q", warns, tt.wantWarn)
			}
		})
	}
}
