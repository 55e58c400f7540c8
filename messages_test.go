package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/fw"
	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// buildBinary builds the command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fail2ban-scan")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestManualBanKeepsLonger: a second manual ban of a banned address keeps the longer ban, says
// "already banned" and counts nothing (it used to turn a permanent ban into 10 minutes and count
// it twice).
func TestManualBanKeepsLonger(t *testing.T) {
	netnstest.Isolate(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	write(t, filepath.Join(dir, "mail.log"), "")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+filepath.Join(dir, "mail.log")+"]\n")
	cli := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCLI(t, append([]string{"--config", cfg, "--now", "1755297300"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	cli("ban", "--jail", "postfix-sasl", "--bantime", "permanent", "203.0.113.5")
	out := cli("ban", "--jail", "postfix-sasl", "203.0.113.5")
	if !strings.Contains(out, "203.0.113.5 already banned (from 2025-08-15 22:35:00, permanent)") {
		t.Errorf("second ban: %s", out)
	}
	st := cli("status", "--json", "postfix-sasl")
	if !strings.Contains(st, `"total_banned": 1`) || !strings.Contains(st, `"end": -1`) {
		t.Errorf("status after two bans of one address:\n%s", st)
	}
	checkChain(t, 0, "f2b-postfix-sasl", []string{"203.0.113.5"})
}

// TestNotRoot: as a user who may not change the firewall, ban and flush say what failed instead
// of printing what did not happen.
func TestNotRoot(t *testing.T) {
	netnstest.Isolate(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) is missing")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	os.Chmod(filepath.Dir(dir), 0o755) // the test's own temporary directory
	os.Chmod(filepath.Dir(bin), 0o755)
	cfg := filepath.Join(dir, "c.yaml")
	write(t, filepath.Join(dir, "mail.log"), "")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+filepath.Join(dir, "mail.log")+"]\n")
	os.Chmod(cfg, 0o644)
	asNobody := func(args ...string) (int, string, string) {
		cmd := exec.Command("setpriv", append([]string{"--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", bin, "--config", cfg, "--now", "1755297300"}, args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
	code, out, stderr := asNobody("ban", "--jail", "postfix-sasl", "203.0.113.5")
	if code != 1 || !strings.Contains(out, "Ban 203.0.113.5") || !strings.Contains(out, "in the state only") ||
		!strings.Contains(stderr, "firewall was not changed") {
		t.Errorf("ban as nobody: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	code, out, stderr = asNobody("flush")
	if code != 1 || strings.Contains(out, "no changes") || !strings.Contains(out, "iptables: failed:") {
		t.Errorf("flush as nobody: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
}

// TestLogTimesFollowNow: under --now the log lines carry that time, as the README shows.
func TestLogTimesFollowNow(t *testing.T) {
	netnstest.Isolate(t)
	_, _, stderr := runCLI(t, "--config", "testdata/example.yaml", "--now", "2026-08-15T22:40:00Z", "scan", "--dry-run")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) < 5 {
		t.Fatalf("too few log lines:\n%s", stderr)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "2026-08-15 22:40:0") {
			t.Errorf("log line not at --now: %s", l)
		}
	}
}

func TestRegexEdges(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	write(t, log, "# a comment\n\nAug 15 22:34:53 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x\r\n   \n#\n")
	// fail2ban-regex 1.0.2 on this file: "Lines: 2 lines, 0 ignored, 1 matched, 1 missed".
	code, out, stderr := runCLI(t, "--now", "2026-08-15T22:40:00Z", "regex", log, "postfix-sasl")
	if code != 0 || !strings.Contains(out, "Lines: 2 lines, 0 ignored, 1 matched, 1 missed") {
		t.Errorf("exit %d: %s%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "--now", "2026-08-15T22:40:00Z", "regex", "--json", log, "postfix-sasl")
	if code != 0 || !strings.Contains(out, `"line": 3,`) {
		t.Errorf("line numbers count every line of the file: %s", out)
	}
	unsupported := filepath.Join(dir, "f.conf")
	write(t, unsupported, "[Definition]\nfailregex = ^<F-MLFID>x</F-MLFID> <HOST>$\n")
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  a:\n    filter: "+unsupported+"\n    logpath: ["+log+"]\n")
	for _, tt := range []struct {
		args []string
		want string // in the message
	}{
		{[]string{"regex", filepath.Join(dir, "missing.log"), "postfix-sasl"}, "missing.log"},
		{[]string{"regex", dir, "postfix-sasl"}, dir},
		{[]string{"regex", log, unsupported}, unsupported + ":2"},
		{[]string{"regex", log, "x <HOST> (?<=a)"}, "lookbehind"},
		{[]string{"regex", log, "x <DNS>"}, "x <DNS>"},
		{[]string{"--config", cfg, "scan", "--dry-run"}, cfg},
		{[]string{"--config", cfg, "check"}, cfg},
	} {
		if code, _, stderr := runCLI(t, tt.args...); code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d (want 2), stderr %s", tt.args, code, stderr)
		}
	}
}

// TestConfigNotes: the config in use is named, and a sibling with the other YAML extension,
// which is not read, is warned about.
func TestConfigNotes(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "config.yml")
	write(t, yml, "jails:\n  postfix-sasl:\n    logpath: [/x]\n")
	_, used, notes, err := loadConfig(filepath.Join(dir, "config.yaml"), false)
	if err != nil || used != embeddedConfig || len(notes) != 1 || !strings.Contains(notes[0], yml+" exists but is not read") {
		t.Errorf("used %q, notes %q, err %v", used, notes, err)
	}
	write(t, yml, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: [/x]\n")
	code, _, stderr := runCLI(t, "--config", yml, "status")
	if code != 0 || !strings.Contains(stderr, "INFO    config: "+yml) || strings.Contains(stderr, "is not read") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	write(t, filepath.Join(dir, "config.yaml"), "jails:\n  postfix-sasl:\n    logpath: [/x]\n")
	_, _, stderr = runCLI(t, "--config", yml, "check")
	if !strings.Contains(stderr, filepath.Join(dir, "config.yaml")+" exists but is not read") {
		t.Errorf("no warning about the sibling: %s", stderr)
	}
}

func TestChangesCount(t *testing.T) {
	p := &fw.Plan{Families: []fw.FamilyPlan{{Family: fw.IPv4, Ops: []string{"-N f2b-x"}}, {Family: fw.IPv6, Ops: []string{"-N f2b-x", "-X f2b-x"}}}}
	if got := planSummary(p); got != "iptables 1 change, ip6tables 2 changes" {
		t.Errorf("summary %q", got)
	}
	if got := p.String(); !strings.HasPrefix(got, "iptables: 1 change\n") {
		t.Errorf("plan %q", got)
	}
	p.Families[0].Failed = "iptables is nf_tables (/usr/sbin/iptables), but f2b-x is in legacy's filter table too"
	if got := planSummary(p); got != "iptables 1 change not applied, ip6tables 2 changes" {
		t.Errorf("summary with a failed family %q", got)
	}
}

// TestQuietNotice: a jail that reads lines for a day without a single match says so in status.
func TestQuietNotice(t *testing.T) {
	netnstest.Isolate(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n")
	quiet := "Aug 15 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.7]\n"
	fail := "Aug 16 10:00:00 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x\n"
	status := func(now string) string {
		t.Helper()
		_, out, _ := runCLI(t, "--config", cfg, "--now", now, "status", "postfix-sasl")
		return out
	}
	scan := func(now string) {
		t.Helper()
		if code, _, stderr := runCLI(t, "--config", cfg, "--now", now, "scan"); code != 0 {
			t.Fatalf("scan: exit %d: %s", code, stderr)
		}
	}
	write(t, logPath, quiet+quiet)
	scan("2026-08-15T10:01:00Z")
	if out := status("2026-08-16T10:00:00Z"); strings.Contains(out, "\nNotice: ") {
		t.Errorf("a notice before a day has passed:\n%s", out)
	}
	write(t, logPath, quiet+quiet+quiet)
	scan("2026-08-16T10:01:00Z")
	if out := status("2026-08-16T10:01:00Z"); !strings.Contains(out, "Notice: 3 lines read since 2026-08-15 10:01:00, and not one matched the filter") {
		t.Errorf("no notice after a day of unmatched lines:\n%s", out)
	}
	write(t, logPath, quiet+quiet+quiet+fail)
	scan("2026-08-16T10:02:00Z")
	if out := status("2026-08-17T10:02:00Z"); strings.Contains(out, "\nNotice: ") {
		t.Errorf("a notice after a match:\n%s", out)
	}
}
