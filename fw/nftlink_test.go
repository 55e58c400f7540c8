package fw

import (
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestNFTLinkAsNFT: the netlink writer makes the table nft -f makes of the same commands. For
// jails of every shape nftRules writes (ports one, many, a range, ranges among ports, all;
// protocols tcp, udp, all; REJECT and DROP; plain and interval sets of both families, an
// address at the end of the address space), a run's plan is applied by the writer and the
// table listed, then the table is deleted and the same plan given to nft -f: the listings must
// be one, and a second run must find nothing to change. The rules' packets are shown matched
// by TestNFTPacket.
func TestNFTLinkAsNFT(t *testing.T) {
	path := isolateNFT(t)
	ctx := context.Background()
	shape := func(name string, ports []string, proto, block string, bans ...string) Jail {
		return nftJail(Jail{Name: name, Ports: ports, Protocol: proto, BlockType: block, Bans: addrs(bans...)})
	}
	jails := []Jail{
		shape("one", []string{"25"}, "", "", "192.0.2.1", "2001:db8::1"),
		shape("many", []string{"smtp", "465", "submission"}, "tcp", "DROP", "192.0.2.0/24", "198.51.100.7", "2001:db8::/48",
			"198.51.100.128/25", "198.51.101.0/24", "198.51.102.0"), // adjacent: an end and a start on one key
		shape("range", []string{"1000:2000"}, "udp", "", "255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
		shape("mixed", []string{"25,1000:2000", "587"}, "all", "", "0.0.0.0/8", "203.0.113.9"),
		shape("ranges", []string{"1:10,65000:65535"}, "tcp", "drop", "255.255.255.0/24", "::/0"),
		shape("allports", nil, "", "", "192.0.2.9"),
		shape("allproto", []string{"all"}, "all", "DROP", "2001:db8::/32", "2001:db9::1"),
		shape("allproto1", nil, "all", "", "192.0.2.200", "192.0.2.201", "192.0.2.202"),
	}
	plan, err := NewNFTables("").Reconcile(ctx, jails, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	byNetlink := nftDump(t)
	if again, err := NewNFTables("").Reconcile(ctx, jails, nil, false); err != nil || !again.Empty() {
		t.Errorf("a second run: %v, plan:\n%s", err, again)
	}
	nftRun(t, "delete", "table", "inet", NFTTable)
	cmd := exec.Command(path, "-f", "-")
	cmd.Stdin = strings.NewReader(strings.Join(plan.Families[0].Ops, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f of the plan: %v: %s", err, out)
	}
	if byNFT := nftDump(t); byNetlink != byNFT {
		t.Errorf("the table the writer made:\n%s\nthe table nft -f made of the same plan:\n%s", byNetlink, byNFT)
	}
	for _, want := range []string{"tcp dport 25 ip saddr", "udp dport 1000-2000", "meta l4proto { tcp, udp } th dport { 25, 587, 1000-2000 }",
		"meta l4proto tcp ip saddr", "255.255.255.255", "2001:db8::/48", "ip6 saddr @f2b-allproto-v6 drop",
		"198.51.100.128/25", "198.51.101.0/24", "198.51.102.0 "} {
		if !strings.Contains(byNetlink, want) {
			t.Errorf("the table lacks %q:\n%s", want, byNetlink)
		}
	}
}

// TestNFTLinkErrors: a batch the kernel refuses changes nothing (the table the batch would have
// made is not there) and the error names the command refused and the kernel's reason; commands
// the writer does not know are refused before anything is sent.
func TestNFTLinkErrors(t *testing.T) {
	isolateNFT(t)
	ctx := context.Background()
	cur := &nftLive{sets: map[string]*liveSet{"gone": {decl: []string{"type ipv4_addr"}}}}
	ops := []string{
		"add table " + nftTableRef,
		"add set " + nftTableRef + " s { type ipv4_addr; }",
		"add element " + nftTableRef + " s { 192.0.2.1, 192.0.2.2 }",
		"add element " + nftTableRef + " gone { 192.0.2.3 }", // listed, but not in the kernel
	}
	err := applyNFT(ctx, ops, cur, nil)
	if err == nil || !strings.Contains(err.Error(), `"add element inet fail2ban-scan gone { 192.0.2.3 }"`) ||
		!strings.Contains(err.Error(), syscall.ENOENT.Error()) {
		t.Errorf("a batch with a set missing: %v; want the command and %q", err, syscall.ENOENT.Error())
	}
	if got := nftDump(t); got != "" {
		t.Errorf("a refused batch left:\n%s", got)
	}
	if err := applyNFT(ctx, ops[:3], cur, nil); err != nil {
		t.Fatal(err)
	}
	if got := nftDump(t); !strings.Contains(got, "192.0.2.1, 192.0.2.2") {
		t.Errorf("the batch without the bad command:\n%s", got)
	}
	j := nftJail(sasl())
	for _, op := range []string{
		"add rule " + nftTableRef + " f2b-sasl ip saddr 192.0.2.1 accept", // not a rule of the jail's
		"add rule " + nftTableRef + " f2b-other " + nftRules(j)[0],        // not a jail's chain
		"add chain " + nftTableRef + " c { type filter hook output priority 0; }",
		"add set " + nftTableRef + " s { type ether_addr; }",
		"add element " + nftTableRef + " s { 192.0.2.1-192.0.2.9 }", // a range in a plain set
		"add element " + nftTableRef + " s { 2001:db8::1 }",         // of the other family
		"add element " + nftTableRef + " nosuch { 192.0.2.1 }",
		"insert rule " + nftTableRef + " f2b-sasl " + nftRules(j)[0],
		"add table ip other",
	} {
		if err := applyNFT(ctx, []string{op}, &nftLive{sets: map[string]*liveSet{"s": {decl: []string{"type ipv4_addr"}}}}, []Jail{j}); err == nil {
			t.Errorf("%q: no error", op)
		}
	}
	if got := nftDump(t); !strings.Contains(got, "192.0.2.1, 192.0.2.2") || strings.Contains(got, "chain") {
		t.Errorf("after the refused commands:\n%s", got)
	}
}

// TestElemRange: the elements nft commands hold, as the first and last addresses the writer
// sends.
func TestElemRange(t *testing.T) {
	for e, want := range map[string][2]string{
		"192.0.2.7":               {"192.0.2.7", "192.0.2.7"},
		"192.0.2.0/24":            {"192.0.2.0", "192.0.2.255"},
		"192.0.2.9/24":            {"192.0.2.0", "192.0.2.255"},
		"192.0.2.1-192.0.2.5":     {"192.0.2.1", "192.0.2.5"},
		"2001:db8::/127":          {"2001:db8::", "2001:db8::1"},
		"2001:db8::1-2001:db8::3": {"2001:db8::1", "2001:db8::3"},
	} {
		lo, hi, err := elemRange(e)
		if err != nil || lo != netip.MustParseAddr(want[0]) || hi != netip.MustParseAddr(want[1]) {
			t.Errorf("%s: %v %v %v, want %v", e, lo, hi, err, want)
		}
	}
	for _, e := range []string{"192.0.2.5-192.0.2.1", "192.0.2.1-2001:db8::1", "x", "192.0.2.1/33", ""} {
		if _, _, err := elemRange(e); err == nil {
			t.Errorf("%q: no error", e)
		}
	}
}
