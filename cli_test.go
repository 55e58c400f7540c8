package main

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/journaltest"
	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

// statusFixture is a config and a state written by hand, as the status layout of SPEC.md shows.
func statusFixture(t *testing.T) (cfg string) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	cfg = filepath.Join(dir, "config.yaml")
	write(t, cfg, `state: `+statePath+`
jails:
  postfix-sasl:
    logpath: [/var/log/maillog]
    findtime: 600
  submission:
    filter: postfix[mode=auth]
    backend: journal
    journalmatch: [_SYSTEMD_UNIT=postfix.service]
  old:
    enabled: false
    filter: postfix-sasl
    logpath: [/var/log/old.log]
`)
	// now is 1755297300 (2025-08-15 22:35:00 UTC).
	write(t, statePath, `{"version": 1, "jails": {
 "postfix-sasl": {
  "failures": {"203.0.113.9": [1755296600, 1755297000], "203.0.113.10": [1755296100]},
  "bans": {"198.51.100.7": {"start": 1755297000, "end": -1, "count": 3}, "192.0.2.1": {"start": 1755296000, "end": 1755297600, "count": 2},
           "192.0.2.99": {"start": 1755290000, "end": 1755297300}},
  "total_failed": 439, "total_banned": 3
 }}}
`)
	return cfg
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStatusGolden(t *testing.T) {
	cfg := statusFixture(t)
	for _, tt := range []struct{ golden, args string }{
		{"status.txt", "status"},
		{"status-jail.txt", "status postfix-sasl"},
		{"status-journal.txt", "status submission"},
		{"status.json", "status --json"},
		{"status-with-time.txt", "status postfix-sasl --with-time"},
		{"status-with-time-all.txt", "status --with-time"},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			args := append([]string{"--config", cfg, "--now", "1755297300"}, strings.Fields(tt.args)...)
			code, out, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, tt.golden, out)
		})
	}
}

func TestRegexGolden(t *testing.T) {
	for _, tt := range []struct{ golden, args string }{
		{"regex-postfix-sasl.txt", "regex testdata/mail.log postfix-sasl"},
		{"regex-postfix-sasl.json", "regex --json testdata/mail.log postfix-sasl"},
		{"regex-postfix-more.txt", "regex testdata/mail.log postfix"},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			args := append([]string{"--now", "2026-08-15T22:40:00Z"}, strings.Fields(tt.args)...)
			code, out, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden(t, tt.golden, out)
		})
	}
}

