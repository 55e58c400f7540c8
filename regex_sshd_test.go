package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestRegexSSHDConnections: regex follows sshd's connections over the lines of a run
// (rules.Session) as fail2ban-regex 1.0.2 does: a failure without an address takes the one
// of another line of its connection, Accepted forgets, pam_unix counts from the second user.
func TestRegexSSHDConnections(t *testing.T) {
	const log = "testdata/sshd-connections.log"
	want := "192.0.2.10\n192.0.2.11\n192.0.2.12\n192.0.2.13\n192.0.2.15\n"
	code, got, stderr := runCLI(t, "--now", "2026-08-15T22:40:00Z", "regex", "-o", "ip", log, "sshd")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got != want {
		t.Errorf("regex -o ip:\ngot:\n%s\nwant:\n%s", got, want)
	}
	const conf = "/etc/fail2ban/filter.d/sshd.conf"
	if _, err := os.Stat(conf); err != nil {
		t.Skipf("fail2ban's filters not installed: %v", err)
	}
	if theirs := fail2banRegex(t, "-o", "ip", log, conf); theirs != want {
		t.Errorf("fail2ban-regex -o ip:\n%s\nwant:\n%s", theirs, want)
	}
}

// TestScanSSHDConnections: scan counts the failures that sshd's connection memory finds.
func TestScanSSHDConnections(t *testing.T) {
	netnstest.Isolate(t) // the dry run reads the firewall
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.yaml")
	logPath, err := filepath.Abs("testdata/sshd-connections.log")
	if err != nil {
		t.Fatal(err)
	}
	write(t, conf, "state: "+filepath.Join(dir, "state.json")+"\njails:\n  sshd:\n    filter: sshd\n    maxretry: 9\n    logpath: ["+logPath+"]\n")
	code, _, stderr := runCLI(t, "--config", conf, "--now", "2026-08-15T22:40:00Z", "scan", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, a := range []string{"192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13", "192.0.2.15"} {
		if !strings.Contains(stderr, "[sshd] Found "+a+" ") {
			t.Errorf("stderr lacks Found %s:\n%s", a, stderr)
		}
	}
	for _, a := range []string{"192.0.2.14", "192.0.2.16"} {
		if strings.Contains(stderr, "Found "+a) {
			t.Errorf("%s found:\n%s", a, stderr)
		}
	}
}
