package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestNeverBanned: with a config's own ignoreip (which no longer holds loopback), neither log
// lines nor `ban` can ban loopback, the unspecified, broadcast and multicast addresses (mapped
// forms included) or, with ignoreself (the default), the host's own addresses. They used to be
// banned, and the jump sits above `-i lo -j ACCEPT`.
func TestNeverBanned(t *testing.T) {
	netnstest.Isolate(t)
	if out, err := exec.Command("ip", "addr", "add", "192.0.2.50/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Skipf("ip addr add (iproute2): %v %s", err, out)
	}
	defer exec.Command("ip", "addr", "del", "192.0.2.50/32", "dev", "lo").Run()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	protected := []string{"127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::", "255.255.255.255", "224.0.0.1", "ff02::1", "::ffff:224.0.0.5", "192.0.2.50"}
	var lines strings.Builder
	for _, ip := range append(protected, "198.51.100.9") {
		for i := 0; i < 5; i++ {
			fmt.Fprintf(&lines, "Aug 15 22:34:5%d mx1 postfix/smtpd[1]: warning: unknown[%s]: SASL LOGIN authentication failed: x\n", i, ip)
		}
	}
	write(t, logPath, lines.String())
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n    ignoreip: [10.0.0.0/8]\n  other:\n    filter: postfix-sasl\n    logpath: ["+logPath+"]\n    ignoreself: false\n    port: all\n")
	now := []string{"--config", cfg, "--now", "2026-08-15T22:40:00Z"}
	code, _, stderr := runCLI(t, append(now, "scan", "--jail", "postfix-sasl")...)
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	checkChain(t, 0, "f2b-postfix-sasl", []string{"198.51.100.9"})
	for _, want := range []string{"Ignore 127.0.0.1: a loopback address is never banned", "Ignore 255.255.255.255: the broadcast address is never banned", "Ignore 192.0.2.50 by ip"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}
	_, out, _ := runCLI(t, append(now, "status", "--json", "postfix-sasl")...)
	if !strings.Contains(out, `"total_failed": 5,`) {
		t.Errorf("only the one real client counts:\n%s", out)
	}
	for _, ip := range protected {
		code, _, stderr := runCLI(t, append(now, "ban", "--jail", "postfix-sasl", ip)...)
		if code != 2 || !strings.Contains(stderr, "nothing changed") {
			t.Errorf("ban %s: exit %d: %s", ip, code, stderr)
		}
	}
	checkChain(t, 0, "f2b-postfix-sasl", []string{"198.51.100.9"})
	// With ignoreself: false the host's own address can be banned by hand; loopback still not.
	if code, _, stderr := runCLI(t, append(now, "ban", "--jail", "other", "192.0.2.50")...); code != 0 {
		t.Errorf("ban of the host's address with ignoreself: false: exit %d: %s", code, stderr)
	}
	if code, _, _ := runCLI(t, append(now, "ban", "--jail", "other", "127.0.0.1")...); code != 2 {
		t.Errorf("ban of loopback with ignoreself: false: exit %d", code)
	}
}

// TestBreaker: a run bans at most max_new_bans_per_run addresses per jail; the rest are held
// (their failures kept), the run says which filter and exits 1. The next run with new failures
// of a held address bans it.
func TestBreaker(t *testing.T) {
	netnstest.Isolate(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	var lines strings.Builder
	for n := 1; n <= 6; n++ {
		for i := 0; i < 3; i++ {
			fmt.Fprintf(&lines, "Aug 15 22:30:%02d mx1 postfix/smtpd[1]: warning: unknown[198.51.100.%d]: SASL LOGIN authentication failed: x\n", n*3+i, n)
		}
	}
	write(t, logPath, lines.String())
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n    maxretry: 3\n    max_new_bans_per_run: 4\n")
	code, _, stderr := runCLI(t, "--config", cfg, "--now", "2026-08-15T22:31:00Z", "scan")
	if code != 1 || !strings.Contains(stderr, "2 addresses reached maxretry but were not banned: max_new_bans_per_run is 4 (filter postfix-sasl)") ||
		!strings.Contains(stderr, "ERROR   [postfix-sasl] 198.51.100.5 reached maxretry") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
	checkChain(t, 0, "f2b-postfix-sasl", []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"})
	write(t, logPath, lines.String()+"Aug 15 22:31:30 mx1 postfix/smtpd[1]: warning: unknown[198.51.100.6]: SASL LOGIN authentication failed: x\n")
	if code, _, stderr := runCLI(t, "--config", cfg, "--now", "2026-08-15T22:32:00Z", "scan"); code != 0 {
		t.Errorf("next run: exit %d: %s", code, stderr)
	}
	checkChain(t, 0, "f2b-postfix-sasl", []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.6"})
}
