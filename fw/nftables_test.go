package fw

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// These tests run the real nft (Debian 12's 1.0.6), each in a network
// namespace of its own (netnstest.Isolate).

// envRequireNFT set to 1 (as in CI) turns the skip where nft is missing into a failure.
const envRequireNFT = "FAIL2BAN_SCAN_REQUIRE_NFT"

// isolateNFT moves the test into a fresh network namespace and returns nft's path.
func isolateNFT(t testing.TB) string {
	t.Helper()
	path, err := nftPath("nft")
	if err != nil {
		if os.Getenv(envRequireNFT) == "1" {
			t.Fatalf("needs nft (%s=1): %v", envRequireNFT, err)
		}
		t.Skipf("needs nft: %v (apt-get install nftables; %s=1 makes this a failure)", err, envRequireNFT)
	}
	netnstest.Isolate(t)
	return path
}

// nftRun runs nft with args and returns its output.
func nftRun(t *testing.T, args ...string) string {
	t.Helper()
	path, err := nftPath("nft")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nftDump is our table as nft lists it, tabs as two spaces, or "" when it does not exist;
// see sortBlocks.
func nftDump(t *testing.T) string {
	t.Helper()
	path, _ := nftPath("nft")
	out, err := exec.Command(path, "list", "table", "inet", NFTTable).Output()
	if err != nil {
		return ""
	}
	return sortBlocks(strings.TrimSpace(strings.ReplaceAll(string(out), "\t", "  ")))
}

// sortBlocks sorts the objects of a table listing: nft lists them in the order they were
// created, and a set or chain recreated by a run moves to the end.
func sortBlocks(table string) string {
	head, body, ok := strings.Cut(table, "\n")
	if !ok {
		return table
	}
	blocks := strings.Split(strings.TrimSuffix(body, "\n}"), "\n\n")
	slices.Sort(blocks)
	return head + "\n" + strings.Join(blocks, "\n\n") + "\n}"
}

func nftJail(j Jail) Jail { j.Action = ActionNFTables; return j }

const nftSaslChain = `  chain f2b-sasl {
    type filter hook input priority filter - 1; policy accept;
    tcp dport { 25, 465, 587 } ip saddr @f2b-sasl-v4 reject with icmp port-unreachable
    tcp dport { 25, 465, 587 } ip6 saddr @f2b-sasl-v6 reject with icmpv6 port-unreachable
  }`

// nftSasl is the table of the sasl jail with the given v4 and v6 element lines ("" none).
func nftSasl(v4, v6 string) string {
	set := func(name, typ, elems string) string {
		s := "  set " + name + " {\n    type " + typ + "\n"
		if strings.Contains(elems, "/") { // an interval set only when it holds a prefix
			s += "    flags interval\n"
		}
		if elems != "" {
			s += "    elements = { " + elems + " }\n"
		}
		return s + "  }\n"
	}
	return sortBlocks("table inet fail2ban-scan {\n" + set("f2b-sasl-v4", "ipv4_addr", v4) + "\n" + set("f2b-sasl-v6", "ipv6_addr", v6) + "\n" + nftSaslChain + "\n}")
}

func TestNFTReconcile(t *testing.T) {
	tests := []struct {
		name   string
		before []Jail     // reconciled first, when not nil
		edit   [][]string // then these nft commands run
		jails  []Jail
		want   string // the table; "" = none
	}{
		{
			name:  "ban",
			jails: []Jail{nftJail(sasl("192.0.2.2", "192.0.2.1", "2001:db8::1"))},
			want:  nftSasl("192.0.2.1, 192.0.2.2", "2001:db8::1"),
		},
		{
			name:   "unban and ban",
			before: []Jail{nftJail(sasl("192.0.2.1", "192.0.2.2"))},
			jails:  []Jail{nftJail(sasl("192.0.2.1", "192.0.2.3"))},
			want:   nftSasl("192.0.2.1, 192.0.2.3", ""),
		},
		{
			name:   "a prefix replaces its members, widest wins",
			before: []Jail{nftJail(sasl("192.0.2.1", "192.0.2.200", "198.51.100.7"))},
			jails:  []Jail{nftJail(sasl("192.0.2.1", "192.0.2.0/24", "198.51.100.7", "198.51.100.0/25"))},
			want:   nftSasl("192.0.2.0/24, 198.51.100.0/25", ""),
		},
		{
			name:   "the last prefix goes: the set is a plain set again",
			before: []Jail{nftJail(sasl("192.0.2.0/24", "2001:db8::/64", "2001:db8:1::1"))},
			jails:  []Jail{nftJail(sasl("192.0.2.1", "2001:db8:1::1"))},
			want:   nftSasl("192.0.2.1", "2001:db8:1::1"),
		},
		{
			name:   "set flushed by hand is healed",
			before: []Jail{nftJail(sasl("192.0.2.1", "2001:db8::1"))},
			edit:   [][]string{{"flush", "set", "inet", NFTTable, "f2b-sasl-v4"}},
			jails:  []Jail{nftJail(sasl("192.0.2.1", "2001:db8::1"))},
			want:   nftSasl("192.0.2.1", "2001:db8::1"),
		},
		{
			name:   "chain and set deleted by hand are healed",
			before: []Jail{nftJail(sasl("192.0.2.1"))},
			edit: [][]string{
				{"delete", "chain", "inet", NFTTable, "f2b-sasl"},
				{"delete", "set", "inet", NFTTable, "f2b-sasl-v4"},
			},
			jails: []Jail{nftJail(sasl("192.0.2.1"))},
			want:  nftSasl("192.0.2.1", ""),
		},
		{
			name:   "element added by hand to a plain set is removed",
			before: []Jail{nftJail(sasl("192.0.2.1"))},
			edit:   [][]string{{"add", "element", "inet", NFTTable, "f2b-sasl-v4", "{", "10.0.0.9", "}"}},
			jails:  []Jail{nftJail(sasl("192.0.2.1"))},
			want:   nftSasl("192.0.2.1", ""),
		},
		{
			name:   "rule edited, foreign chain, set and element removed",
			before: []Jail{nftJail(sasl("192.0.2.1", "198.51.100.0/24"))},
			edit: [][]string{
				{"add", "rule", "inet", NFTTable, "f2b-sasl", "tcp", "dport", "143", "accept"},
				{"add", "chain", "inet", NFTTable, "other", "{", "type", "filter", "hook", "input", "priority", "0", ";", "}"},
				{"add", "rule", "inet", NFTTable, "other", "ip", "saddr", "@f2b-sasl-v4", "accept"},
				{"add", "set", "inet", NFTTable, "s", "{", "type", "ipv4_addr", ";", "}"},
				{"add", "element", "inet", NFTTable, "f2b-sasl-v4", "{", "10.0.0.1-10.0.0.5", "}"},
			},
			jails: []Jail{nftJail(sasl("192.0.2.1", "198.51.100.0/24"))},
			want:  nftSasl("192.0.2.1, 198.51.100.0/24", ""),
		},
		{
			name:   "elements given a comment by hand are not ours: replaced",
			before: []Jail{nftJail(sasl("192.0.2.1", "2001:db8::1"))},
			edit: [][]string{
				{"delete", "element", "inet", NFTTable, "f2b-sasl-v4", "{", "192.0.2.1", "}"},
				{"add", "element", "inet", NFTTable, "f2b-sasl-v4", "{", "192.0.2.1", "comment", `"by hand"`, "}"},
				{"delete", "element", "inet", NFTTable, "f2b-sasl-v6", "{", "2001:db8::1", "}"},
				{"add", "element", "inet", NFTTable, "f2b-sasl-v6", "{", "2001:db8::1", "comment", `"by hand"`, "}"},
			},
			jails: []Jail{nftJail(sasl("192.0.2.1", "2001:db8::1"))},
			want:  nftSasl("192.0.2.1", "2001:db8::1"),
		},
		{
			name:   "set redeclared by hand is recreated",
			before: []Jail{nftJail(sasl("192.0.2.1"))},
			edit: [][]string{
				{"delete", "chain", "inet", NFTTable, "f2b-sasl"},
				{"delete", "set", "inet", NFTTable, "f2b-sasl-v4"},
				{"add", "set", "inet", NFTTable, "f2b-sasl-v4", "{", "type", "ipv4_addr", ";", "flags", "interval", ";", "}"},
			},
			jails: []Jail{nftJail(sasl("192.0.2.1"))},
			want:  nftSasl("192.0.2.1", ""),
		},
		{
			name:  "drop, all ports, protocol all",
			jails: []Jail{nftJail(Jail{Name: "a", Protocol: "all", BlockType: "DROP", Ports: []string{"all"}, Bans: addrs("192.0.2.9")})},
			want: "table inet fail2ban-scan {\n  set f2b-a-v4 {\n    type ipv4_addr\n    elements = { 192.0.2.9 }\n  }\n\n" +
				"  set f2b-a-v6 {\n    type ipv6_addr\n  }\n\n  chain f2b-a {\n    type filter hook input priority filter - 1; policy accept;\n" +
				"    ip saddr @f2b-a-v4 drop\n    ip6 saddr @f2b-a-v6 drop\n  }\n}",
		},
		{
			name:  "ports of both protocols, a range",
			jails: []Jail{nftJail(Jail{Name: "a", Protocol: "all", Ports: []string{"smtp", "1000:2000"}})},
			want: "table inet fail2ban-scan {\n  set f2b-a-v4 {\n    type ipv4_addr\n  }\n\n" +
				"  set f2b-a-v6 {\n    type ipv6_addr\n  }\n\n  chain f2b-a {\n    type filter hook input priority filter - 1; policy accept;\n" +
				"    meta l4proto { tcp, udp } th dport { 25, 1000-2000 } ip saddr @f2b-a-v4 reject with icmp port-unreachable\n" +
				"    meta l4proto { tcp, udp } th dport { 25, 1000-2000 } ip6 saddr @f2b-a-v6 reject with icmpv6 port-unreachable\n  }\n}",
		},
		{
			name:   "a jail leaves, one port udp",
			before: []Jail{nftJail(sasl("192.0.2.1")), nftJail(Jail{Name: "b", Protocol: "udp", Ports: []string{"53"}})},
			jails:  []Jail{nftJail(sasl("192.0.2.1"))},
			want:   nftSasl("192.0.2.1", ""),
		},
		{
			name:   "no jail of ours: the table goes",
			before: []Jail{nftJail(sasl("192.0.2.1"))},
			jails:  []Jail{sasl("192.0.2.1")}, // switched to iptables
			want:   "",
		},
	}
	// Each case twice: listing the table every run, and with the cache, where the second run
	// (and, after an edit by hand, the first run that must see the edit) is told by the
	// generation whether to trust it.
	for _, tt := range tests {
		for _, cache := range []bool{false, true} {
			name := tt.name
			if cache {
				name += " (cache)"
			}
			t.Run(name, func(t *testing.T) {
				isolateNFT(t)
				ctx := context.Background()
				fw := NewNFTables("")
				if cache {
					fw.Cache = filepath.Join(t.TempDir(), "state.json.nft")
				}
				if tt.before != nil {
					if _, err := fw.Reconcile(ctx, tt.before, nil, false); err != nil {
						t.Fatalf("before: %v", err)
					}
				}
				for _, args := range tt.edit {
					nftRun(t, args...)
				}
				plan, err := fw.Reconcile(ctx, tt.jails, nil, false)
				if err != nil {
					t.Fatalf("Reconcile: %v\nplan:\n%s", err, plan)
				}
				if got, want := nftDump(t), sortBlocks(tt.want); got != want {
					t.Errorf("table:\n%s\nwant:\n%s\nplan:\n%s", got, want, plan)
				}
				// Level-triggered: a second run with the same jails changes nothing.
				plan, err = fw.Reconcile(ctx, tt.jails, nil, false)
				if err != nil || !plan.Empty() {
					t.Errorf("second Reconcile: %v, plan:\n%s", err, plan)
				}
			})
		}
	}
}

func TestNFTDryRunAndFlush(t *testing.T) {
	isolateNFT(t)
	ctx := context.Background()
	fw := NewNFTables("")
	jails := []Jail{nftJail(sasl("192.0.2.1", "192.0.2.2", "2001:db8::1"))}
	plan, err := fw.Reconcile(ctx, jails, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := nftDump(t); got != "" {
		t.Errorf("the dry run changed the table:\n%s", got)
	}
	// The elements of a set are one command (elemOp), shown and counted one by one.
	for _, want := range []string{"nftables: 9 changes\n", "  add table inet fail2ban-scan\n",
		"  add element inet fail2ban-scan f2b-sasl-v4 { 192.0.2.1 }\n  add element inet fail2ban-scan f2b-sasl-v4 { 192.0.2.2 }\n",
		"  add element inet fail2ban-scan f2b-sasl-v6 { 2001:db8::1 }\n", "  add chain inet fail2ban-scan f2b-sasl { " + nftHook + " }\n"} {
		if !strings.Contains(plan.String(), want) {
			t.Errorf("plan:\n%s\nwant it to contain %q", plan, want)
		}
	}
	if _, err := fw.Reconcile(ctx, jails, nil, false); err != nil {
		t.Fatal(err)
	}
	plan, err = fw.Flush(ctx, []string{"sasl"})
	if err != nil || plan.String() != "nftables: 1 change\n  delete table inet fail2ban-scan\n" {
		t.Errorf("Flush: %v, plan:\n%s", err, plan)
	}
	if got := nftDump(t); got != "" {
		t.Errorf("after Flush:\n%s", got)
	}
	// Nothing of ours, no jail of ours: no plan lines at all.
	if plan, err := fw.Reconcile(ctx, []Jail{sasl("192.0.2.1")}, nil, false); err != nil || len(plan.Families) != 0 {
		t.Errorf("Reconcile without nftables jails: %v, plan %+v", err, plan)
	}
}

func TestNFTErrors(t *testing.T) {
	isolateNFT(t)
	ctx := context.Background()
	if _, err := NewNFTables("").Reconcile(ctx, []Jail{{Name: "x", Action: "pf"}}, nil, false); err == nil ||
		!strings.Contains(err.Error(), `action "pf"`) {
		t.Errorf("unknown action: %v", err)
	}
	plan, err := NewNFTables("/nonexistent/nft").Reconcile(ctx, []Jail{nftJail(sasl("192.0.2.1"))}, nil, false)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/nft not found") || !strings.Contains(plan.String(), "nftables: failed") {
		t.Errorf("no nft: %v, plan:\n%s", err, plan)
	}
	if plan, err := NewNFTables("/nonexistent/nft").Reconcile(ctx, []Jail{sasl("192.0.2.1")}, nil, false); err != nil || len(plan.Families) != 0 {
		t.Errorf("no nft and no nftables jail: %v, plan %+v", err, plan)
	}
}

// TestSwitchBackend: a jail moved from iptables to nftables loses its chain
// and jump in iptables, and the reverse loses its table, each in one run of
// both backends.
func TestSwitchBackend(t *testing.T) {
	isolateNFT(t)
	ctx := context.Background()
	b := backends()[0]
	ipt, nft := New(b.opts()), NewNFTables("")
	run := func(jails []Jail) {
		t.Helper()
		for _, f := range []Firewall{ipt, nft} {
			if _, err := f.Reconcile(ctx, jails, nil, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	run([]Jail{sasl("192.0.2.1")})
	if got := b.dump(t, "iptables"); !strings.Contains(got, "f2b-sasl") {
		t.Fatalf("iptables:\n%s", got)
	}
	run([]Jail{nftJail(sasl("192.0.2.1"))})
	if got := b.dump(t, "iptables"); got != strings.TrimSpace(builtins) {
		t.Errorf("iptables after the switch to nftables:\n%s", got)
	}
	if got := nftDump(t); got != nftSasl("192.0.2.1", "") {
		t.Errorf("nftables after the switch:\n%s", got)
	}
	run([]Jail{sasl("192.0.2.1")})
	if got := nftDump(t); got != "" {
		t.Errorf("nftables after the switch back:\n%s", got)
	}
}

// TestNFTPacket: a ban rejects real TCP connections. Both ends are on lo
// inside the test's namespace (nftables' input hook sees loopback traffic):
// the server listens on 127.0.0.1:25, the clients connect from 127.0.0.2
// (banned) and 127.0.0.3 (not banned).
func TestNFTPacket(t *testing.T) {
	isolateNFT(t)
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:25")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dial := func(from string) error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp4", "127.0.0.1:25")
		if err == nil {
			c.Close()
		}
		return err
	}
	ctx := context.Background()
	fw := NewNFTables("")
	if _, err := fw.Reconcile(ctx, []Jail{nftJail(sasl("127.0.0.2"))}, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := dial("127.0.0.2"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("banned 127.0.0.2 connected: %v, want connection refused (REJECT)", err)
	}
	if err := dial("127.0.0.3"); err != nil {
		t.Errorf("127.0.0.3 is not banned: %v", err)
	}
	if _, err := fw.Reconcile(ctx, []Jail{nftJail(sasl())}, nil, false); err != nil {
		t.Fatal(err)
	}
	if err := dial("127.0.0.2"); err != nil {
		t.Errorf("127.0.0.2 unbanned: %v", err)
	}
}

// BenchmarkNFT100k: 100,000 new IPv4 bans in one Reconcile, then a Reconcile with nothing new
// (reported as rescan-s).
func BenchmarkNFT100k(b *testing.B) {
	isolateNFT(b)
	ctx := context.Background()
	j := nftJail(sasl())
	for i := range 100000 {
		j.Bans = append(j.Bans, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 15), byte(i >> 7), byte(i << 1)}), 32))
	}
	for b.Loop() {
		fw := NewNFTables("")
		if _, err := fw.Flush(ctx, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := fw.Reconcile(ctx, []Jail{j}, nil, false); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	plan, err := NewNFTables("").Reconcile(ctx, []Jail{j}, nil, false)
	if err != nil || !plan.Empty() {
		b.Fatalf("rescan: %v, %d changes", err, len(plan.Families[0].Ops))
	}
	b.ReportMetric(time.Since(start).Seconds(), "rescan-s")
}

// ruleGen is the ruleset's generation, which each committed transaction moves on.
func ruleGen(t *testing.T) uint32 {
	t.Helper()
	g, err := nftGen()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestNFTCache: while the ruleset's generation is the one the last run left, a run does not
// list the table (nft is run through a script that logs its arguments); a change by hand, or
// any table's change, moves the generation on, and the next run lists the table and heals it.
// A cache of another boot or namespace, or cut short, is not trusted.
// cachedNFT returns an NFTables with a cache in a new directory whose nft is a script that
// logs its arguments, and a function that returns (and forgets) what it logged.
func cachedNFT(t *testing.T) (*NFTables, func() string) {
	nft := isolateNFT(t)
	dir := t.TempDir()
	calls, wrapper := filepath.Join(dir, "calls"), filepath.Join(dir, "nft")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\necho \"$*\" >> "+calls+"\nexec "+nft+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := NewNFTables(wrapper)
	f.Cache = filepath.Join(dir, "state.json.nft")
	return f, func() string {
		b, _ := os.ReadFile(calls)
		os.Remove(calls)
		return string(b)
	}
}

func TestNFTCache(t *testing.T) {
	f, ran := cachedNFT(t)
	ctx := context.Background()
	step := func(what string, jails []Jail, wantList bool, want string) {
		t.Helper()
		plan, err := f.Reconcile(ctx, jails, nil, false)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		b := ran()
		if listed := strings.Contains(b, "list table"); listed != wantList {
			t.Errorf("%s: listed the table: %v, want %v (nft calls: %q; plan:\n%s)", what, listed, wantList, b, plan)
		}
		if got := nftDump(t); got != want {
			t.Errorf("%s: table:\n%s\nwant:\n%s", what, got, want)
		}
	}
	one := []Jail{nftJail(sasl("192.0.2.1", "2001:db8::1"))}
	two := []Jail{nftJail(sasl("192.0.2.1", "192.0.2.2", "2001:db8::1"))}
	step("first run", one, true, nftSasl("192.0.2.1", "2001:db8::1"))
	step("nothing new", one, false, nftSasl("192.0.2.1", "2001:db8::1"))
	step("a new ban", two, false, nftSasl("192.0.2.1, 192.0.2.2", "2001:db8::1"))
	step("nothing new after the ban", two, false, nftSasl("192.0.2.1, 192.0.2.2", "2001:db8::1"))
	nftRun(t, "delete", "element", "inet", NFTTable, "f2b-sasl-v4", "{", "192.0.2.2", "}")
	step("an element deleted by hand", two, true, nftSasl("192.0.2.1, 192.0.2.2", "2001:db8::1"))
	step("nothing new after healing", two, false, nftSasl("192.0.2.1, 192.0.2.2", "2001:db8::1"))
	nftRun(t, "add", "table", "ip", "other")
	step("another table added", two, true, nftSasl("192.0.2.1, 192.0.2.2", "2001:db8::1"))
	for what, edit := range map[string]func([]byte) []byte{
		"a cache of another boot":      func(b []byte) []byte { return bytes.Replace(b, []byte(", boot "), []byte(", boot 0"), 1) },
		"a cache of another namespace": func(b []byte) []byte { return bytes.Replace(b, []byte("namespace "), []byte("namespace 1"), 1) },
		"a cache cut short":            func(b []byte) []byte { return b[:len(b)-20] },
	} {
		b, err := os.ReadFile(f.Cache)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.Cache, edit(b), 0o600); err != nil {
			t.Fatal(err)
		}
		step(what, two, true, nftSasl("192.0.2.1, 192.0.2.2", "2001:db8::1"))
	}
	step("flush", nil, false, "")
	if _, err := os.Stat(f.Cache); !os.IsNotExist(err) {
		t.Errorf("the cache is left after the table went: %v", err)
	}
}

// TestNFTCacheInput: jails whose bans come as a Sum with LoadBans (left as text in the state)
// are loaded while the cache cannot tell it holds them; once a run found the table made for
// them, the cache names their input, and while the generation stays the next run neither loads
// the bans nor runs nft. Another Sum, another jail's setting, or a change by hand loads them.
// Bans lifted from the cache's sum (Base, Lifted) are deleted without loading the rest.
func TestNFTCacheInput(t *testing.T) {
	f, ran := cachedNFT(t)
	loads := 0
	lazy := func(sum string, bans ...string) []Jail {
		j := nftJail(sasl())
		j.Sum, j.LoadBans = sum, func() []netip.Prefix { loads++; return addrs(bans...) }
		return []Jail{j}
	}
	step := func(what string, jails []Jail, wantLoad, wantNFT bool, want string) {
		t.Helper()
		loads = 0
		gen := ruleGen(t)
		if _, err := f.Reconcile(context.Background(), jails, nil, false); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		b, committed := ran(), ruleGen(t) != gen
		if (loads > 0) != wantLoad || (len(b) > 0 || committed) != wantNFT {
			t.Errorf("%s: loaded the bans %d times (want %v), ran nft %q, committed %v (want nft %v)", what, loads, wantLoad, b, committed, wantNFT)
		}
		if got := nftDump(t); got != want && want != "" { // "": not told here
			t.Errorf("%s: table:\n%s\nwant:\n%s", what, got, want)
		}
	}
	one := nftSasl("192.0.2.1", "2001:db8::1")
	step("first run", lazy("s1", "192.0.2.1", "2001:db8::1"), true, true, one)
	step("the same input", lazy("s1", "192.0.2.1", "2001:db8::1"), false, false, one)
	two := nftSasl("192.0.2.1, 192.0.2.2", "2001:db8::1")
	step("another sum", lazy("s2", "192.0.2.1", "192.0.2.2", "2001:db8::1"), true, true, two)
	step("the same again", lazy("s2", "192.0.2.1", "192.0.2.2", "2001:db8::1"), false, false, two)
	drop := lazy("s2", "192.0.2.1", "192.0.2.2", "2001:db8::1")
	drop[0].BlockType = "DROP"
	dropped := strings.NewReplacer("reject with icmp port-unreachable", "drop", "reject with icmpv6 port-unreachable", "drop").Replace(two)
	step("another blocktype", drop, true, true, dropped)
	step("the same again", lazy("s2", "192.0.2.1", "192.0.2.2", "2001:db8::1"), true, true, two)
	nftRun(t, "flush", "set", "inet", NFTTable, "f2b-sasl-v4")
	step("a set flushed by hand", lazy("s2", "192.0.2.1", "192.0.2.2", "2001:db8::1"), true, true, two)
	step("after the heal", lazy("s2", "192.0.2.1", "192.0.2.2", "2001:db8::1"), false, false, two)
	loaded := nftJail(sasl("192.0.2.1", "192.0.2.2", "2001:db8::1"))
	step("bans given, no sum", []Jail{loaded}, false, false, two)
	// That run changed nothing: the table is still the one made for s2.
	step("the sum after that", lazy("s2", "192.0.2.1", "192.0.2.2", "2001:db8::1"), false, false, two)
	loaded.Bans = addrs("192.0.2.1")
	step("a ban lifted, no sum", []Jail{loaded}, false, true, nftSasl("192.0.2.1", ""))
	step("the old sum after that", lazy("s2", "192.0.2.1", "192.0.2.2", "2001:db8::1"), true, true, two)

	// Bans lifted from those of the cache's sum: deleted without loading the bans or
	// reading the table, and the cache is then the table of the new sum.
	lifted := func(sum, base string, gone []string, bans ...string) []Jail {
		j := lazy(sum, bans...)
		j[0].Base, j[0].Lifted = base, addrs(gone...)
		return j
	}
	step("two lifted", lifted("s3", "s2", []string{"192.0.2.2", "2001:db8::1"}, "192.0.2.1"), false, true, nftSasl("192.0.2.1", ""))
	step("the new sum", lazy("s3", "192.0.2.1"), false, false, nftSasl("192.0.2.1", ""))
	step("lifted from a sum the cache is not", lifted("s4", "s2", []string{"192.0.2.1"}), true, true, nftSasl("", ""))
	gen := ruleGen(t)
	if _, err := f.Reconcile(context.Background(), lifted("s5", "s4", []string{"198.51.100.7"}), nil, false); err != nil {
		t.Fatal(err)
	}
	if b := ran(); b != "" || ruleGen(t) != gen {
		t.Errorf("nothing of the lifted in the set: nft ran %q, generation %d to %d", b, gen, ruleGen(t))
	}
	step("and then the sum", lazy("s5"), false, false, nftSasl("", ""))

	// Bans added to those of the cache's sum, and one lifted: the same, with adds.
	changed := func(sum, base string, added, gone []string, bans ...string) []Jail {
		j := lifted(sum, base, gone, bans...)
		j[0].Added = addrs(added...)
		return j
	}
	step("two added", changed("s6", "s5", []string{"192.0.2.9", "2001:db8::9"}, nil, "192.0.2.9", "2001:db8::9"), false, true, nftSasl("192.0.2.9", "2001:db8::9"))
	step("one added, one lifted", changed("s7", "s6", []string{"192.0.2.10"}, []string{"2001:db8::9"}, "192.0.2.9", "192.0.2.10"), false, true, nftSasl("192.0.2.9, 192.0.2.10", ""))
	step("the sum after", lazy("s7", "192.0.2.9", "192.0.2.10"), false, false, nftSasl("192.0.2.9, 192.0.2.10", ""))
	// A prefix added: the set must become an interval set, which the full diff does.
	step("a prefix added", changed("s8", "s7", []string{"198.51.100.0/24"}, nil, "192.0.2.9", "192.0.2.10", "198.51.100.0/24"), true, true, "")
	if got := nftDump(t); !strings.Contains(got, "198.51.100.0/24") || !strings.Contains(got, "flags interval") {
		t.Errorf("a prefix added: the set is not an interval set with it:\n%s", got)
	}
}

// TestNFTCacheListing: the table a run keeps (wantLive) is written as nft lists it and read
// back by parseNFT to the same table, against which the same jails need no change: plain
// and interval sets, both families, a jail with no ban, two jails.
func TestNFTCacheListing(t *testing.T) {
	for _, jails := range [][]Jail{
		{nftJail(sasl("192.0.2.1", "192.0.2.3", "2001:db8::1"))},
		{nftJail(sasl("192.0.2.0/24", "198.51.100.7", "2001:db8::/64")), nftJail(Jail{Name: "b", Protocol: "udp", Ports: []string{"53"}})},
		{nftJail(Jail{Name: "a", Protocol: "all", BlockType: "DROP", Ports: []string{"all"}, Bans: addrs("192.0.2.9")})},
	} {
		want := nftWant(jails)
		text := wantLive(&nftLive{}, jails, want).listing()
		live, err := parseNFT(text)
		if err != nil {
			t.Fatalf("parseNFT of the listing: %v\n%s", err, text)
		}
		if ops := nftDiff(live, jails, want); len(ops) > 0 {
			t.Errorf("the listing read back needs changes:\n%s\nops: %q", text, ops)
		}
		if again := live.listing(); string(again) != string(text) {
			t.Errorf("the listing read back is listed as\n%s\nnot as\n%s", again, text)
		}
	}
	if wantLive(&nftLive{}, nil, nil).listing() != nil {
		t.Error("no jail: the listing is not nil")
	}
}

// TestElemOp: the elements a diff adds to or deletes from a set are one command each way, whose
// changes are counted and shown one per element, and linesReader reads the ops as the lines of
// the script, whatever its reader's buffer.
func TestElemOp(t *testing.T) {
	cur := &nftLive{exists: true, sets: map[string]*liveSet{
		"f2b-sasl-v4": {decl: setDecl(IPv4, nil), elems: []string{"192.0.2.1", "192.0.2.3", "192.0.2.4 comment \"x\""}},
	}, chains: map[string]*liveChain{}}
	jails := []Jail{nftJail(sasl("192.0.2.1", "192.0.2.2", "192.0.2.9"))}
	ops := nftDiff(cur, jails, nftWant(jails))
	var elems []string
	for _, op := range ops {
		if strings.Contains(op, " element ") {
			elems = append(elems, op)
		}
	}
	want := []string{
		"delete element inet fail2ban-scan f2b-sasl-v4 { 192.0.2.4, 192.0.2.3 }", // an element with a comment first: not parsed
		"add element inet fail2ban-scan f2b-sasl-v4 { 192.0.2.2, 192.0.2.9 }",
	}
	if !slices.Equal(elems, want) {
		t.Fatalf("element ops:\n%s\nwant:\n%s", strings.Join(elems, "\n"), strings.Join(want, "\n"))
	}
	fp := FamilyPlan{Family: NFT, Ops: ops}
	if got, want := fp.Count(), len(ops)+2; got != want {
		t.Errorf("Count: %d, want %d (%d ops, two of two elements)", got, want, len(ops))
	}
	text := (&Plan{Families: []FamilyPlan{fp}}).String()
	for _, line := range []string{"  delete element inet fail2ban-scan f2b-sasl-v4 { 192.0.2.4 }\n  delete element inet fail2ban-scan f2b-sasl-v4 { 192.0.2.3 }\n",
		"  add element inet fail2ban-scan f2b-sasl-v4 { 192.0.2.2 }\n  add element inet fail2ban-scan f2b-sasl-v4 { 192.0.2.9 }\n"} {
		if !strings.Contains(text, line) {
			t.Errorf("plan:\n%s\nwant it to contain:\n%s", text, line)
		}
	}
	script := strings.Join(ops, "\n") + "\n"
	for _, size := range []int{1, 3, 7, 4096} {
		var b strings.Builder
		r, buf := &linesReader{lines: ops}, make([]byte, size)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil || n == 0 {
				t.Fatalf("buffer %d: Read: %d, %v", size, n, err)
			}
		}
		if b.String() != script {
			t.Errorf("buffer %d: read\n%q\nwant\n%q", size, b.String(), script)
		}
	}
}

