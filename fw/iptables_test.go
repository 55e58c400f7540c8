package fw

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// These tests run the real iptables, each in a network namespace of its own
// (netnstest.Isolate), for the nft and, when installed, the legacy backend.

type backend struct {
	name   string
	v4, v6 string
}

func (b backend) opts() Options { return Options{IPTables: b.v4, IP6Tables: b.v6} }

func backends() []backend {
	bs := []backend{{"nft", "iptables", "ip6tables"}}
	if _, err := lookPath("iptables-legacy"); err == nil {
		bs = append(bs, backend{"legacy", "iptables-legacy", "ip6tables-legacy"})
	}
	return bs
}

// ipt runs one iptables command line such as "iptables -F f2b-x", where the
// first word names the family and b picks the binary.
func (b backend) ipt(t *testing.T, line string) string {
	t.Helper()
	args := strings.Fields(line)
	bin := b.v4
	if args[0] == "ip6tables" {
		bin = b.v6
	}
	path, err := lookPath(bin)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, append([]string{"-w"}, args[1:]...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", line, err, out)
	}
	return string(out)
}

// dump returns the filter table as iptables -S prints it, with chains in a
// fixed order (builtins, then user chains sorted) and rule order kept, so
// that backends that list chains differently compare equal.
func (b backend) dump(t *testing.T, fam string) string {
	t.Helper()
	var policies, chains []string
	rules := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(b.ipt(t, fam+" -S")), "\n") {
		switch {
		case strings.HasPrefix(l, "-P "):
			policies = append(policies, l)
		case strings.HasPrefix(l, "-N "):
			chains = append(chains, strings.TrimPrefix(l, "-N "))
		default:
			c := strings.Fields(l)[1]
			rules[c] = append(rules[c], l)
		}
	}
	slices.Sort(chains)
	out := slices.Clone(policies)
	for _, c := range chains {
		out = append(out, "-N "+c)
	}
	for _, c := range append([]string{"INPUT", "FORWARD", "OUTPUT"}, chains...) {
		out = append(out, rules[c]...)
	}
	return strings.Join(out, "\n")
}

const builtins = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"

// sasl is the usual jail with bans.
func sasl(bans ...string) Jail {
	return Jail{Name: "sasl", Ports: []string{"smtp", "465", "submission"}, Protocol: "tcp", BlockType: "REJECT", Bans: addrs(bans...)}
}

const (
	saslJump    = "-A INPUT -p tcp -m multiport --dports 25,465,587 -j f2b-sasl"
	saslReturn  = "-A f2b-sasl -j RETURN"
	reject1     = "-A f2b-sasl -s 192.0.2.1/32 -j REJECT --reject-with icmp-port-unreachable"
	reject2     = "-A f2b-sasl -s 192.0.2.2/32 -j REJECT --reject-with icmp-port-unreachable"
	reject3     = "-A f2b-sasl -s 192.0.2.3/32 -j REJECT --reject-with icmp-port-unreachable"
	saslEmpty6  = builtins + "-N f2b-sasl\n" + saslJump + "\n" + saslReturn
	saslTwoBans = builtins + "-N f2b-sasl\n" + saslJump + "\n" + reject1 + "\n" + reject2 + "\n" + saslReturn
)

