package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

func TestNoArgs(t *testing.T) {
	for _, args := range [][]string{{"scan", "x"}, {"check", "x"}, {"flush", "x"}, {"x"}} {
		if code, _, stderr := runCLI(t, append([]string{"--config", "testdata/example.yaml"}, args...)...); code != 2 || !strings.Contains(stderr, `"x"`) {
			t.Errorf("%v: exit %d, want 2: %s", args, code, stderr)
		}
	}
}

func TestInterspersed(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, tt := range []struct{ in, want string }{
		{"ban --jail j 203.0.113.5 --bantime 1h", "ban --jail j --bantime 1h 203.0.113.5"},
		{"ban 203.0.113.6 --jail j", "ban --jail j 203.0.113.6"},
		{"ban --jail=j 203.0.113.6 --bantime=-1", "ban --jail=j --bantime=-1 203.0.113.6"},
		{"ban 203.0.113.6 --bantime -1 --jail j", "ban --bantime -1 --jail j 203.0.113.6"},
		{"regex mail.log postfix-sasl --json", "regex --json mail.log postfix-sasl"},
		{"status postfix-sasl --json", "status --json postfix-sasl"},
		{"unban 1.2.3.4 --jail x", "unban --jail x 1.2.3.4"},
		{"scan --config x.yaml", "--config x.yaml scan"},
		{"scan --dry-run --config=x.yaml --now 5 --jail a", "--config=x.yaml --now 5 scan --dry-run --jail a"},
		{"--log-level debug status --state s.json j", "--log-level debug --state s.json status j"},
		{"unban -- --jail", "unban -- --jail"},
		{"unban 1.2.3.4 -- -5 --all", "unban 1.2.3.4 -- -5 --all"},
		{"ban x --jail j --no-such-flag", "ban --jail j --no-such-flag x"},
		{"status --json --generate-bash-completion", "status --json --generate-bash-completion"},
		{"scan x - --generate-bash-completion", "scan x - --generate-bash-completion"},
		{"scan --help", "scan --help"},
		{"--help", "--help"},
		{"regex - postfix-sasl --json", "regex --json -- - postfix-sasl"},
		{"", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got := interspersed(app, append([]string{"fail2ban-scan"}, strings.Fields(tt.in)...))
			want := append([]string{"fail2ban-scan"}, strings.Fields(tt.want)...)
			if !slices.Equal(got, want) {
				t.Errorf("got  %q\nwant %q", got[1:], want[1:])
			}
		})
	}
}

// TestFlagsAnywhere runs every command with its flags (and the global ones) before and after
// its arguments: both orders must give the same output (each order has a state of its own).
func TestFlagsAnywhere(t *testing.T) {
	netnstest.Isolate(t) // scan, ban, unban and flush touch the firewall
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	write(t, logPath, "Aug 15 22:34:53 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x\n")
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n")
	for _, tt := range []struct {
		name          string
		before, after string
		want          string
	}{
		{"scan", "--config C --now N scan --dry-run --jail postfix-sasl", "scan --jail postfix-sasl --dry-run --config C --now N", "firewall:"},
		{"check", "--config C check", "check --config C", ": OK, 1 jail(s)"},
		{"status", "--config C --now N status --json postfix-sasl", "status postfix-sasl --json --config C --now N", `"total_failed"`},
		{"regex", "--now N regex --json L postfix-sasl", "regex L postfix-sasl --json --now N", `"matched": 1`},
		{"regex --", "--now N regex --json -- L postfix-sasl", "regex --json --now N -- L postfix-sasl", `"matched": 1`},
		{"ban", "--config C --now N --state S ban --jail postfix-sasl --bantime 1h 203.0.113.5", "ban --jail postfix-sasl 203.0.113.5 --bantime 1h --config C --state S --now N", "Ban 203.0.113.5"},
		{"ban permanent", "--config C --now N --state S ban --jail postfix-sasl --bantime -1 203.0.113.6", "ban 203.0.113.6 --jail postfix-sasl --bantime -1 --now N --config C --state S", "permanent"},
		{"unban", "--config C --now N --state S unban --jail postfix-sasl 203.0.113.5", "unban 203.0.113.5 --jail postfix-sasl --config C --now N --state S", "Unban 203.0.113.5"},
		{"unban --all", "--config C --now N --state S unban --all", "unban --all --config C --state S --now N", "Unban 203.0.113.6"},
		{"report", "--config C --now N report --json --since 24h --jail postfix-sasl", "report --since 24h --jail postfix-sasl --config C --json --now N", `"failures"`},
		{"scan report", "--config C --now N scan report --json --since 24h", "scan report --since 24h --json --config C --now N", `"failures"`},
		{"flush", "--config C flush", "flush --config C", "iptables: "}, // the second finds nothing to remove
	} {
		t.Run(tt.name, func(t *testing.T) {
			var outs [2]string
			for i, line := range []string{tt.before, tt.after} {
				var args []string
				for _, a := range strings.Fields(line) {
					args = append(args, strings.NewReplacer("C", cfg, "N", "1755297300", "S", filepath.Join(dir, fmt.Sprint(i, ".json")), "L", logPath).Replace(a))
				}
				code, out, stderr := runCLI(t, args...)
				if code != 0 {
					t.Fatalf("%s: exit %d: %s", line, code, stderr)
				}
				if !strings.Contains(out, tt.want) {
					t.Fatalf("%s: output lacks %q:\n%s", line, tt.want, out)
				}
				outs[i] = out
			}
			if tt.name != "flush" && outs[0] != outs[1] {
				t.Errorf("flags before and after differ:\n--- before ---\n%s\n--- after ---\n%s", outs[0], outs[1])
			}
		})
	}
}
