package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/fail2bantest"
	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestBesideFail2ban: with a real fail2ban running a jail named like one of ours, that jail is
// an error for check and scan, and fail2ban's chain f2b-NAME is never touched by scan, ban or
// flush; our other jails work as usual. Once fail2ban is gone, the jail is ours again.
func TestBesideFail2ban(t *testing.T) {
	netnstest.Isolate(t)
	srv := fail2bantest.Start(t, "postfix-sasl", "sshd")
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	var lines strings.Builder
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&lines, "Aug 15 22:34:5%d mx1 postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x\n", i)
	}
	write(t, logPath, lines.String())
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\nfail2ban_socket: "+srv.Socket+`
jails:
  postfix-sasl:
    logpath: [`+logPath+`]
  mine:
    filter: postfix-sasl
    logpath: [`+logPath+`]
`)
	// fail2ban's own chain, as its iptables-multiport action makes it (this test server has no
	// actions, so the test writes it).
	for _, args := range [][]string{
		{"-N", "f2b-postfix-sasl"},
		{"-A", "f2b-postfix-sasl", "-s", "198.51.100.1/32", "-j", "REJECT", "--reject-with", "icmp-port-unreachable"},
		{"-A", "f2b-postfix-sasl", "-j", "RETURN"},
		{"-I", "INPUT", "-p", "tcp", "-m", "multiport", "--dports", "25,465,587", "-j", "f2b-postfix-sasl"},
	} {
		if out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("iptables %v: %v\n%s", args, err, out)
		}
	}
	theirs := func() string {
		t.Helper()
		out, err := exec.Command("iptables", "-w", "-S", "f2b-postfix-sasl").CombinedOutput()
		if err != nil {
			t.Fatalf("fail2ban's chain is gone: %v\n%s", err, out)
		}
		return string(out)
	}
	before := theirs()
	now := []string{"--config", cfg, "--now", "2026-08-15T22:40:00Z"}

	code, _, stderr := runCLI(t, append(now, "check")...)
	if code != 2 || !strings.Contains(stderr, cfg+": jail postfix-sasl: the fail2ban running at "+srv.Socket) {
		t.Errorf("check: exit %d, want 2:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, append(now, "scan")...)
	if code != 1 || !strings.Contains(stderr, "ERROR   jail postfix-sasl: the fail2ban running at") {
		t.Errorf("scan: exit %d, want 1:\n%s", code, stderr)
	}
	checkChain(t, 0, "f2b-mine", []string{"192.0.2.7"})
	if code, _, stderr := runCLI(t, append(now, "ban", "--jail", "postfix-sasl", "203.0.113.9")...); code != 2 {
		t.Errorf("ban in fail2ban's jail: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, append(now, "unban", "--all")...); code != 0 {
		t.Errorf("unban --all: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, append(now, "flush")...); code != 0 {
		t.Errorf("flush: exit %d: %s", code, stderr)
	}
	if after := theirs(); after != before {
		t.Errorf("fail2ban's chain changed:\n%s\nwas\n%s", after, before)
	}
	if out, _ := exec.Command("iptables", "-w", "-S", "INPUT").CombinedOutput(); !strings.Contains(string(out), "-j f2b-postfix-sasl") {
		t.Errorf("fail2ban's jump is gone:\n%s", out)
	}

	srv.Kill(t) // fail2ban stopped (its socket file stays, as after a crash): the name is ours
	if code, out, stderr := runCLI(t, append(now, "check")...); code != 0 {
		t.Errorf("check without fail2ban: exit %d\n%s%s", code, out, stderr)
	}
	if code, _, stderr := runCLI(t, append(now, "scan")...); code != 0 {
		t.Errorf("scan without fail2ban: exit %d: %s", code, stderr)
	}
	checkChain(t, 0, "f2b-postfix-sasl", []string{"192.0.2.7"})
}