func TestReconcile(t *testing.T) {
	tests := []struct {
		name    string
		before  []Jail   // reconciled first, when not nil
		edit    []string // then these commands run
		jails   []Jail
		managed []string
		want4   string
		want6   string // "" = not checked
	}{
		{
			name:  "ban",
			jails: []Jail{sasl("192.0.2.2", "192.0.2.1")},
			want4: saslTwoBans,
			want6: saslEmpty6,
		},
		{
			name:   "unban and ban",
			before: []Jail{sasl("192.0.2.1", "192.0.2.2")},
			jails:  []Jail{sasl("192.0.2.1", "192.0.2.3")},
			want4:  builtins + "-N f2b-sasl\n" + saslJump + "\n" + reject3 + "\n" + reject1 + "\n" + saslReturn,
		},
		{
			name:   "unban all",
			before: []Jail{sasl("192.0.2.1", "192.0.2.2")},
			jails:  []Jail{sasl()},
			want4:  saslEmpty6,
		},
		{
			name:   "heal a flushed chain",
			before: []Jail{sasl("192.0.2.1", "192.0.2.2")},
			edit:   []string{"iptables -F f2b-sasl"},
			jails:  []Jail{sasl("192.0.2.1", "192.0.2.2")},
			want4:  saslTwoBans,
		},
		{
			name:   "heal a deleted chain and jump",
			before: []Jail{sasl("192.0.2.1", "192.0.2.2")},
			edit:   []string{"iptables -D " + saslJump[3:], "iptables -F f2b-sasl", "iptables -X f2b-sasl"},
			jails:  []Jail{sasl("192.0.2.1", "192.0.2.2")},
			want4:  saslTwoBans,
		},
		{
			name:   "heal a partly edited chain",
			before: []Jail{sasl("192.0.2.1", "192.0.2.2")},
			edit:   []string{"iptables -D " + reject1[3:], "iptables -I f2b-sasl 2 -s 203.0.113.9 -j ACCEPT"},
			jails:  []Jail{sasl("192.0.2.1", "192.0.2.2")},
			want4:  saslTwoBans,
		},
		{
			name:   "heal a missing ban and RETURN",
			before: []Jail{sasl("192.0.2.1", "192.0.2.2")},
			edit:   []string{"iptables -D " + reject1[3:], "iptables -D " + saslReturn[3:]},
			jails:  []Jail{sasl("192.0.2.1", "192.0.2.2")},
			want4:  builtins + "-N f2b-sasl\n" + saslJump + "\n" + reject1 + "\n" + reject2 + "\n" + saslReturn,
		},
		{
			name:   "duplicate jump removed, jump moved above a foreign rule",
			before: []Jail{sasl("192.0.2.1")},
			edit:   []string{"iptables -I INPUT 1 -i lo -j ACCEPT", "iptables " + saslJump},
			jails:  []Jail{sasl("192.0.2.1")},
			want4:  builtins + "-N f2b-sasl\n" + saslJump + "\n-A INPUT -i lo -j ACCEPT\n" + reject1 + "\n" + saslReturn,
		},
		{
			name: "foreign rules and chains intact",
			edit: []string{
				"iptables -N mine", "iptables -A mine -s 10.0.0.1/32 -j ACCEPT",
				"iptables -A INPUT -s 10.0.0.0/8 -j mine", "iptables -A INPUT -p tcp --dport 22 -j ACCEPT",
				"iptables -N f2b-sshd", "iptables -A f2b-sshd -s 192.0.2.9 -j REJECT", "iptables -A f2b-sshd -j RETURN",
				"iptables -I INPUT 1 -p tcp -m multiport --dports 22 -j f2b-sshd",
			},
			jails:   []Jail{sasl("192.0.2.1")},
			managed: []string{"sasl", "dovecot"},
			want4: builtins + "-N f2b-sasl\n-N f2b-sshd\n-N mine\n" + saslJump +
				"\n-A INPUT -p tcp -m multiport --dports 22 -j f2b-sshd\n-A INPUT -s 10.0.0.0/8 -j mine\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n" +
				reject1 + "\n" + saslReturn + "\n-A f2b-sshd -s 192.0.2.9/32 -j REJECT --reject-with icmp-port-unreachable\n-A f2b-sshd -j RETURN\n-A mine -s 10.0.0.1/32 -j ACCEPT",
		},
		{
			name:    "disabled jail removed",
			before:  []Jail{sasl("192.0.2.1"), {Name: "dovecot", Ports: []string{"imap"}, Bans: addrs("192.0.2.1", "2001:db8::1")}},
			jails:   []Jail{sasl("192.0.2.1")},
			managed: []string{"sasl", "dovecot"},
			want4:   builtins + "-N f2b-sasl\n" + saslJump + "\n" + reject1 + "\n" + saslReturn,
			want6:   saslEmpty6,
		},
		{
			name:    "disabled jail's chain used elsewhere is flushed, not deleted",
			before:  []Jail{{Name: "dovecot", Ports: []string{"imap"}, Bans: addrs("192.0.2.1")}},
			edit:    []string{"iptables -A FORWARD -j f2b-dovecot"},
			managed: []string{"dovecot"},
			want4:   builtins + "-N f2b-dovecot\n-A FORWARD -j f2b-dovecot",
		},
		{
			name:   "admin's jump to our chain kept",
			before: []Jail{sasl("192.0.2.1")},
			edit:   []string{"iptables -A INPUT -p tcp --dport 143 -j f2b-sasl"},
			jails:  []Jail{sasl("192.0.2.1")},
			want4:  builtins + "-N f2b-sasl\n" + saslJump + "\n-A INPUT -p tcp -m tcp --dport 143 -j f2b-sasl\n" + reject1 + "\n" + saslReturn,
		},
		{
			name:    "disabled jail with an admin's jump: chain flushed, not deleted",
			before:  []Jail{sasl("192.0.2.1")},
			edit:    []string{"iptables -A INPUT -p tcp --dport 143 -j f2b-sasl"},
			managed: []string{"sasl"},
			want4:   builtins + "-N f2b-sasl\n-A INPUT -p tcp -m tcp --dport 143 -j f2b-sasl",
		},
		{
			name:  "IPv6",
			jails: []Jail{sasl("2001:db8::2", "192.0.2.1", "::102:304", "fe80::1%eth0")},
			want4: builtins + "-N f2b-sasl\n" + saslJump + "\n" + reject1 + "\n" + saslReturn,
			want6: builtins + "-N f2b-sasl\n" + saslJump +
				"\n-A f2b-sasl -s ::1.2.3.4/128 -j REJECT --reject-with icmp6-port-unreachable" +
				"\n-A f2b-sasl -s 2001:db8::2/128 -j REJECT --reject-with icmp6-port-unreachable" +
				"\n-A f2b-sasl -s fe80::1/128 -j REJECT --reject-with icmp6-port-unreachable\n" + saslReturn,
		},
		{
			name:   "prefixes replace their members",
			before: []Jail{sasl("192.0.2.1", "192.0.2.2", "2001:db8:7::5")},
			jails:  []Jail{sasl("192.0.2.0/24", "192.0.2.1", "192.0.2.2", "198.51.100.7", "2001:db8:7::/64", "2001:db8:7::5")},
			want4: builtins + "-N f2b-sasl\n" + saslJump +
				"\n-A f2b-sasl -s 192.0.2.0/24 -j REJECT --reject-with icmp-port-unreachable" +
				"\n-A f2b-sasl -s 198.51.100.7/32 -j REJECT --reject-with icmp-port-unreachable\n" + saslReturn,
			want6: builtins + "-N f2b-sasl\n" + saslJump +
				"\n-A f2b-sasl -s 2001:db8:7::/64 -j REJECT --reject-with icmp6-port-unreachable\n" + saslReturn,
		},
		{
			name:   "prefix lifted, members back",
			before: []Jail{sasl("192.0.2.0/24")},
			jails:  []Jail{sasl("192.0.2.1", "192.0.2.2")},
			want4:  saslTwoBans,
		},
		{
			name:  "DROP",
			jails: []Jail{{Name: "sasl", Ports: []string{"smtp"}, BlockType: "DROP", Bans: addrs("192.0.2.1", "2001:db8::1")}},
			want4: builtins + "-N f2b-sasl\n-A INPUT -p tcp -m multiport --dports 25 -j f2b-sasl\n-A f2b-sasl -s 192.0.2.1/32 -j DROP\n" + saslReturn,
			want6: builtins + "-N f2b-sasl\n-A INPUT -p tcp -m multiport --dports 25 -j f2b-sasl\n-A f2b-sasl -s 2001:db8::1/128 -j DROP\n" + saslReturn,
		},
		{
			name:   "blocktype changed",
			before: []Jail{sasl("192.0.2.1")},
			jails:  []Jail{{Name: "sasl", Ports: []string{"smtp", "465", "submission"}, BlockType: "DROP", Bans: addrs("192.0.2.1")}},
			want4:  builtins + "-N f2b-sasl\n" + saslJump + "\n-A f2b-sasl -s 192.0.2.1/32 -j DROP\n" + saslReturn,
		},
		{
			name:  "port all",
			jails: []Jail{{Name: "sasl", Ports: []string{"all"}, Protocol: "tcp"}},
			want4: builtins + "-N f2b-sasl\n-A INPUT -p tcp -j f2b-sasl\n" + saslReturn,
		},
		{
			name:  "protocol all, port all",
			jails: []Jail{{Name: "sasl", Protocol: "all"}},
			want4: builtins + "-N f2b-sasl\n-A INPUT -j f2b-sasl\n" + saslReturn,
		},
		{
			name:  "protocol udp, range",
			jails: []Jail{{Name: "sasl", Ports: []string{"domain", "1000:2000"}, Protocol: "udp"}},
			want4: builtins + "-N f2b-sasl\n-A INPUT -p udp -m multiport --dports 53,1000:2000 -j f2b-sasl\n" + saslReturn,
		},
		{
			name:   "protocol all with ports, after a port change",
			before: []Jail{sasl()},
			jails:  []Jail{{Name: "sasl", Ports: []string{"smtp", "submissions"}, Protocol: "all"}},
			want4: builtins + "-N f2b-sasl\n-A INPUT -p tcp -m multiport --dports 25,465 -j f2b-sasl\n" +
				"-A INPUT -p udp -m multiport --dports 25,465 -j f2b-sasl\n" + saslReturn,
		},
	}
	for _, b := range backends() {
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				netnstest.Isolate(t)
				ctx := context.Background()
				fw := New(b.opts())
				if tt.before != nil {
					if _, err := fw.Reconcile(ctx, tt.before, nil, false); err != nil {
						t.Fatalf("before: %v", err)
					}
				}
				for _, line := range tt.edit {
					b.ipt(t, line)
				}
				plan, err := fw.Reconcile(ctx, tt.jails, tt.managed, false)
				if err != nil {
					t.Fatalf("Reconcile: %v\nplan:\n%s", err, plan)
				}
				if got := b.dump(t, "iptables"); got != tt.want4 {
					t.Errorf("iptables -S:\n%s\nwant:\n%s\nplan:\n%s", got, tt.want4, plan)
				}
				if got := b.dump(t, "ip6tables"); tt.want6 != "" && got != tt.want6 {
					t.Errorf("ip6tables -S:\n%s\nwant:\n%s\nplan:\n%s", got, tt.want6, plan)
				}
				again, err := fw.Reconcile(ctx, tt.jails, tt.managed, false)
				if err != nil || !again.Empty() {
					t.Errorf("second Reconcile is not a no-op: %v\n%s", err, again)
				}
			})
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	netnstest.Isolate(t)
	b := backends()[0]
	fw := New(b.opts())
	plan, err := fw.Reconcile(context.Background(), []Jail{sasl("192.0.2.1", "2001:db8::1")}, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.dump(t, "iptables"); got != strings.TrimSpace(builtins) {
		t.Errorf("dry run changed the table:\n%s", got)
	}
	want := "iptables: 4 changes\n" +
		"  -N f2b-sasl\n" +
		"  -A f2b-sasl -s 192.0.2.1/32 -j REJECT --reject-with icmp-port-unreachable\n" +
		"  -A f2b-sasl -j RETURN\n" +
		"  -I INPUT 1 -p tcp -m multiport --dports 25,465,587 -j f2b-sasl\n" +
		"ip6tables: 4 changes\n" +
		"  -N f2b-sasl\n" +
		"  -A f2b-sasl -s 2001:db8::1/128 -j REJECT --reject-with icmp6-port-unreachable\n" +
		"  -A f2b-sasl -j RETURN\n" +
		"  -I INPUT 1 -p tcp -m multiport --dports 25,465,587 -j f2b-sasl\n"
	if plan.String() != want {
		t.Errorf("plan:\n%s\nwant:\n%s", plan, want)
	}
}

