package fw

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
	"github.com/fail2ban-scan/fail2ban-scan/internal/vethtest"
)

// envRequireIPSet set to 1 (as in CI) turns the skip of the ipset tests into a failure.
const envRequireIPSet = "FAIL2BAN_SCAN_REQUIRE_IPSET"

// isolateIPSet moves the test into a fresh network namespace (sets are per
// namespace, like tables) and makes sure ipset is there.
func isolateIPSet(t *testing.T) {
	t.Helper()
	if _, err := lookPath("ipset"); err != nil {
		if os.Getenv(envRequireIPSet) == "1" {
			t.Fatalf("needs ipset (%s=1): %v", envRequireIPSet, err)
		}
		t.Skipf("needs ipset: %v (apt-get install ipset; %s=1 makes this a failure)", err, envRequireIPSet)
	}
	netnstest.Isolate(t)
}

// ipsetCmd runs ipset with args and returns its output.
func ipsetCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ipset", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipset %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// savedSets returns ipset save's lines without the per-set header details
// that vary (initval, bucketsize), members sorted after each create line.
func savedSets(t *testing.T) string {
	t.Helper()
	var out []string
	var members []string
	flush := func() { slices.Sort(members); out = append(out, members...); members = nil }
	for _, l := range strings.Split(strings.TrimSpace(ipsetCmd(t, "save")), "\n") {
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "create ") {
			flush()
			f := strings.Fields(l)
			var keep []string
			for i := 0; i < len(f); i++ {
				if f[i] == "bucketsize" || f[i] == "initval" {
					i++
					continue
				}
				keep = append(keep, f[i])
			}
			out = append(out, strings.Join(keep, " "))
			continue
		}
		members = append(members, l)
	}
	flush()
	return strings.Join(out, "\n")
}

func setJail(action string, bans ...string) Jail {
	j := sasl(bans...)
	j.Action = action
	return j
}

const (
	setRule4   = "-A f2b-sasl -m set --match-set f2b-sasl src -j REJECT --reject-with icmp-port-unreachable"
	setRule6   = "-A f2b-sasl -m set --match-set f2b-sasl-v6 src -j REJECT --reject-with icmp6-port-unreachable"
	setChain4  = builtins + "-N f2b-sasl\n" + saslJump + "\n" + setRule4 + "\n" + saslReturn
	setChain6  = builtins + "-N f2b-sasl\n" + saslJump + "\n" + setRule6 + "\n" + saslReturn
	emptySets6 = "create f2b-sasl-v6 hash:ip family inet6 hashsize 1024 maxelem 65536"
)