// TestQuickStart runs README.md's first command.
func TestQuickStart(t *testing.T) {
	netnstest.Isolate(t) // the dry run reads the firewall
	code, out, stderr := runCLI(t, "--config", "testdata/example.yaml", "--now", "2026-08-15T22:40:00Z", "scan", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"[postfix-sasl] Ban 192.0.2.7 (5 failures, from 2026-08-15 22:34:53 until 2026-08-15 23:34:53; 1st ban: bantime 1h)",
		"-A f2b-postfix-sasl -s 192.0.2.7/32 -j REJECT --reject-with icmp-port-unreachable",
		"-I INPUT 1 -p tcp -m multiport --dports 25,465,587 -j f2b-postfix-sasl",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{
		"fail2ban-scan.filter [", "INFO    [postfix-sasl] Found 192.0.2.7 - 2026-08-15 22:34:53",
		"NOTICE  [postfix-sasl] Ban 192.0.2.7", "Ignore 127.0.0.1: a loopback address is never banned", "192.0.2.7 already banned",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// Hostile text in the example log must not ban the innocent address it names.
	if strings.Contains(out+stderr, "10.9.9.9") {
		t.Errorf("10.9.9.9 appears in the output:\n%s\n%s", out, stderr)
	}
	if _, err := os.Stat("testdata/example-state.json"); err == nil {
		t.Errorf("the dry run wrote the state")
	}
	if live, _ := exec.Command("iptables", "-S").CombinedOutput(); strings.Contains(string(live), "f2b-") {
		t.Errorf("the dry run changed the firewall:\n%s", live)
	}
}

func TestExitStatus(t *testing.T) {
	netnstest.Isolate(t) // scans reconcile the firewall
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	statePath := filepath.Join(dir, "state.json")
	good := filepath.Join(dir, "good.yaml")
	write(t, good, "state: "+statePath+"\njails:\n  a:\n    filter: postfix-sasl\n    logpath: ["+logPath+"]\n  b:\n    filter: postfix-sasl\n    logpath: ["+filepath.Join(dir, "missing.log")+"]\n")
	portTypo := filepath.Join(dir, "port.yaml")
	write(t, portTypo, "state: "+statePath+"\njails:\n  a:\n    filter: postfix-sasl\n    logpath: [x]\n    port: [smtpx]\n")
	bad := filepath.Join(dir, "bad.yaml")
	write(t, bad, "state: "+statePath+"\njails:\n  a:\n    logpath: [x]\n    maxretry: 0\n")
	write(t, logPath, "Aug 15 22:34:53 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x\n")

	t.Run("bad config: 2, nothing written", func(t *testing.T) {
		code, _, stderr := runCLI(t, "--config", bad, "scan")
		if code != 2 || !strings.Contains(stderr, bad+":5: jails.a.maxretry: must be >= 1, got 0") {
			t.Fatalf("exit %d, stderr %s", code, stderr)
		}
		if _, err := os.Stat(statePath); err == nil {
			t.Fatal("state written despite the bad config")
		}
		code, out, _ := runCLI(t, "--config", bad, "check")
		if code != 2 || out != "" {
			t.Fatalf("check: exit %d, %q", code, out)
		}
	})
	t.Run("missing log: 1, the other jail still counted and saved", func(t *testing.T) {
		code, _, stderr := runCLI(t, "--config", good, "--now", "2026-08-15T22:35:00Z", "scan")
		if code != 1 || !strings.Contains(stderr, "ERROR   [b]") || !strings.Contains(stderr, "missing.log") {
			t.Fatalf("exit %d, stderr %s", code, stderr)
		}
		code, out, _ := runCLI(t, "--config", good, "--now", "2026-08-15T22:35:00Z", "status", "a")
		if code != 0 || !strings.Contains(out, "Total failed:\t1") {
			t.Fatalf("status after the run: exit %d\n%s", code, out)
		}
	})
	t.Run("corrupt state: 2, file untouched", func(t *testing.T) {
		write(t, statePath, "{not json")
		for _, cmd := range []string{"scan", "status", "unban --all"} {
			code, _, stderr := runCLI(t, append([]string{"--config", good}, strings.Fields(cmd)...)...)
			if code != 2 || !strings.Contains(stderr, statePath) {
				t.Errorf("%s: exit %d, stderr %s", cmd, code, stderr)
			}
		}
		if data, _ := os.ReadFile(statePath); string(data) != "{not json" {
			t.Errorf("state changed: %q", data)
		}
	})
	t.Run("usage errors: 2", func(t *testing.T) {
		os.Remove(statePath)
		for _, args := range [][]string{
			{"--config", good, "--now", "yesterday", "scan"},
			{"--config", good, "scan", "--jail", "nope"},
			{"--config", good, "--log-level", "loud", "scan"},
			{"--config", good, "ban", "--jail", "a", "not-an-ip"},
			{"--config", good, "ban", "--jail", "a", "127.0.0.1"},
			{"--config", good, "ban", "--jail", "a", "--bantime", "soon", "192.0.2.1"},
			{"--config", filepath.Join(dir, "none.yaml"), "scan"},
			{"--config", good, "frobnicate"},
			{"--config", good, "scan", "--no-such-flag"},
			{"--config", portTypo, "check"},
		} {
			if code, _, stderr := runCLI(t, args...); code != 2 {
				t.Errorf("%v: exit %d, want 2; stderr %s", args, code, stderr)
			}
		}
	})
}

// TestBanUnbanFlush drives the manual commands against the live firewall of a namespace.
func TestBanUnbanFlush(t *testing.T) {
	netnstest.Isolate(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	write(t, filepath.Join(dir, "mail.log"), "")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+filepath.Join(dir, "mail.log")+"]\n    bantime: 1h\n  other:\n    filter: postfix-sasl\n    logpath: ["+filepath.Join(dir, "mail.log")+"]\n    blocktype: DROP\n    port: all\n")
	now := []string{"--config", cfg, "--now", "1755297300"}
	cli := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCLI(t, append(now, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	cli("ban", "--jail", "postfix-sasl", "192.0.2.7", "2001:db8::7")
	cli("ban", "--jail", "other", "--bantime", "-1", "192.0.2.7")
	checkChain(t, 0, "f2b-postfix-sasl", []string{"192.0.2.7", "2001:db8::7"})
	checkChain(t, 0, "f2b-other", []string{"192.0.2.7"})
	if out := cli("status", "postfix-sasl"); !strings.Contains(out, "Total banned:\t2") {
		t.Errorf("manual bans must count in Total banned:\n%s", out)
	}
	live, _ := exec.Command("iptables", "-S").CombinedOutput()
	if !strings.Contains(string(live), "-A f2b-other -s 192.0.2.7/32 -j DROP") || !strings.Contains(string(live), "-A INPUT -p tcp -j f2b-other") {
		t.Errorf("DROP / port all layout:\n%s", live)
	}
	if out := cli("unban", "192.0.2.7"); !strings.Contains(out, "[postfix-sasl] Unban 192.0.2.7") || !strings.Contains(out, "[other] Unban 192.0.2.7") {
		t.Errorf("unban in every jail:\n%s", out)
	}
	checkChain(t, 0, "f2b-postfix-sasl", []string{"2001:db8::7"})
	checkChain(t, 0, "f2b-other", nil)
	cli("flush")
	if live, _ := exec.Command("iptables", "-S").CombinedOutput(); strings.Contains(string(live), "f2b-") {
		t.Errorf("flush left rules:\n%s", live)
	}
	cli("scan") // the next scan restores the chains from the state
	checkChain(t, 0, "f2b-postfix-sasl", []string{"2001:db8::7"})
	cli("unban", "--all")
	checkChain(t, 0, "f2b-postfix-sasl", nil)

	// A jail removed from the config loses its chain at the next scan.
	cli("ban", "--jail", "other", "192.0.2.8")
	checkChain(t, 0, "f2b-other", []string{"192.0.2.8"})
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+filepath.Join(dir, "mail.log")+"]\n")
	cli("scan")
	if live, _ := exec.Command("iptables", "-S").CombinedOutput(); strings.Contains(string(live), "f2b-other") {
		t.Errorf("the removed jail's chain is still there:\n%s", live)
	}
}

func TestRegexJournal(t *testing.T) {
	journaltest.Require(t)
	jr := journaltest.New(t)
	at := time.Date(2026, 8, 15, 22, 34, 53, 0, time.UTC)
	jr.Append(t,
		journaltest.Entry{Realtime: at, Hostname: "mx1", Identifier: "postfix/smtpd", PID: 950, Unit: "postfix.service",
			Message: "warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"},
		journaltest.Entry{Realtime: at.Add(time.Second), Hostname: "mx1", Identifier: "postfix/smtpd", PID: 950, Unit: "postfix.service",
			Message: "connect from unknown[192.0.2.8]"},
		journaltest.Entry{Realtime: at.Add(2 * time.Second), Hostname: "mx1", Identifier: "postfix/smtpd", PID: 951, Unit: "other.service",
			Message: "warning: unknown[192.0.2.9]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"},
	)
	code, out, stderr := runCLI(t, "regex", "--json", "--journal-directory", jr.Dir, "--journalmatch", "_SYSTEMD_UNIT=postfix.service", "postfix-sasl")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r regexResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Lines != 2 || r.Matched != 1 || len(r.Matches) != 1 || r.Matches[0].Host != "192.0.2.7" || r.Matches[0].Time != at.Unix() {
		t.Errorf("got %+v", r)
	}
}

// TestBadLogInput: binary garbage, NUL bytes, invalid UTF-8, a 100 KB line and a truncated
// gzip file neither crash a run nor lose the good lines around them.
func TestBadLogInput(t *testing.T) {
	netnstest.Isolate(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n    maxretry: 100\n")
	fail := func(ip string) string {
		return "Aug 15 22:34:53 mx1 postfix/smtpd[1]: warning: unknown[" + ip + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n"
	}
	var good, rotated strings.Builder
	rotated.WriteString(fail("192.0.2.1"))
	rotated.WriteString("\x00\x01\x02\xff\xfe garbage \x00\n")
	rotated.WriteString(fail("192.0.2.2"))
	// The truncated gzip: first run reads it whole as mail.log; then it is rotated and compressed,
	// and the compressed copy is cut short — its lines were read already, nothing is lost.
	good.WriteString("Aug 15 22:34:53 mx\xc3\x28 postfix/smtpd[1]: warning: unknown[192.0.2.3]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n")
	good.WriteString("Aug 15 22:34:53 mx1 postfix/smtpd[1]: warning: \xc3\x28 invalid utf-8 and a NUL \x00 byte\n")
	good.WriteString(strings.Repeat("x", 100<<10) + "\n")
	good.WriteString(fail("192.0.2.4"))
	good.WriteString(fail("192.0.2.5"))
	write(t, logPath, rotated.String())
	now := []string{"--config", cfg, "--now", "2026-08-15T22:35:00Z"}
	if code, _, stderr := runCLI(t, append(now, "scan")...); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	// Rotate with compression, the .gz written truncated; then the new log gets the rest.
	gzipFile(t, logPath, logPath+".1.gz")
	gz, _ := os.ReadFile(logPath + ".1.gz")
	write(t, logPath+".1.gz", string(gz[:len(gz)-12]))
	write(t, logPath, good.String())
	code, _, stderr := runCLI(t, append(now, "scan")...)
	if code != 1 || !strings.Contains(stderr, "mail.log.1.gz at offset") {
		t.Fatalf("second run: exit %d, the error must name the gzip file: %s", code, stderr)
	}
	if !strings.Contains(stderr, "cut") {
		t.Errorf("the long line should be reported as cut: %s", stderr)
	}
	_, out, _ := runCLI(t, append(now, "status", "--json")...)
	var st struct {
		Jails map[string]jailStatus `json:"jails"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	// 192.0.2.1 and .2 from the first run, .3, .4 and .5 from the second.
	if got := st.Jails["postfix-sasl"].TotalFailed; got != 5 {
		t.Errorf("total failed %d, want 5\n%s", got, stderr)
	}
}

// TestJournalFailureKeepsOtherJails: a journal jail that cannot be read is an error for that
// jail (exit 1); the file jail beside it still counts, and the state is saved.
func TestJournalFailureKeepsOtherJails(t *testing.T) {
	netnstest.Isolate(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	write(t, logPath, "Aug 15 22:34:53 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x\n")
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  j:\n    filter: postfix-sasl\n    backend: journal\n    journal_directory: "+filepath.Join(dir, "no-such-journal")+"\n  f:\n    filter: postfix-sasl\n    logpath: ["+logPath+"]\n")
	now := []string{"--config", cfg, "--now", "2026-08-15T22:35:00Z"}
	code, _, stderr := runCLI(t, append(now, "scan")...)
	if code != 1 || !strings.Contains(stderr, "[j] journal directory") || !strings.Contains(stderr, "no-such-journal") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if _, out, _ := runCLI(t, append(now, "status", "f")...); !strings.Contains(out, "Total failed:\t1") {
		t.Errorf("the file jail was not counted:\n%s", out)
	}
}
