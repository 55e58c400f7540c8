package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateInvalid: a state file that decodes but does not validate (a ban key that is not an
// address, a negative counter, timestamps out of order) stops every command with exit 2, a
// message naming the file and the key, and the file as it was. unban --all used to panic on
// such a key.
func TestStateInvalid(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	cfg := filepath.Join(dir, "c.yaml")
	logPath := filepath.Join(dir, "mail.log")
	write(t, logPath, "")
	write(t, cfg, "state: "+statePath+"\nfail2ban_socket: \"\"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n")
	for _, tt := range []struct{ name, content, want string }{
		{"ban key not an address", `{"version": 1, "jails": {"postfix-sasl": {"bans": {"x": {"start": 5, "end": -1}}}}}`,
			`jails.postfix-sasl.bans."x": not an address`},
		{"ban key mapped", `{"version": 1, "jails": {"postfix-sasl": {"bans": {"::ffff:192.0.2.1": {"start": 5, "end": -1}}}}}`,
			`jails.postfix-sasl.bans."::ffff:192.0.2.1": IPv4-mapped IPv6 address`},
		{"ban key zoned", `{"version": 1, "jails": {"postfix-sasl": {"bans": {"fe80::1%eth0": {"start": 5, "end": -1}}}}}`,
			`jails.postfix-sasl.bans."fe80::1%eth0": address with an IPv6 zone`},
		{"negative counter", `{"version": 1, "jails": {"postfix-sasl": {"total_banned": -4}}}`,
			`jails.postfix-sasl.total_banned: negative (-4)`},
		{"timestamps out of order", `{"version": 1, "jails": {"postfix-sasl": {"failures": {"192.0.2.1": [9, 3]}}}}`,
			`jails.postfix-sasl.failures."192.0.2.1": timestamps not ascending`},
		{"garbage", "\x00\x1f\x8b\xff not a state at all", "decode"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			write(t, statePath, tt.content)
			for _, cmd := range []string{"unban --all", "unban 192.0.2.1", "ban --jail postfix-sasl 192.0.2.9", "scan", "status", "report"} {
				code, out, stderr := runCLI(t, append([]string{"--config", cfg, "--now", "1755297300"}, strings.Fields(cmd)...)...)
				if code != 2 || !strings.Contains(stderr, "state "+statePath+": ") || !strings.Contains(stderr, tt.want) {
					t.Errorf("%s: exit %d, stderr %q; want 2 and %q naming %s", cmd, code, stderr, tt.want, statePath)
				}
				if out != "" {
					t.Errorf("%s: stdout %q", cmd, out)
				}
			}
			if data, _ := os.ReadFile(statePath); string(data) != tt.content {
				t.Errorf("state changed: %q", data)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".state.json.tmp*")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}