func TestReconcileIPSet(t *testing.T) {
	tests := []struct {
		name    string
		before  []Jail   // reconciled first, when not nil
		edit    []string // then these commands run: "ipset ..." or "iptables ..."
		jails   []Jail
		managed []string
		want4   string // iptables -S, "" = not checked
		sets    string // savedSets
	}{
		{
			name:  "ban",
			jails: []Jail{setJail("ipset", "192.0.2.2", "192.0.2.1", "2001:db8::1", "192.0.2.1")},
			want4: setChain4,
			sets: "create f2b-sasl hash:ip family inet hashsize 1024 maxelem 65536\nadd f2b-sasl 192.0.2.1\nadd f2b-sasl 192.0.2.2\n" +
				"create f2b-sasl-v6 hash:ip family inet6 hashsize 1024 maxelem 65536\nadd f2b-sasl-v6 2001:db8::1",
		},
		{
			name:   "unban and ban",
			before: []Jail{setJail("ipset", "192.0.2.1", "192.0.2.2")},
			jails:  []Jail{setJail("ipset", "192.0.2.1", "192.0.2.3")},
			sets:   "create f2b-sasl hash:ip family inet hashsize 1024 maxelem 65536\nadd f2b-sasl 192.0.2.1\nadd f2b-sasl 192.0.2.3\n" + emptySets6,
		},
		{
			name:   "heal a flushed set and chain",
			before: []Jail{setJail("ipset", "192.0.2.1")},
			edit:   []string{"ipset flush f2b-sasl", "iptables -F f2b-sasl"},
			jails:  []Jail{setJail("ipset", "192.0.2.1")},
			want4:  setChain4,
			sets:   "create f2b-sasl hash:ip family inet hashsize 1024 maxelem 65536\nadd f2b-sasl 192.0.2.1\n" + emptySets6,
		},
		{
			name:   "a prefix makes it hash:net, in one run",
			before: []Jail{setJail("ipset", "192.0.2.1", "198.51.100.7")},
			jails:  []Jail{setJail("ipset", "192.0.2.0/24", "192.0.2.1", "198.51.100.7")},
			want4:  setChain4,
			sets:   "create f2b-sasl hash:net family inet hashsize 1024 maxelem 65536\nadd f2b-sasl 192.0.2.0/24\nadd f2b-sasl 198.51.100.7\n" + emptySets6,
		},
		{
			name:   "prefix lifted: back to hash:ip",
			before: []Jail{setJail("ipset", "192.0.2.0/24")},
			jails:  []Jail{setJail("ipset", "192.0.2.1")},
			want4:  setChain4,
			sets:   "create f2b-sasl hash:ip family inet hashsize 1024 maxelem 65536\nadd f2b-sasl 192.0.2.1\n" + emptySets6,
		},
		{
			name:  "a set too small or with a timeout is rebuilt",
			edit:  []string{"ipset create f2b-sasl hash:ip family inet maxelem 2", "ipset add f2b-sasl 192.0.2.9", "ipset create f2b-sasl-v6 hash:ip family inet6 timeout 600"},
			jails: []Jail{setJail("ipset", "192.0.2.1", "192.0.2.2", "192.0.2.3")},
			want4: setChain4,
			sets:  "create f2b-sasl hash:ip family inet hashsize 1024 maxelem 65536\nadd f2b-sasl 192.0.2.1\nadd f2b-sasl 192.0.2.2\nadd f2b-sasl 192.0.2.3\n" + emptySets6,
		},
		{
			name:   "iptables to ipset",
			before: []Jail{setJail("", "192.0.2.1", "192.0.2.2")},
			jails:  []Jail{setJail("ipset", "192.0.2.1")},
			want4:  setChain4,
			sets:   "create f2b-sasl hash:ip family inet hashsize 1024 maxelem 65536\nadd f2b-sasl 192.0.2.1\n" + emptySets6,
		},
		{
			name:   "ipset to iptables: the sets go",
			before: []Jail{setJail("ipset", "192.0.2.1")},
			edit:   []string{"ipset create mine hash:ip", "ipset create f2b-other hash:ip"},
			jails:  []Jail{setJail("iptables", "192.0.2.1")},
			want4:  builtins + "-N f2b-sasl\n" + saslJump + "\n" + reject1 + "\n" + saslReturn,
			sets:   "create mine hash:ip family inet hashsize 1024 maxelem 65536\ncreate f2b-other hash:ip family inet hashsize 1024 maxelem 65536",
		},
		{
			name:    "disabled jail: chain and sets go",
			before:  []Jail{setJail("ipset", "192.0.2.1", "2001:db8::1")},
			managed: []string{"sasl"},
			want4:   builtins,
			sets:    "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateIPSet(t)
			ctx := context.Background()
			fw := New(Options{})
			b := backends()[0]
			if tt.before != nil {
				if _, err := fw.Reconcile(ctx, tt.before, nil, false); err != nil {
					t.Fatalf("before: %v", err)
				}
			}
			for _, e := range tt.edit {
				args := strings.Fields(e)
				if args[0] == "ipset" {
					ipsetCmd(t, args[1:]...)
				} else {
					b.ipt(t, e)
				}
			}
			plan, err := fw.Reconcile(ctx, tt.jails, tt.managed, false)
			if err != nil {
				t.Fatalf("Reconcile: %v\nplan:\n%s", err, plan)
			}
			if tt.want4 != "" {
				if got := b.dump(t, "iptables"); got != strings.TrimSpace(tt.want4) {
					t.Errorf("iptables:\n%s\nwant:\n%s\nplan:\n%s", got, tt.want4, plan)
				}
			}
			if got := savedSets(t); got != tt.sets {
				t.Errorf("sets:\n%s\nwant:\n%s\nplan:\n%s", got, tt.sets, plan)
			}
			again, err := fw.Reconcile(ctx, tt.jails, tt.managed, false)
			if err != nil || !again.Empty() {
				t.Errorf("second run: %v, not empty:\n%s", err, again)
			}
		})
	}
}

