package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestNFTablesCache: a scan with banaction nftables keeps the table it left beside the state
// (STATE.nft); the next scan with nothing new does not list the table (nft runs through a
// logging script first in PATH; the run writes the table itself, over netlink) and notes in the cache the bans it found there, so that the
// one after runs no nft at all; a set flushed by hand is listed and healed by the next scan,
// bans that end leave the set, a dry run does not write the cache, and flush removes it with
// the table.
func TestNFTablesCache(t *testing.T) {
	requireCommand(t, "nft", "FAIL2BAN_SCAN_REQUIRE_NFT")
	netnstest.Isolate(t)
	nft, err := exec.LookPath("nft")
	if err != nil {
		nft = "/usr/sbin/nft"
	}
	dir := t.TempDir()
	calls, bin := filepath.Join(dir, "calls"), filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(bin, "nft"), "#!/bin/sh\necho \"$*\" >> "+calls+"\nexec "+nft+" \"$@\"\n")
	if err := os.Chmod(filepath.Join(bin, "nft"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	logPath, state := filepath.Join(dir, "mail.log"), filepath.Join(dir, "s.json")
	fail := func(ip string) string {
		return "Aug 15 22:34:53 mx1 postfix/smtpd[1]: warning: unknown[" + ip + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n"
	}
	write(t, logPath, fail("192.0.2.7")+fail("198.51.100.9"))
	cfg := filepath.Join(dir, "c.yaml")
	other := filepath.Join(dir, "other.log")
	write(t, other, "")
	write(t, cfg, "state: "+state+"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n    maxretry: 1\n    bantime: 1h\n    banaction: nftables\n"+
		"  other:\n    filter: postfix-sasl\n    logpath: ["+other+"]\n    banaction: nftables\n")
	ran := func() string {
		b, _ := os.ReadFile(calls)
		os.Remove(calls)
		return string(b)
	}
	listed := func() bool { return strings.Contains(ran(), "list table") }
	minute := 0
	scan := func(args ...string) {
		t.Helper()
		minute++
		now := []string{"--config", cfg, "--now", fmt.Sprintf("2026-08-15T22:%02d:00Z", 40+minute)}
		if code, _, stderr := runCLI(t, append(now, args...)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	elements := func() string {
		t.Helper()
		out, err := exec.Command(nft, "list", "set", "inet", "fail2ban-scan", "f2b-postfix-sasl-v4").CombinedOutput()
		if err != nil {
			return err.Error() + ": " + string(out)
		}
		return string(out)
	}
	banned := func(what string) {
		t.Helper()
		if set := elements(); !strings.Contains(set, "192.0.2.7") || !strings.Contains(set, "198.51.100.9") {
			t.Errorf("%s: the set lacks a ban:\n%s", what, set)
		}
	}
	cache := state + ".nft"

	scan("scan")
	if !listed() {
		t.Error("the first scan did not list the table")
	}
	banned("first scan")
	if b, err := os.ReadFile(cache); err != nil || !strings.HasPrefix(string(b), "# fail2ban-scan: table inet fail2ban-scan at nftables generation ") {
		t.Fatalf("no cache beside the state: %v %q", err, b)
	}
	scan("scan")
	if listed() {
		t.Error("a scan with nothing new listed the table")
	}
	// That scan found the table it was asked for: the cache now names the input (the bans
	// left as text in the sealed state), and the next scan with nothing new runs no nft.
	if b, _ := os.ReadFile(cache); !strings.Contains(string(b), "\n# input ") {
		t.Errorf("the cache names no input after a scan with nothing new:\n%.300s", b)
	}
	scan("scan")
	if calls := ran(); calls != "" {
		t.Errorf("a second scan with nothing new ran nft: %q", calls)
	}
	banned("second scan with nothing new")
	if out, err := exec.Command(nft, "flush", "set", "inet", "fail2ban-scan", "f2b-postfix-sasl-v4").CombinedOutput(); err != nil {
		t.Fatalf("nft flush set: %v: %s", err, out)
	}
	scan("scan")
	if !listed() {
		t.Error("the scan after a set was flushed by hand did not list the table")
	}
	banned("the scan after the flush by hand")
	scan("scan")
	if calls := ran(); calls != "" {
		t.Errorf("a scan with nothing new after the heal ran nft: %q", calls)
	}
	// The bans end at 23:34:53. A scan of the other jail only leaves them in the state (it
	// does not scan their jail) but not in the set; the scan of every jail lifts them.
	for _, args := range [][]string{{"scan", "--jail", "other"}, {"scan"}} {
		if code, _, stderr := runCLI(t, append([]string{"--config", cfg, "--now", "2026-08-15T23:35:00Z"}, args...)...); code != 0 {
			t.Fatalf("%v after the bans' end: exit %d: %s", args, code, stderr)
		}
		if set := elements(); strings.Contains(set, "192.0.2.7") || strings.Contains(set, "198.51.100.9") {
			t.Errorf("%v: the bans that ended are still in the set:\n%s", args, set)
		}
	}

	// Bans that end in a quiet minute: cut out of the state's text, and deleted from the
	// set without listing it (TestNFTCacheInput checks that the others are not loaded).
	appendFile(t, logPath, strings.ReplaceAll(fail("203.0.113.7")+fail("203.0.113.8"), "22:34:53", "23:40:00"))
	for _, now := range []string{"23:41", "23:42", "23:43"} { // bans; the sum noted; nothing at all
		if code, _, stderr := runCLI(t, "--config", cfg, "--now", "2026-08-15T"+now+":00Z", "scan"); code != 0 {
			t.Fatalf("scan at %s: exit %d: %s", now, code, stderr)
		}
	}
	if set := elements(); !strings.Contains(set, "203.0.113.7") || !strings.Contains(set, "203.0.113.8") {
		t.Fatalf("the new bans are not in the set:\n%s", set)
	}
	ran()
	// The cache's first line names the generation the run left: one more than before is one
	// transaction (written by the run itself, over netlink).
	generation := func() string {
		b, _ := os.ReadFile(cache)
		_, g, _ := strings.Cut(string(b), " at nftables generation ")
		g, _, _ = strings.Cut(g, ",")
		return g
	}
	before := generation()
	if code, _, stderr := runCLI(t, "--config", cfg, "--now", "2026-08-16T00:45:00Z", "scan"); code != 0 {
		t.Fatalf("scan after the new bans' end: exit %d: %s", code, stderr)
	}
	var b, a int
	fmt.Sscan(before, &b)
	fmt.Sscan(generation(), &a)
	if calls := ran(); calls != "" || a != b+1 {
		t.Errorf("the bans that ended in a quiet minute: nft ran %q, generation %d to %d: want one transaction and no listing", calls, b, a)
	}
	if set := elements(); strings.Contains(set, "203.0.113.7") || strings.Contains(set, "203.0.113.8") {
		t.Errorf("the bans that ended in a quiet minute are still in the set:\n%s", set)
	}

	if err := os.Remove(cache); err != nil {
		t.Fatal(err)
	}
	scan("scan", "--dry-run")
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("the dry run wrote the cache: %v", err)
	}
	scan("flush")
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("flush left the cache: %v", err)
	}
	if out, err := exec.Command(nft, "list", "table", "inet", "fail2ban-scan").CombinedOutput(); err == nil {
		t.Errorf("flush left the table:\n%s", out)
	}
}
