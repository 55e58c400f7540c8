package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestIPSetBansAsText: with banaction ipset, the scans after the first load a sealed state whose
// bans stay the text they were read from, and hand the set their prefixes from that text
// (state.Jail.EachBan, not a map of them): a scan with nothing new keeps the set as it is; a
// set flushed by hand is healed by the next; bans that end leave it while a new one comes in,
// in the same minute.
func TestIPSetBansAsText(t *testing.T) {
	requireCommand(t, "ipset", "FAIL2BAN_SCAN_REQUIRE_IPSET")
	netnstest.Isolate(t)
	dir := t.TempDir()
	logPath, state, cfg := filepath.Join(dir, "mail.log"), filepath.Join(dir, "s.json"), filepath.Join(dir, "c.yaml")
	fail := func(at, ip string) string {
		return "Aug 15 " + at + " mx1 postfix/smtpd[1]: warning: unknown[" + ip + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n"
	}
	write(t, logPath, fail("22:34:53", "192.0.2.7")+fail("22:34:54", "198.51.100.9"))
	write(t, cfg, "state: "+state+"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n    maxretry: 1\n    bantime: 1h\n    banaction: ipset\n")
	scan := func(now string) {
		t.Helper()
		if code, _, stderr := runCLI(t, "--config", cfg, "--now", "2026-08-15T"+now+":00Z", "scan"); code != 0 {
			t.Fatalf("scan at %s: exit %d: %s", now, code, stderr)
		}
	}
	members := func() []string {
		t.Helper()
		out, err := exec.Command("ipset", "list", "f2b-postfix-sasl").CombinedOutput()
		if err != nil {
			t.Fatalf("ipset list: %v: %s", err, out)
		}
		_, list, _ := strings.Cut(string(out), "Members:\n")
		return strings.Fields(list)
	}
	want := func(when string, ips ...string) {
		t.Helper()
		got := members()
		if len(got) != len(ips) {
			t.Fatalf("%s: members %v, want %v", when, got, ips)
		}
		for _, ip := range ips {
			if !strings.Contains(" "+strings.Join(got, " ")+" ", " "+ip+" ") {
				t.Fatalf("%s: members %v, want %v", when, got, ips)
			}
		}
	}

	scan("22:40")
	want("first scan", "192.0.2.7", "198.51.100.9")
	scan("22:41") // the state is sealed now: the bans are left as text from here on
	want("nothing new", "192.0.2.7", "198.51.100.9")
	if out, err := exec.Command("ipset", "flush", "f2b-postfix-sasl").CombinedOutput(); err != nil {
		t.Fatalf("ipset flush: %v: %s", err, out)
	}
	scan("22:42")
	want("the scan after a flush by hand", "192.0.2.7", "198.51.100.9")
	// 23:35: both bans are over, a new one comes in the same minute.
	appendFile(t, logPath, fail("23:34:30", "203.0.113.8"))
	scan("23:35")
	want("bans that ended and a new one", "203.0.113.8")
}