func TestIPSetDryRunAndFlush(t *testing.T) {
	isolateIPSet(t)
	ctx := context.Background()
	fw := New(Options{})
	jails := []Jail{setJail("ipset", "192.0.2.1", "2001:db8::/64")}
	plan, err := fw.Reconcile(ctx, jails, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ipset: 4 changes\n",
		"  create f2b-sasl hash:ip family inet hashsize 1024 maxelem 65536\n  add f2b-sasl 192.0.2.1\n",
		"  create f2b-sasl-v6 hash:net family inet6 hashsize 1024 maxelem 65536\n  add f2b-sasl-v6 2001:db8::/64\n",
	} {
		if !strings.Contains(plan.String(), want) {
			t.Errorf("dry-run plan lacks %q:\n%s", want, plan)
		}
	}
	if got := savedSets(t); got != "" {
		t.Fatalf("dry run changed the sets:\n%s", got)
	}
	if _, err := fw.Reconcile(ctx, jails, nil, false); err != nil {
		t.Fatal(err)
	}
	ipsetCmd(t, "create", "mine", "hash:ip")
	if _, err := fw.Flush(ctx, []string{"sasl"}); err != nil {
		t.Fatal(err)
	}
	if got := savedSets(t); got != "create mine hash:ip family inet hashsize 1024 maxelem 65536" {
		t.Errorf("after Flush:\n%s", got)
	}
}

