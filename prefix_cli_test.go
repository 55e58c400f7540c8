package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// liveSources returns the -s values of chain's rules in both families, sorted, as iptables
// prints them ("203.0.113.0/24", "192.0.2.7/32", "2001:db8::/64").
func liveSources(t *testing.T, chain string) []string {
	t.Helper()
	var got []string
	for _, bin := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(bin, "-w", "-S", chain).CombinedOutput()
		if err != nil {
			t.Fatalf("%s -S %s: %v\n%s", bin, chain, err, out)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(l); len(f) > 3 && f[2] == "-s" {
				got = append(got, f[3])
			}
		}
	}
	slices.Sort(got)
	return got
}

// statusBans returns jail's bans from status --json.
func statusBans(t *testing.T, args []string, jail string) []banStatus {
	t.Helper()
	code, out, stderr := runCLI(t, append(args, "status", "--json")...)
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr)
	}
	var st struct {
		Jails map[string]jailStatus `json:"jails"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st.Jails[jail].Banned
}

// TestSubnetBanUnban drives subnet bans through ban, unban, status and scan against the live
// firewall of a namespace.
func TestSubnetBanUnban(t *testing.T) {
	netnstest.Isolate(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	write(t, logPath, "")
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n"+
		"    bantime: 1h\n    ignoreip: [127.0.0.0/8, 198.51.100.200]\n    subnet: {ipv4: 24, ipv6: 64, min_ips: 3}\n")
	const now = 1755297300
	at := func(t0 int64) []string { return []string{"--config", cfg, "--now", strconv.FormatInt(t0, 10)} }
	cli := func(t0 int64, args ...string) (string, string) {
		t.Helper()
		code, out, stderr := runCLI(t, append(at(t0), args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		return out, stderr
	}
	refused := func(t0 int64, want string, args ...string) {
		t.Helper()
		code, out, stderr := runCLI(t, append(at(t0), args...)...)
		if code != 2 || !strings.Contains(stderr, want) {
			t.Fatalf("%v: exit %d, want 2 and %q\nstdout %s\nstderr %s", args, code, want, out, stderr)
		}
	}
	ban := []string{"ban", "--jail", "postfix-sasl"}
	chain := "f2b-postfix-sasl"

	// Two members: two rules. The third, banned for longer, bans the /24, for as long as it.
	cli(now, append(ban, "203.0.113.1", "203.0.113.2")...)
	if got := liveSources(t, chain); !slices.Equal(got, []string{"203.0.113.1/32", "203.0.113.2/32"}) {
		t.Fatalf("two members: %q", got)
	}
	out, _ := cli(now+60, append(ban, "--bantime", "2h", "203.0.113.3")...)
	if !strings.Contains(out, "[postfix-sasl] Ban 203.0.113.3 (") || !strings.Contains(out, "[postfix-sasl] Ban 203.0.113.0/24 (prefix of 3 banned addresses") {
		t.Errorf("ban of the third member:\n%s", out)
	}
	if got := liveSources(t, chain); !slices.Equal(got, []string{"203.0.113.0/24"}) {
		t.Fatalf("the prefix replaces its members: %q", got)
	}
	if out, _ := cli(now+60, "status", "postfix-sasl"); !strings.Contains(out, "Currently banned:\t1\n") || !strings.Contains(out, "Total banned:\t4\n") ||
		!strings.Contains(out, "Banned IP list:\t203.0.113.0/24\n") {
		t.Errorf("status: three addresses and the prefix banned, the prefix in force:\n%s", out)
	}
	want := []banStatus{{IP: "203.0.113.0/24", Start: now + 60, End: now + 60 + 7200, Prefix: true}}
	if got := statusBans(t, at(now+60), "postfix-sasl"); !slices.Equal(got, want) {
		t.Errorf("status: %+v, want %+v", got, want)
	}

	// A member cannot be unbanned while its prefix is banned; nothing changes.
	refused(now+120, "jail postfix-sasl: 203.0.113.2 is inside the banned prefix 203.0.113.0/24: unban 203.0.113.0/24 to lift it", "unban", "203.0.113.2")
	if got := liveSources(t, chain); !slices.Equal(got, []string{"203.0.113.0/24"}) {
		t.Fatalf("after the refused unban: %q", got)
	}

	// Members with different ends: the first two end after 1 h, the prefix stays until the 2 h.
	out, stderr := cli(now+3660, "scan")
	if !strings.Contains(stderr, "Unban 203.0.113.1") || !strings.Contains(stderr, "Unban 203.0.113.2") || strings.Contains(stderr, "Unban 203.0.113.0/24") {
		t.Errorf("scan after 1 h:\n%s%s", out, stderr)
	}
	if got := liveSources(t, chain); !slices.Equal(got, []string{"203.0.113.0/24"}) {
		t.Fatalf("after the short members ended: %q", got)
	}
	_, stderr = cli(now+60+7200, "scan")
	if !strings.Contains(stderr, "Unban 203.0.113.0/24") || !strings.Contains(stderr, "Unban 203.0.113.3") {
		t.Errorf("scan after 2 h:\n%s", stderr)
	}
	if got := liveSources(t, chain); len(got) != 0 {
		t.Fatalf("after the longest member ended: %q", got)
	}

	// unban PREFIX lifts the prefix and its members.
	t1 := int64(now + 8000)
	cli(t1, append(ban, "203.0.113.7", "203.0.113.8", "203.0.113.9", "192.0.2.1")...)
	if got := liveSources(t, chain); !slices.Equal(got, []string{"192.0.2.1/32", "203.0.113.0/24"}) {
		t.Fatalf("second prefix: %q", got)
	}
	out, _ = cli(t1, "unban", "203.0.113.0/24")
	for _, w := range []string{"Unban 203.0.113.0/24\n", "Unban 203.0.113.7\n", "Unban 203.0.113.8\n", "Unban 203.0.113.9\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("unban of the prefix lacks %q:\n%s", w, out)
		}
	}
	if got := liveSources(t, chain); !slices.Equal(got, []string{"192.0.2.1/32"}) {
		t.Fatalf("after unban of the prefix: %q", got)
	}

	// ignoreip wins: members stay one by one, the log says why; a prefix over it is refused.
	_, stderr = cli(t1, append(ban, "198.51.100.1", "198.51.100.2", "198.51.100.3")...)
	if !strings.Contains(stderr, "198.51.100.0/24 not banned as a prefix: it overlaps ignoreip 198.51.100.200/32; its 3 banned addresses stay banned one by one") {
		t.Errorf("no log of the refused prefix:\n%s", stderr)
	}
	if got := liveSources(t, chain); !slices.Equal(got, []string{"192.0.2.1/32", "198.51.100.1/32", "198.51.100.2/32", "198.51.100.3/32"}) {
		t.Fatalf("ignoreip inside the prefix: %q", got)
	}
	refused(t1, "198.51.100.0/24 overlaps 198.51.100.200/32 of the ignoreip of jail postfix-sasl: not banned", append(ban, "198.51.100.0/24")...)
	refused(t1, "192.0.2.5/24 has host bits set: did you mean 192.0.2.0/24?", append(ban, "192.0.2.5/24")...)
	refused(t1, "10.0.0.0/7 is wider than /8: not banned", append(ban, "10.0.0.0/7")...)

	// ban PREFIX by hand: one rule, its member's rule goes; status says it is a prefix.
	out, _ = cli(t1, append(ban, "192.0.2.0/24")...)
	if !strings.Contains(out, "[postfix-sasl] Ban 192.0.2.0/24 (") {
		t.Errorf("ban of a prefix:\n%s", out)
	}
	if got := liveSources(t, chain); !slices.Equal(got, []string{"192.0.2.0/24", "198.51.100.1/32", "198.51.100.2/32", "198.51.100.3/32"}) {
		t.Fatalf("manual prefix: %q", got)
	}
	if got := statusBans(t, at(t1), "postfix-sasl"); len(got) != 4 || got[0] != (banStatus{IP: "192.0.2.0/24", Start: t1, End: t1 + 3600, Count: 1, Prefix: true}) || got[1].Prefix {
		t.Errorf("status: %+v", got)
	}
	cli(t1, "unban", "--all")
	if got := liveSources(t, chain); len(got) != 0 {
		t.Fatalf("after unban --all: %q", got)
	}
}

// TestIPv6PrefixScan: five failures from five addresses of one /64 ban the /64.
func TestIPv6PrefixScan(t *testing.T) {
	netnstest.Isolate(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	var log strings.Builder
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3", "2001:db8:1:2::4", "2001:db8:1:2:abcd::5", "2001:db8:1:3::1"} {
		log.WriteString("2026-08-15T22:34:5" + strconv.Itoa(i) + "+00:00 mx1 postfix/smtpd[1]: warning: unknown[" + ip + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n")
	}
	write(t, logPath, log.String())
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n    ipv6_prefix: 64\n")
	args := []string{"--config", cfg, "--now", "2026-08-15T22:35:00Z"}
	code, _, stderr := runCLI(t, append(args, "scan")...)
	if code != 0 || !strings.Contains(stderr, "NOTICE  [postfix-sasl] Ban 2001:db8:1:2::/64") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := liveSources(t, "f2b-postfix-sasl"); !slices.Equal(got, []string{"2001:db8:1:2::/64"}) {
		t.Fatalf("live rules %q", got)
	}
	got := statusBans(t, args, "postfix-sasl")
	if len(got) != 1 || got[0].IP != "2001:db8:1:2::/64" || !got[0].Prefix {
		t.Errorf("status: %+v", got)
	}
	code, _, stderr = runCLI(t, append(args, "unban", "2001:db8:1:2::3")...)
	if code != 2 || !strings.Contains(stderr, "2001:db8:1:2::3 is inside the banned prefix 2001:db8:1:2::/64") {
		t.Errorf("unban of an address of the /64: exit %d: %s", code, stderr)
	}
	if code, out, stderr := runCLI(t, append(args, "unban", "2001:db8:1:2::/64")...); code != 0 || !strings.Contains(out, "[postfix-sasl] Unban 2001:db8:1:2::/64") {
		t.Errorf("unban of the /64: exit %d: %s%s", code, out, stderr)
	}
	if got := liveSources(t, "f2b-postfix-sasl"); len(got) != 0 {
		t.Errorf("live rules after unban %q", got)
	}
}
