package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/journaltest"
	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestJournalDefaultMatchDebian: a journal jail that does not set journalmatch reads postfix
// as Debian 12 runs it without rsyslog (_SYSTEMD_UNIT=postfix@-.service) and other postfix
// instances, and bans; the same burst logged by another unit is not read.
func TestJournalDefaultMatchDebian(t *testing.T) {
	journaltest.Require(t)
	netnstest.Isolate(t) // the scan reconciles the firewall
	dir := t.TempDir()
	jr := journaltest.New(t)
	at := time.Date(2026, 8, 15, 22, 34, 0, 0, time.UTC)
	var entries []journaltest.Entry
	for i := range 3 {
		for _, u := range []struct{ unit, ip string }{
			{"postfix@-.service", "192.0.2.10"},
			{"postfix@out.service", "192.0.2.11"},
			{"postfix.service", "192.0.2.12"},
			{"sshd.service", "192.0.2.20"},
		} {
			entries = append(entries, journaltest.Entry{Realtime: at.Add(time.Duration(i) * time.Second), Hostname: "mx1",
				Identifier: "postfix/smtpd", PID: 950 + i, Unit: u.unit,
				Message: "warning: unknown[" + u.ip + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"})
		}
	}
	jr.Append(t, entries...)
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+`
jails:
  postfix-sasl:
    backend: journal
    journal_directory: `+jr.Dir+`
    maxretry: 3
`)
	now := []string{"--config", cfg, "--now", "2026-08-15T22:35:00Z"}
	if code, _, stderr := runCLI(t, append(now, "scan")...); code != 0 {
		t.Fatalf("scan exit %d: %s", code, stderr)
	}
	code, out, stderr := runCLI(t, append(now, "status", "--json")...)
	if code != 0 {
		t.Fatalf("status exit %d: %s", code, stderr)
	}
	var st struct {
		Jails map[string]jailStatus `json:"jails"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	js := st.Jails["postfix-sasl"]
	var got []string
	for _, b := range js.Banned {
		got = append(got, b.IP)
	}
	slices.Sort(got)
	want := []string{"192.0.2.10", "192.0.2.11", "192.0.2.12"}
	if !slices.Equal(got, want) || js.TotalFailed != 9 {
		t.Errorf("banned %v, total failed %d; want %v, 9\n%s", got, js.TotalFailed, want, out)
	}
	if m := []string{"_SYSTEMD_UNIT=postfix.service", "_SYSTEMD_UNIT=postfix@*.service"}; !slices.Equal(js.JournalMatches, m) {
		t.Errorf("journal matches %q, want %q", js.JournalMatches, m)
	}
	checkChain(t, 0, "f2b-postfix-sasl", want)
}