// TestIPSetPrefetch: a Reconcile after PrefetchSets diffs against the sets read then: ipset
// save runs once, in PrefetchSets (counted through a logging ipset first in $PATH), and a
// member deleted by hand before it is put back.
func TestIPSetPrefetch(t *testing.T) {
	isolateIPSet(t)
	ipset, err := lookPath("ipset")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	if err := os.WriteFile(filepath.Join(dir, "ipset"), []byte("#!/bin/sh\necho \"$*\" >> "+calls+"\nexec "+ipset+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	saves := func() int {
		b, _ := os.ReadFile(calls)
		os.Remove(calls)
		n := 0
		for _, l := range strings.Split(string(b), "\n") {
			if l == "save" {
				n++
			}
		}
		return n
	}
	ctx := context.Background()
	f := New(Options{})
	jails := []Jail{setJail("ipset", "192.0.2.1", "192.0.2.2")}
	want := "create f2b-sasl hash:ip family inet hashsize 1024 maxelem 65536\nadd f2b-sasl 192.0.2.1\nadd f2b-sasl 192.0.2.2\n" + emptySets6
	if _, err := f.Reconcile(ctx, jails, nil, false); err != nil {
		t.Fatal(err)
	}
	if n := saves(); n != 1 {
		t.Fatalf("a Reconcile without PrefetchSets ran ipset save %d times, want 1", n)
	}
	ipsetCmd(t, "del", "f2b-sasl", "192.0.2.2")
	saves()
	f.PrefetchSets(ctx)
	plan, err := f.Reconcile(ctx, jails, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := saves(); n != 1 {
		t.Errorf("PrefetchSets and Reconcile ran ipset save %d times, want 1 (plan:\n%s)", n, plan)
	}
	if got := savedSets(t); got != want {
		t.Errorf("sets:\n%s\nwant:\n%s\nplan:\n%s", got, want, plan)
	}
	// The prefetched read is used once: the next Reconcile reads again.
	saves()
	if plan, err := f.Reconcile(ctx, jails, nil, false); err != nil || !plan.Empty() {
		t.Errorf("Reconcile after: %v, plan:\n%s", err, plan)
	}
	if n := saves(); n != 1 {
		t.Errorf("the Reconcile after ran ipset save %d times, want 1", n)
	}
}

// TestBansEnforced proves the bans with real TCP connections through a veth
// pair: for each banaction and blocktype, the banned client of each family
// is refused or gets no answer, the other connects, and a chain or set
// flushed by hand is healed by the next Reconcile.
func TestBansEnforced(t *testing.T) {
	for _, action := range []string{"iptables", "ipset", "nftables"} {
		for _, block := range []string{"REJECT", "DROP"} {
			t.Run(action+"/"+block, func(t *testing.T) {
				switch action {
				case "ipset":
					isolateIPSet(t)
				case "nftables":
					isolateNFT(t)
				default:
					netnstest.Isolate(t)
				}
				n := vethtest.Setup(t)
				var fw Firewall = New(Options{})
				if action == "nftables" {
					fw = NewNFTables("")
				}
				jail := Jail{Name: "sasl", Ports: []string{"smtp"}, Protocol: "tcp", BlockType: block, Action: action,
					Bans: []netip.Prefix{netip.PrefixFrom(vethtest.Banned4, 32), netip.PrefixFrom(vethtest.Banned6, 128)}}
				ban := func() error {
					_, err := fw.Reconcile(context.Background(), []Jail{jail}, nil, false)
					return err
				}
				flush := func() error {
					cmds := [][]string{{"iptables", "-w", "-F", "f2b-sasl"}, {"ip6tables", "-w", "-F", "f2b-sasl"}}
					switch action {
					case "ipset":
						cmds = [][]string{{"ipset", "flush", "f2b-sasl"}, {"ipset", "flush", "f2b-sasl-v6"}}
					case "nftables":
						cmds = [][]string{{"nft", "flush", "set", "inet", "fail2ban-scan", "f2b-sasl-v4"}, {"nft", "flush", "set", "inet", "fail2ban-scan", "f2b-sasl-v6"}}
					}
					for _, c := range cmds {
						if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
							t.Fatalf("%v: %v: %s", c, err, out)
						}
					}
					return nil
				}
				n.Enforced(t, block, ban, flush)
			})
		}
	}
}

// TestParseIPSetSave: ipset save's output of a set of 20,000 members (read in chunks), an
// IPv6 hash:net set with a prefix and a member with a comment, and a set that is not ours,
// parses to exactly our sets and their members; a member before its set is an error naming
// the line.
func TestParseIPSetSave(t *testing.T) {
	isolateIPSet(t)
	var in strings.Builder
	var want []netip.Prefix
	in.WriteString("create f2b-big hash:ip family inet hashsize 32768 maxelem 65536\n")
	for i := range 20000 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		want = append(want, p)
		fmt.Fprintf(&in, "add f2b-big %s\n", p.Addr())
	}
	in.WriteString("create f2b-small-v6 hash:net family inet6 comment\nadd f2b-small-v6 2001:db8::/64\n" +
		"add f2b-small-v6 2001:db8:1::7 comment \"by hand\"\ncreate other hash:ip\nadd other 192.0.2.1\n")
	cmd := exec.Command("ipset", "restore")
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ipset restore: %v: %s", err, out)
	}
	sets, err := parseIPSetSave(strings.NewReader(ipsetCmd(t, "save")))
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(sets)); !slices.Equal(got, []string{"f2b-big", "f2b-small-v6"}) {
		t.Fatalf("sets %v", got)
	}
	big := sets["f2b-big"]
	sortPrefixes(big.members)
	if big.typ != "hash:ip" || big.family != "inet" || big.maxelem != 65536 || big.extra || !slices.Equal(big.members, want) {
		t.Errorf("f2b-big: %s %s maxelem %d extra %v, %d members (want 20000 in order: %v)", big.typ, big.family, big.maxelem, big.extra, len(big.members), slices.Equal(big.members, want))
	}
	small := sets["f2b-small-v6"]
	sortPrefixes(small.members)
	if wantV6 := []netip.Prefix{netip.MustParsePrefix("2001:db8::/64"), netip.MustParsePrefix("2001:db8:1::7/128")}; small.typ != "hash:net" || small.family != "inet6" || !small.extra || !slices.Equal(small.members, wantV6) {
		t.Errorf("f2b-small-v6: %s %s extra %v members %v, want hash:net inet6 extra %v", small.typ, small.family, small.extra, small.members, wantV6)
	}
	if _, err := parseIPSetSave(strings.NewReader("create f2b-a hash:ip\nadd f2b-b 192.0.2.1\n")); err == nil || !strings.Contains(err.Error(), "line 2: member of f2b-b before its create line") {
		t.Errorf("a member before its set: %v", err)
	}
	if _, err := parseIPSetSave(strings.NewReader("create f2b-a hash:ip\nadd f2b-a 192.0.2.1\nadd f2b-a nope\n")); err == nil || !strings.Contains(err.Error(), "line 3:") {
		t.Errorf("a bad member: %v", err)
	}
}