func TestFlush(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			netnstest.Isolate(t)
			ctx := context.Background()
			fw := New(b.opts())
			jails := []Jail{sasl("192.0.2.1", "2001:db8::1"), {Name: "dovecot", Protocol: "all", Ports: []string{"imap"}}}
			if _, err := fw.Reconcile(ctx, jails, nil, false); err != nil {
				t.Fatal(err)
			}
			b.ipt(t, "iptables -A INPUT -i lo -j ACCEPT")
			b.ipt(t, "iptables -N f2b-sshd")
			if _, err := fw.Flush(ctx, []string{"sasl", "dovecot", "never-enabled"}); err != nil {
				t.Fatal(err)
			}
			if got, want := b.dump(t, "iptables"), builtins+"-N f2b-sshd\n-A INPUT -i lo -j ACCEPT"; got != want {
				t.Errorf("iptables -S after Flush:\n%s\nwant:\n%s", got, want)
			}
			if got, want := b.dump(t, "ip6tables"), strings.TrimSpace(builtins); got != want {
				t.Errorf("ip6tables -S after Flush:\n%s\nwant:\n%s", got, want)
			}
			plan, err := fw.Flush(ctx, []string{"sasl", "dovecot"})
			if err != nil || !plan.Empty() {
				t.Errorf("second Flush: %v\n%s", err, plan)
			}
		})
	}
}