// manyAddrs returns n IPv4 addresses from 10.0.0.0 on, skipping the first from.
func manyAddrs(from, n int) []netip.Prefix {
	out := make([]netip.Prefix, 0, n)
	for i := from; i < from+n; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32))
	}
	return out
}

// TestNFTSize: a plain set built with sizedFrom addresses or more is declared with a size of
// twice their number, as nft lists it; it stays while it has a quarter of its bans to spare,
// and is rebuilt twice the size in the run that would leave it less, whether the run lists
// the table or lifts from the cache. A set never meets its size: nft refuses an element past
// it ("Too many open files in system").
func TestNFTSize(t *testing.T) {
	f, ran := cachedNFT(t)
	ctx := context.Background()
	path, _ := nftPath("nft")
	check := func(what string, wantSize, wantElems int) {
		t.Helper()
		live, err := readNFT(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		s := live.sets["f2b-sasl-v4"]
		if s == nil {
			t.Fatalf("%s: no set f2b-sasl-v4", what)
		}
		if size := declSize(s.decl); size != wantSize || len(s.elems) != wantElems {
			t.Errorf("%s: size %d (%q), %d elements; want size %d, %d elements", what, size, s.decl, len(s.elems), wantSize, wantElems)
		}
	}
	step := func(what string, j Jail, wantRebuild bool, wantSize, wantElems int) {
		t.Helper()
		plan, err := f.Reconcile(ctx, []Jail{j}, nil, false)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		calls := ran()
		if rebuilt := strings.Contains(plan.String(), "add set inet fail2ban-scan f2b-sasl-v4"); rebuilt != wantRebuild {
			t.Errorf("%s: set built: %v, want %v (nft calls %.200q)", what, rebuilt, wantRebuild, calls)
		}
		check(what, wantSize, wantElems)
		if plan, err := f.Reconcile(ctx, []Jail{j}, nil, false); err != nil || !plan.Empty() {
			t.Errorf("%s, again: %v, plan %.300s", what, err, plan)
		}
		ran()
	}
	small := nftJail(sasl())
	small.Bans = manyAddrs(0, sizedFrom-1)
	step("fewer than sizedFrom: no size", small, true, 0, sizedFrom-1)
	more := nftJail(sasl())
	more.Bans = manyAddrs(0, 3*sizedFrom)
	step("grown without a size: none", more, false, 0, 3*sizedFrom)

	f.Reconcile(ctx, nil, nil, false) // the table goes
	ran()
	j := nftJail(sasl())
	j.Bans = manyAddrs(0, 12000)
	step("built with 12,000", j, true, 24000, 12000)
	j.Bans = manyAddrs(0, 19200) // 24,000 = 1.25 × 19,200: room enough
	step("19,200: stays", j, false, 24000, 19200)
	j.Bans = manyAddrs(0, 19201)
	step("19,201: rebuilt twice as big", j, true, 38402, 19201)
	j.Bans = manyAddrs(100, 5000)
	step("fewer: stays as it is", j, false, 38402, 5000)

	// Lifted from the cache: adds that fit stay adds; past the headroom, the full diff rebuilds.
	lazy := func(sum, base string, bans, added []netip.Prefix) Jail {
		j := nftJail(sasl())
		j.Sum, j.Base, j.Added = sum, base, added
		j.LoadBans = func() []netip.Prefix { return bans }
		return j
	}
	base := manyAddrs(0, 12000)
	if _, err := f.Reconcile(ctx, []Jail{lazy("s1", "", base, nil)}, nil, false); err != nil {
		t.Fatal(err)
	}
	ran()
	check("12,000 from a sum", 38402, 12000)
	f.Reconcile(ctx, nil, nil, false)
	ran()
	if _, err := f.Reconcile(ctx, []Jail{lazy("s1", "", base, nil)}, nil, false); err != nil {
		t.Fatal(err)
	}
	ran()
	check("rebuilt from a sum", 24000, 12000)
	fits := manyAddrs(12000, 7200)
	if _, err := f.Reconcile(ctx, []Jail{lazy("s2", "s1", manyAddrs(0, 19200), fits)}, nil, false); err != nil {
		t.Fatal(err)
	}
	if calls := ran(); strings.Contains(calls, "list table") {
		t.Errorf("adds that fit: the table was listed (%.200q)", calls)
	}
	check("7,200 added from the cache", 24000, 19200)
	plan, err := f.Reconcile(ctx, []Jail{lazy("s3", "s2", manyAddrs(0, 19201), manyAddrs(19200, 1))}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	ran()
	if !strings.Contains(plan.String(), "add set inet fail2ban-scan f2b-sasl-v4 { type ipv4_addr; size 38402; }") {
		t.Errorf("one more than fits: the set was not rebuilt:\n%.300s", plan)
	}
	check("one more from the cache", 38402, 19201)

	// The kernel holds the size: past it, nft refuses.
	nftRun(t, "add", "table", "inet", "t")
	nftRun(t, "add", "set", "inet", "t", "s", "{", "type", "ipv4_addr", ";", "size", "2", ";", "}")
	if out, err := exec.Command(path, "add", "element", "inet", "t", "s", "{", "10.0.0.1,", "10.0.0.2,", "10.0.0.3", "}").CombinedOutput(); err == nil {
		t.Errorf("nft took 3 elements into a set of size 2: %s", out)
	}
}
