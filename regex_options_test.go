package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fail2banRegex runs the installed fail2ban-regex, or skips (fails under
// FAIL2BAN_SCAN_REQUIRE_CORPUS=1, which also requires fail2ban's corpus).
func fail2banRegex(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("fail2ban-regex")
	if err != nil {
		if os.Getenv("FAIL2BAN_SCAN_REQUIRE_CORPUS") == "1" {
			t.Fatalf("fail2ban-regex required (FAIL2BAN_SCAN_REQUIRE_CORPUS=1): %v", err)
		}
		t.Skipf("fail2ban-regex not installed: %v", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fail2ban-regex %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// TestRegexOutMatchesFail2ban: -o ip, msg and row print what fail2ban-regex 1.0.2 prints for
// the same log and filter (fail2ban's filter.d file beside our built-in), and
// --print-all-matched lists the same lines.
func TestRegexOutMatchesFail2ban(t *testing.T) {
	const conf = "/etc/fail2ban/filter.d/postfix.conf"
	if _, err := os.Stat(conf); err != nil {
		t.Skipf("fail2ban's filters not installed: %v", err)
	}
	for _, tt := range []struct{ ours, theirs string }{
		{"postfix[mode=aggressive]", conf + "[mode=aggressive]"},
		{"postfix", conf},
	} {
		for _, o := range []string{"ip", "msg", "row"} {
			t.Run(tt.ours+"/"+o, func(t *testing.T) {
				want := fail2banRegex(t, "-o", o, "testdata/mail.log", tt.theirs)
				code, got, stderr := runCLI(t, "--now", "2026-08-15T22:40:00Z", "regex", "-o", o, "testdata/mail.log", tt.ours)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				if got != want {
					t.Errorf("-o %s:\ngot:\n%s\nfail2ban-regex:\n%s", o, got, want)
				}
			})
		}
		t.Run(tt.ours+"/print-all-matched", func(t *testing.T) {
			want := matchedBlock(fail2banRegex(t, "--print-all-matched", "testdata/mail.log", tt.theirs))
			code, out, stderr := runCLI(t, "--now", "2026-08-15T22:40:00Z", "regex", "--print-all-matched", "testdata/mail.log", tt.ours)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got := matchedBlock(out); got == "" || got != want {
				t.Errorf("matched lines:\ngot:\n%s\nfail2ban-regex:\n%s", got, want)
			}
		})
	}
}

// matchedBlock cuts "|- Matched line(s):" ... "`-" out of fail2ban-regex's report.
func matchedBlock(s string) string {
	i := strings.Index(s, "|- Matched line(s):")
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], "\n`-")
	if j < 0 {
		return ""
	}
	return s[i : i+j+3]
}

// TestRegexPrintAll: each --print-all-* lists its lines in fail2ban-regex's layout, after the
// results, in its order (matched, ignored, missed), and --out takes the place of the results.
func TestRegexPrintAll(t *testing.T) {
	dir := t.TempDir()
	log := dir + "/mail.log"
	lines := []string{
		"Aug 15 22:34:53 mail postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x",
		"Aug 15 22:34:54 mail postfix/smtpd[1]: connect from unknown[192.0.2.7]",
		"Aug 15 22:34:55 mail postfix/smtpd[1]: warning: unknown[2001:db8::7]: SASL PLAIN authentication failed: y   ",
	}
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "--now", "2026-08-15T22:40:00Z", "regex", "--print-all-missed", "--print-all-matched", "--print-all-ignored", log, "postfix-sasl")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := "Lines: 3 lines, 0 ignored, 2 matched, 1 missed\n\n|- Matched line(s):\n|  " + lines[0] + "\n|  " + strings.TrimRight(lines[2], " ") +
		"\n`-\n\n|- Missed line(s):\n|  " + lines[1] + "\n`-\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("got:\n%s\nwant it to end with:\n%s", out, want)
	}
	code, out, _ = runCLI(t, "--now", "2026-08-15T22:40:00Z", "regex", "--out", "row", log, "postfix-sasl")
	t0 := time.Date(2026, 8, 15, 22, 34, 53, 0, time.Local).Unix()
	wantRows := "['192.0.2.7',\t" + itoa(t0) + ",\t{'ip4': '192.0.2.7', 'ip6': None, 'dns': None}],\n" +
		"['2001:db8::7',\t" + itoa(t0+2) + ",\t{'ip4': None, 'ip6': '2001:db8::7', 'dns': None}],\n"
	if code != 0 || out != wantRows {
		t.Errorf("--out row: exit %d\n%s\nwant:\n%s", code, out, wantRows)
	}
	for _, args := range [][]string{{"--out", "id"}, {"--out", "ip", "--json"}} {
		code, _, stderr := runCLI(t, append(append([]string{"regex"}, args...), log, "postfix-sasl")...)
		if code == 0 || !strings.Contains(stderr, "--out") {
			t.Errorf("regex %v: exit %d, stderr %q; want a usage error naming --out", args, code, stderr)
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