func TestReconcile10k(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			netnstest.Isolate(t)
			ctx := context.Background()
			fw := New(b.opts())
			j := Jail{Name: "sasl", Ports: []string{"smtp"}, Bans: bans10k(0)}
			plan, err := fw.Reconcile(ctx, []Jail{j}, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			// One transaction: every change is in the IPv4 family's one
			// restore script (restore is atomic; TestRestoreError).
			if n := len(plan.Families[IPv4].Ops); n != 10000+3 {
				t.Errorf("plan has %d IPv4 changes, want 10003", n)
			}
			rules := strings.Split(strings.TrimSpace(b.ipt(t, "iptables -S f2b-sasl")), "\n")
			if len(rules) != 1+10000+1 || rules[len(rules)-1] != saslReturn {
				t.Errorf("f2b-sasl has %d lines, last %q", len(rules), rules[len(rules)-1])
			}
			// Half unbanned, half new: rebuilt, cheaper than 5,000 -D
			// (chainDiff's costs).
			j.Bans = bans10k(5000)
			if plan, err = fw.Reconcile(ctx, []Jail{j}, nil, false); err != nil {
				t.Fatal(err)
			}
			if ops := plan.Families[IPv4].Ops; len(ops) != 1+10000+1 || ops[0] != "-F f2b-sasl" {
				t.Errorf("plan has %d IPv4 changes, want 10002 starting with -F f2b-sasl", len(ops))
			}
			rules = strings.Split(strings.TrimSpace(b.ipt(t, "iptables -S f2b-sasl")), "\n")
			if len(rules) != 1+10000+1 || rules[1] != "-A f2b-sasl -s 10.0.19.136/32 -j REJECT --reject-with icmp-port-unreachable" {
				t.Errorf("f2b-sasl has %d lines, first rule %q", len(rules), rules[1])
			}
			if plan, err = fw.Reconcile(ctx, []Jail{j}, nil, false); err != nil || !plan.Empty() {
				t.Errorf("rerun is not a no-op: %v", err)
			}
		})
	}
}

