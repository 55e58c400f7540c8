package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// TestScanEscalationReasons: scan --dry-run, the NOTICE line and ban say which rule decided
// each ban's length, from the ban history in the state; a real scan keeps the history.
func TestScanEscalationReasons(t *testing.T) {
	netnstest.Isolate(t) // the scans read and reconcile the firewall
	dir := t.TempDir()
	statePath, logPath, rndLog := filepath.Join(dir, "state.json"), filepath.Join(dir, "mail.log"), filepath.Join(dir, "rnd.log")
	cfg := filepath.Join(dir, "config.yaml")
	write(t, cfg, fmt.Sprintf(`state: %s
defaults:
  filter: postfix-sasl
  maxretry: 2
  bantime: 20m
jails:
  sasl:
    logpath: [%s]
    bantime_increment: {enabled: true, factor: 2, maxtime: 1h}
    permanent_after: 4
  rnd:
    logpath: [%s]
    bantime_increment: {enabled: true, rndtime: 10m}
`, statePath, logPath, rndLog))
	// now is 1786833600 (2026-08-15 22:40:00 UTC); the last bans a day or an hour ago, one
	// 31 days ago (past forget_after, 30d by default).
	write(t, statePath, `{"version": 1, "jails": {"sasl": {"ban_history": {
  "192.0.2.7": {"count": 3, "last": 1786747200},
  "198.51.100.23": {"count": 1, "last": 1786830000},
  "203.0.113.9": {"count": 2, "last": 1786830000},
  "192.0.2.99": {"count": 5, "last": 1784155200},
  "198.51.100.77": {"count": 1, "last": 1786830000}
 }, "total_failed": 0, "total_banned": 12}}}
`)
	ips := []string{"192.0.2.7", "198.51.100.23", "203.0.113.9", "2001:db8::9", "192.0.2.99"}
	var lines []string
	for _, s := range []int64{1786833300, 1786833301} { // 22:35:00 and 22:35:01
		for _, ip := range ips {
			lines = append(lines, syslogLine(time.Unix(s, 0), "postfix/smtpd[77]: warning: unknown["+ip+"]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"))
		}
	}
	write(t, logPath, strings.Join(lines, "\n")+"\n")
	write(t, rndLog, strings.Join([]string{
		syslogLine(time.Unix(1786833300, 0), "postfix/smtpd[78]: warning: unknown[203.0.113.50]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"),
		syslogLine(time.Unix(1786833301, 0), "postfix/smtpd[78]: warning: unknown[203.0.113.50]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"),
	}, "\n")+"\n")
	args := []string{"--config", cfg, "--now", "1786833600"}

	code, out, stderr := runCLI(t, append(args, "scan", "--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"[sasl] Ban 192.0.2.7 (2 failures, from 2026-08-15 22:35:01, permanent; 4th ban: permanent, permanent_after 4)\n",
		"[sasl] Ban 198.51.100.23 (2 failures, from 2026-08-15 22:35:01 until 2026-08-15 23:15:01; 2nd ban: 20m × 2 = 40m)\n",
		"[sasl] Ban 203.0.113.9 (2 failures, from 2026-08-15 22:35:01 until 2026-08-15 23:35:01; 3rd ban: 20m × 2^2, capped at maxtime 1h)\n",
		"[sasl] Ban 2001:db8::9 (2 failures, from 2026-08-15 22:35:01 until 2026-08-15 22:55:01; 1st ban: bantime 20m)\n",
		"[sasl] Ban 192.0.2.99 (2 failures, from 2026-08-15 22:35:01 until 2026-08-15 22:55:01; 1st ban: bantime 20m)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	// rndtime: 20m plus 0..10m, the same in every run.
	rndRe := regexp.MustCompile(`\[rnd\] Ban 203\.0\.113\.50 \(2 failures, from 2026-08-15 22:35:01 until 2026-08-15 (\d\d:\d\d:\d\d); 1st ban: bantime 20m \+ rndtime (\w+)\)`)
	m := rndRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("dry run lacks the rnd jail's ban:\n%s", out)
	}
	end, _ := time.Parse("15:04:05", m[1])
	extra := end.Sub(time.Date(0, 1, 1, 22, 55, 1, 0, time.UTC))
	if d, err := rules.ParseDuration(m[2]); err != nil || extra < 0 || extra > 10*time.Minute || int64(extra.Seconds()) != d {
		t.Errorf("rndtime %s, end %s: want 0..10m after 22:55:01, and the reason to say it", m[2], m[1])
	}
	if _, again, _ := runCLI(t, append(args, "scan", "--dry-run")...); again != out {
		t.Errorf("a second dry run differs:\n%s\nfirst:\n%s", again, out)
	}

	code, _, stderr = runCLI(t, append(args, "scan")...)
	if code != 0 {
		t.Fatalf("scan exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"NOTICE  [sasl] Ban 192.0.2.7 (4th ban: permanent, permanent_after 4)\n",
		"NOTICE  [sasl] Ban 198.51.100.23 (2nd ban: 20m × 2 = 40m)\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("scan log lacks %q:\n%s", want, stderr)
		}
	}
	st, err := state.Load(statePath)
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]state.BanRecord{
		"192.0.2.7":     {Count: 4, Last: 1786833301},
		"198.51.100.23": {Count: 2, Last: 1786833301},
		"2001:db8::9":   {Count: 1, Last: 1786833301},
		"192.0.2.99":    {Count: 1, Last: 1786833301}, // forgotten, then banned again
		"198.51.100.77": {Count: 1, Last: 1786830000},
	} {
		if got := st.Jails["sasl"].BanHistory[ip]; got != want {
			t.Errorf("history of %s = %+v, want %+v", ip, got, want)
		}
	}
	if b := st.Jails["sasl"].Bans["192.0.2.7"]; b != (state.Ban{Start: 1786833301, End: -1, Count: 4}) {
		t.Errorf("ban of 192.0.2.7 = %+v", b)
	}

	// A manual ban counts and escalates; unban forgets the history in the jail.
	code, out, stderr = runCLI(t, append(args, "ban", "--jail", "sasl", "198.51.100.77")...)
	if want := "[sasl] Ban 198.51.100.77 (from 2026-08-15 22:40:00 until 2026-08-15 23:20:00; 2nd ban: 20m × 2 = 40m)\n"; code != 0 || out != want {
		t.Errorf("ban: exit %d, stdout %q, want %q\n%s", code, out, want, stderr)
	}
	if code, _, stderr = runCLI(t, append(args, "unban", "198.51.100.77")...); code != 0 {
		t.Fatalf("unban exit %d: %s", code, stderr)
	}
	code, out, stderr = runCLI(t, append(args, "ban", "--jail", "sasl", "--bantime", "1h", "198.51.100.77")...)
	if want := "[sasl] Ban 198.51.100.77 (from 2026-08-15 22:40:00 until 2026-08-15 23:40:00; 1st ban: bantime 1h given by hand)\n"; code != 0 || out != want {
		t.Errorf("ban after unban: exit %d, stdout %q, want %q\n%s", code, out, want, stderr)
	}
}