// bans10k returns 10,000 IPv4 addresses from 10.0.0.0 + from.
func bans10k(from int) []netip.Prefix {
	out := make([]netip.Prefix, 10000)
	for i := range out {
		n := from + i
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), 32)
	}
	return out
}

func TestRestoreError(t *testing.T) {
	netnstest.Isolate(t)
	b := backends()[0]
	path, err := lookPath("iptables-restore")
	if err != nil {
		t.Fatal(err)
	}
	p, err := start(context.Background(), path, []string{"--noflush", "-w"}, script([]string{"-N f2b-a", "-A f2b-a -j RETURN", "-A f2b-nope -j RETURN"}))
	if err != nil {
		t.Fatal(err)
	}
	err = p.wait()
	for _, want := range []string{"running " + path + " --noflush -w: exit status", "f2b-nope", `(input line 4: -A f2b-nope -j RETURN)`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to contain %q", err, want)
		}
	}
	if got := b.dump(t, "iptables"); got != strings.TrimSpace(builtins) {
		t.Errorf("a failed restore changed the table:\n%s", got)
	}
}

func TestUnusableBinaries(t *testing.T) {
	netnstest.Isolate(t)
	ctx := context.Background()
	b := backends()[0]

	t.Run("no iptables", func(t *testing.T) {
		fw := New(Options{IPTables: "/nonexistent/iptables", IP6Tables: "/nonexistent/ip6tables"})
		plan, err := fw.Reconcile(ctx, []Jail{sasl("192.0.2.1")}, nil, false)
		if err == nil || !strings.Contains(err.Error(), "/nonexistent/iptables") || strings.Contains(err.Error(), "ip6tables") {
			t.Errorf("error %v, want one naming /nonexistent/iptables only", err)
		}
		if plan == nil || !strings.Contains(plan.String(), "ip6tables: skipped: /nonexistent/ip6tables") {
			t.Errorf("plan:\n%s", plan)
		}
		if _, err := New(Options{IPTables: "no-such-iptables"}).Flush(ctx, []string{"x"}); err == nil ||
			!strings.Contains(err.Error(), "no-such-iptables not found in $PATH nor in /usr/sbin") {
			t.Errorf("Flush error %v", err)
		}
	})
	t.Run("no ip6tables but IPv6 bans", func(t *testing.T) {
		fw := New(Options{IPTables: b.v4, IP6Tables: "/nonexistent/ip6tables"})
		_, err := fw.Reconcile(ctx, []Jail{sasl("192.0.2.1", "2001:db8::1")}, nil, false)
		if err == nil || !strings.Contains(err.Error(), "/nonexistent/ip6tables") {
			t.Errorf("error %v, want one naming /nonexistent/ip6tables", err)
		}
		if got, want := b.dump(t, "iptables"), builtins+"-N f2b-sasl\n"+saslJump+"\n"+reject1+"\n"+saslReturn; got != want {
			t.Errorf("IPv4 not applied:\n%s", got)
		}
	})
}

func BenchmarkReconcile10k(b *testing.B) {
	netnstest.Require(b)
	ctx := context.Background()
	fw := New(Options{})
	j := []Jail{{Name: "bench", Ports: []string{"smtp"}, Bans: bans10k(0)}}
	for b.Loop() {
		b.StopTimer()
		if _, err := fw.Flush(ctx, []string{"bench"}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := fw.Reconcile(ctx, j, nil, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReconcile10kNoop(b *testing.B) {
	netnstest.Require(b)
	ctx := context.Background()
	fw := New(Options{})
	j := []Jail{{Name: "bench", Ports: []string{"smtp"}, Bans: bans10k(0)}}
	if _, err := fw.Reconcile(ctx, j, nil, false); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		p, err := fw.Reconcile(ctx, j, nil, false)
		if err != nil || !p.Empty() {
			b.Fatal(err, p)
		}
	}
	b.StopTimer()
	_, _ = fw.Flush(ctx, []string{"bench"})
}

// legacyBackend returns the legacy backend, or skips t when it is not installed.
func legacyBackend(t *testing.T) backend {
	t.Helper()
	bs := backends()
	if len(bs) < 2 {
		t.Skip("iptables-legacy is not installed")
	}
	return bs[1]
}

func TestOtherBackendHoldsOurChains(t *testing.T) {
	netnstest.Isolate(t)
	ctx := context.Background()
	nft, leg := backends()[0], legacyBackend(t)
	if bin, err := New(nft.opts()).binaries(ctx, IPv4); err != nil || bin.backend != nfTables {
		t.Skipf("iptables is not the nf_tables one here: %+v, %v", bin, err)
	}
	fw := New(nft.opts())
	jails := []Jail{sasl("192.0.2.1", "2001:db8::1")}

	// Legacy tables that hold nothing of ours are no obstacle.
	leg.ipt(t, "iptables -N mine")
	leg.ipt(t, "iptables -N f2b-sshd") // not a jail of ours (fail2ban's, say)
	if _, err := fw.Reconcile(ctx, jails, nil, false); err != nil {
		t.Fatalf("Reconcile with unrelated legacy chains: %v", err)
	}
	if _, err := fw.Flush(ctx, []string{"sasl"}); err != nil {
		t.Fatal(err)
	}

	// Our chain in legacy: IPv4 refused, nothing applied there; IPv6
	// (no legacy ip6tables table) applied.
	leg.ipt(t, "iptables -N f2b-sasl")
	for _, dry := range []bool{true, false} {
		plan, err := fw.Reconcile(ctx, jails, []string{"old", "sasl"}, dry) // as the command passes them: sasl in both
		for _, want := range []string{"iptables is nf_tables (", "but f2b-sasl is in legacy's filter table too (", "iptables-legacy-save): nothing applied",
			"iptables-legacy -F CHAIN", "or make iptables the legacy one"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("dry run %v: error %v, want it to contain %q", dry, err, want)
			}
		}
		if err != nil && (strings.Contains(err.Error(), "f2b-sshd") || strings.Contains(err.Error(), "f2b-sasl,")) {
			t.Errorf("error names a chain that is not ours, or one twice: %v", err)
		}
		if plan == nil || plan.Families[IPv4].Failed == "" || len(plan.Families[IPv4].Ops) == 0 {
			t.Errorf("plan:\n%s", plan)
		}
	}
	if got := nft.dump(t, "iptables"); got != strings.TrimSpace(builtins) {
		t.Errorf("iptables (nf_tables) changed:\n%s", got)
	}
	if got, want := nft.dump(t, "ip6tables"), builtins+"-N f2b-sasl\n"+saslJump+"\n-A f2b-sasl -s 2001:db8::1/128 -j REJECT --reject-with icmp6-port-unreachable\n"+saslReturn; got != want {
		t.Errorf("ip6tables (nf_tables):\n%s\nwant:\n%s", got, want)
	}
	// The chain of a jail only managed (removed from the config) counts too.
	if _, err := fw.Reconcile(ctx, nil, []string{"sasl"}, false); err == nil || !strings.Contains(err.Error(), "f2b-sasl") {
		t.Errorf("managed chain in legacy: error %v", err)
	}
	if got := leg.dump(t, "iptables"); got != builtins+"-N f2b-sasl\n-N f2b-sshd\n-N mine" {
		t.Errorf("iptables-legacy changed:\n%s", got)
	}

	// Once deleted there, the run goes through.
	leg.ipt(t, "iptables -X f2b-sasl")
	if _, err := fw.Reconcile(ctx, jails, nil, false); err != nil {
		t.Fatal(err)
	}
	if got := nft.dump(t, "iptables"); got != builtins+"-N f2b-sasl\n"+saslJump+"\n"+reject1+"\n"+saslReturn {
		t.Errorf("iptables (nf_tables):\n%s", got)
	}
}

func TestBackendDetection(t *testing.T) {
	netnstest.Isolate(t)
	ctx := context.Background()
	nft, leg := backends()[0], legacyBackend(t)
	multi, err := lookPath("xtables-legacy-multi")
	if err != nil {
		t.Skip(err)
	}
	legacy4, err := lookPath("iptables-legacy")
	if err != nil {
		t.Fatal(err)
	}
	legacy6, err := lookPath("ip6tables-legacy")
	if err != nil {
		t.Fatal(err)
	}
	symlinks := t.TempDir() // iptables -> xtables-legacy-multi, as update-alternatives makes it
	wrapper := t.TempDir()  // iptables: a script, told only by its --version
	for _, name := range []string{"iptables", "ip6tables"} {
		if err := os.Symlink(multi, filepath.Join(symlinks, name)); err != nil {
			t.Fatal(err)
		}
		target := legacy4
		if name == "ip6tables" {
			target = legacy6
		}
		if err := os.WriteFile(filepath.Join(wrapper, name), []byte("#!/bin/sh\nexec "+target+" \"$@\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, dir := range map[string]string{"symlink to xtables-legacy-multi": symlinks, "wrapper script": wrapper} {
		t.Run(name, func(t *testing.T) {
			netnstest.Isolate(t) // a subtest runs on a goroutine of its own
			fw := New(Options{IPTables: filepath.Join(dir, "iptables"), IP6Tables: filepath.Join(dir, "ip6tables")})
			for fam := range []Family{IPv4, IPv6} {
				bin, err := fw.binaries(ctx, Family(fam))
				if err != nil {
					t.Fatal(err)
				}
				want := Family(fam).String() + "-legacy-"
				if bin.backend != legacy || filepath.Base(bin.save) != want+"save" || filepath.Base(bin.restore) != want+"restore" ||
					filepath.Base(bin.other) != Family(fam).String()+"-nft-save" {
					t.Errorf("%s: %+v", Family(fam), bin)
				}
			}
			if _, err := fw.Reconcile(ctx, []Jail{sasl("192.0.2.1")}, nil, false); err != nil {
				t.Fatal(err)
			}
			if got, want := leg.dump(t, "iptables"), builtins+"-N f2b-sasl\n"+saslJump+"\n"+reject1+"\n"+saslReturn; got != want {
				t.Errorf("iptables-legacy:\n%s\nwant:\n%s", got, want)
			}
			if got := nft.dump(t, "iptables"); got != strings.TrimSpace(builtins) {
				t.Errorf("iptables-nft changed:\n%s", got)
			}
		})
	}
	// And the other way round: legacy is the backend, our chain is in nf_tables.
	nft.ipt(t, "iptables -N f2b-sasl")
	_, err = New(Options{IPTables: filepath.Join(symlinks, "iptables"), IP6Tables: filepath.Join(symlinks, "ip6tables")}).
		Reconcile(ctx, []Jail{sasl("192.0.2.1")}, nil, false)
	if err == nil || !strings.Contains(err.Error(), "iptables is legacy (") || !strings.Contains(err.Error(), "f2b-sasl is in nf_tables's filter table too") {
		t.Errorf("error %v", err)
	}
}
