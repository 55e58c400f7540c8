package fw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The backends a Jail's Action names.
const (
	ActionIPTables = "iptables" // the default: chains in iptables' filter table (IPTables)
	ActionIPSet    = "ipset"
	ActionNFTables = "nftables" // sets and chains in the table inet fail2ban-scan (NFTables)
)

// NFTTable is the nftables table, of family inet, that holds the objects of
// the jails whose Action is "nftables". It is ours entirely: anything else in
// it is removed.
const NFTTable = "fail2ban-scan"

// NFTables is the Firewall of the jails whose Action is ActionNFTables: one
// table of its own, inet fail2ban-scan, with per jail J
//
//	set f2b-J-v4 { type ipv4_addr; flags interval; elements = { 192.0.2.7, 203.0.113.0/24 } }
//	set f2b-J-v6 { type ipv6_addr; flags interval; }
//	chain f2b-J {
//		type filter hook input priority filter - 1; policy accept;
//		tcp dport { 25, 465, 587 } ip saddr @f2b-J-v4 reject with icmp port-unreachable
//		tcp dport { 25, 465, 587 } ip6 saddr @f2b-J-v6 reject with icmpv6 port-unreachable
//	}
//
// (drop for BlockType DROP; "meta l4proto { tcp, udp } th dport ..." for
// protocol all; no port match for every port, and then "meta l4proto tcp" or
// udp, or no match at all for protocol all, as the iptables jumps do).
//
// Sizes: a plain set built with sizedFrom addresses or more is declared with
// a size of twice their number (a hash of known size loads twice as fast);
// a set whose size falls under 1.25 times its bans is rebuilt bigger in the
// run's transaction, so a set is never full. Smaller sets, and interval sets
// (rbtree), have no size and take any number of elements. Bans have no
// kernel timeout: the state lifts them.
//
// Reconcile reads the table once ("nft list table"), diffs it against the
// jails, and applies the difference as one transaction: the plan's nft
// commands, sent over netlink as nft -f would send them (nftlink.go). Jails of
// other backends are not its own: their sets and chains, if any, go. With no
// jail of its own, the table is deleted.
type NFTables struct {
	cmd string
	// Cache, when set, is the file where a run keeps the table it left (see
	// nftcache.go), so that the next one need not list it while nothing
	// has changed.
	Cache string
}

// NewNFTables returns the nftables Firewall running cmd ("" = "nft", looked
// up in $PATH then in the sbin directories). It runs nothing until Reconcile
// or Flush.
func NewNFTables(cmd string) *NFTables {
	if cmd == "" {
		cmd = "nft"
	}
	return &NFTables{cmd: cmd}
}

var _ Firewall = (*NFTables)(nil)

// Reconcile implements Firewall for the jails whose Action is "nftables";
// the others and managed are not wanted in the table. When nft is not
// installed and no jail is its own, the plan is empty and there is no error;
// when the table does not exist and no jail is its own, likewise (so that
// hosts without nftables jails see no nftables lines).
func (f *NFTables) Reconcile(ctx context.Context, jails []Jail, managed []string, dryRun bool) (*Plan, error) {
	if err := validate(jails, managed); err != nil {
		return nil, err
	}
	own, managed := OwnJails(jails, managed, ActionNFTables)
	return f.apply(ctx, own, dryRun)
}

// Flush implements Firewall: it deletes the table, whichever jails are named.
func (f *NFTables) Flush(ctx context.Context, jails []string) (*Plan, error) {
	if err := validate(nil, jails); err != nil {
		return nil, err
	}
	return f.apply(ctx, nil, false)
}

func (f *NFTables) apply(ctx context.Context, jails []Jail, dryRun bool) (*Plan, error) {
	plan := &Plan{Families: []FamilyPlan{{Family: NFT}}}
	fp := &plan.Families[0]
	path, err := nftPath(f.cmd)
	if err != nil {
		if len(jails) == 0 {
			return &Plan{}, nil
		}
		fp.Failed = err.Error()
		return plan, err
	}
	// The generation before and after the listing: when they are one, the
	// listing is the table of that generation, and what it became can be
	// kept (see nftcache.go).
	gen, genErr := nftGen()
	input, base := inputSum(jails), baseSum(jails)
	var cur *nftLive
	if genErr == nil {
		var madeFor string
		cur, madeFor = f.readCache(gen, input)
		switch {
		case input != "" && madeFor == input:
			return plan, nil // the table of the cache, made for the same jails and bans
		case cur != nil && base != "" && madeFor == base: // the same but some bans
			if plan, ok, err := f.lift(ctx, cur, jails, gen, input, dryRun); ok {
				return plan, err
			}
		}
	}
	jails = loaded(jails)
	cached := cur != nil
	if !cached {
		if cur, err = readNFT(ctx, path); err != nil {
			fp.Failed = err.Error()
			return plan, err
		}
		if g, err := nftGen(); genErr == nil && (err != nil || g != gen) {
			genErr = errors.New("the ruleset changed while it was listed")
		}
	}
	if !cur.exists && len(jails) == 0 {
		return &Plan{}, nil
	}
	want := nftWant(jails)
	fp.Ops = nftDiff(cur, jails, want)
	if dryRun {
		return plan, nil
	}
	if len(fp.Ops) == 0 {
		if genErr == nil && (!cached || input != "") {
			f.writeCache(gen, cur.listing(), input) // now known to be the table for input
		}
		return plan, nil
	}
	// What the table becomes is made ready while nft runs (100,000 elements: tens of ms).
	next := make(chan []byte, 1)
	go func() { next <- wantLive(cur, jails, want).listing() }()
	if err := applyNFT(ctx, fp.Ops, cur, jails); err != nil {
		fp.Failed = err.Error()
		return plan, fmt.Errorf("apply %s to nftables: %w", Changes(fp.Count()), err)
	}
	// Ours is the only transaction since the listing: the table is now
	// exactly what was asked for.
	if g, err := nftGen(); genErr == nil && err == nil && g == gen+1 {
		f.writeCache(g, <-next, input)
	}
	return plan, nil
}

// OwnJails splits jails into those whose Action is one of actions ("" is
// ActionIPTables) and the others, whose names are appended to (a copy of)
// managed: a backend removes its objects of the jails that are not its own.
func OwnJails(jails []Jail, managed []string, actions ...string) ([]Jail, []string) {
	var own []Jail
	others := slices.Clone(managed)
	for _, j := range jails {
		a := j.Action
		if a == "" {
			a = ActionIPTables
		}
		if slices.Contains(actions, a) {
			own = append(own, j)
		} else if !slices.Contains(others, j.Name) {
			others = append(others, j.Name)
		}
	}
	return own, others
}

// nftPath resolves the nft command like lookPath.
func nftPath(cmd string) (string, error) {
	if p, err := exec.LookPath(cmd); err == nil {
		return p, nil
	}
	if !strings.Contains(cmd, "/") {
		for _, d := range sbinDirs {
			if p, err := exec.LookPath(filepath.Join(d, cmd)); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not found in $PATH nor in %s (is nftables installed?)", cmd, strings.Join(sbinDirs, ", "))
}

const nftTableRef = "inet " + NFTTable

// nftHook is a jail chain's declaration, as nft 1.0.6 lists it: before
// iptables' INPUT (priority filter).
const nftHook = "type filter hook input priority filter - 1; policy accept;"

func setNames(jail string) [2]string {
	return [2]string{ChainName(jail) + "-v4", ChainName(jail) + "-v6"}
}

// sizedFrom is the fewest addresses a plain set is built with a size for. A
// hash set of known size takes half the kernel's time to load (100,000
// addresses: 0.16 s against 0.32 s), but it takes its buckets at once (an
// empty set of size 65,536: 1-2 MB of kernel memory), so small sets have
// none: they grow as needed.
const sizedFrom = 10000

// setDecl is the declaration of a new set of fam (IPv4 or IPv6) holding
// bans, as nft lists it line by line: "flags interval" only when a ban is a
// prefix (like ipset's hash:net), as an interval set is several times slower
// to load and to list (100,000 addresses: 3.2 s against 0.57 s to load);
// else "size" twice their number when there are sizedFrom or more.
func setDecl(fam Family, bans []netip.Prefix) []string {
	typ := "type ipv4_addr"
	if fam == IPv6 {
		typ = "type ipv6_addr"
	}
	for _, p := range bans {
		if !p.IsSingleIP() {
			return []string{typ, "flags interval"}
		}
	}
	if len(bans) >= sizedFrom {
		return []string{typ, "size " + strconv.Itoa(2*len(bans))}
	}
	return []string{typ}
}

// declSize is the size a set's declaration gives, 0 for none.
func declSize(decl []string) int {
	for _, d := range decl {
		if n, ok := strings.CutPrefix(d, "size "); ok {
			size, err := strconv.Atoi(n)
			if err != nil || size <= 0 {
				return -1 // not one we write: the set is rebuilt
			}
			return size
		}
	}
	return 0
}

// roomFor reports whether a set of size (declSize; 0: none) has room for n
// elements with the headroom a set keeps: a quarter more.
func roomFor(size, n int) bool {
	return size == 0 || size > 0 && size >= n+n/4
}

// keepDecl reports whether a set declared decl can stay for w: it has
// setDecl's type and flags, and no size or room for w's bans (roomFor). A set
// made without a size keeps none, however many bans it comes to hold.
func keepDecl(decl []string, w wantSet) bool {
	want := setDecl(w.fam, w.bans)
	noSize := func(d string) bool { return strings.HasPrefix(d, "size ") }
	if !slices.Equal(slices.DeleteFunc(slices.Clone(decl), noSize), slices.DeleteFunc(want, noSize)) {
		return false
	}
	size := declSize(decl)
	return size == 0 || !slices.Contains(decl, "flags interval") && roomFor(size, len(w.bans))
}

// nftRules returns the rules of j's chain, as nft 1.0.6 lists them (and as
// they are written). j must be valid.
func nftRules(j Jail) []string {
	proto := strings.ToLower(j.Protocol)
	if proto == "" {
		proto = "tcp"
	}
	var match string
	if allPorts(j.Ports) {
		if proto != "all" {
			match = "meta l4proto " + proto + " "
		}
	} else {
		p := proto
		if p == "all" {
			p = "tcp"
		}
		list, _ := portList(j.Ports, p) // validated
		ports := strings.Split(strings.ReplaceAll(list, ":", "-"), ",")
		// nft lists a set of ports in order: "{ 25, 587 }" for "587,25".
		slices.SortStableFunc(ports, func(a, b string) int { return portStart(a) - portStart(b) })
		set := ports[0]
		if len(ports) > 1 {
			set = "{ " + strings.Join(ports, ", ") + " }"
		}
		if proto == "all" {
			match = "meta l4proto { tcp, udp } th dport " + set + " "
		} else {
			match = proto + " dport " + set + " "
		}
	}
	v4, v6 := "reject with icmp port-unreachable", "reject with icmpv6 port-unreachable"
	if strings.EqualFold(j.BlockType, "DROP") {
		v4, v6 = "drop", "drop"
	}
	sets := setNames(j.Name)
	return []string{
		match + "ip saddr @" + sets[0] + " " + v4,
		match + "ip6 saddr @" + sets[1] + " " + v6,
	}
}

// portStart is the number a port or range ("1000-2000") of portList begins with.
func portStart(p string) int {
	a, _, _ := strings.Cut(p, "-")
	n, _ := strconv.Atoi(a)
	return n
}

// nftLive is the table as "nft list table" printed it.
type nftLive struct {
	exists bool
	sets   map[string]*liveSet
	chains map[string]*liveChain
}

type liveSet struct {
	decl  []string // "type ipv4_addr", "flags interval", ...
	elems []string // as listed: "192.0.2.7", "203.0.113.0/24", "192.0.2.1-192.0.2.5", "192.0.2.9 comment \"x\""
	// bans are the elements of a set made to be listed (wantLive), not read: listed after
	// elems, as elemText writes them, without a string each. nftDiff reads only elems.
	bans []netip.Prefix
}

type liveChain struct {
	hook  string // "type filter hook input priority filter - 1; policy accept;", or "" for a regular chain
	rules []string
}

// readNFT lists the table. A table that does not exist is an empty nftLive.
func readNFT(ctx context.Context, path string) (*nftLive, error) {
	cmd := exec.CommandContext(ctx, path, "list", "table", "inet", NFTTable)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		// nft 1.0.6: "Error: No such file or directory" and the command, underlined.
		if strings.HasPrefix(msg, "Error: No such file or directory") {
			return &nftLive{}, nil
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, fmt.Errorf("read nftables table %s: %w", nftTableRef, &cmdError{Argv: cmd.Args, Err: err, Stderr: firstLine(msg)})
	}
	live, err := parseNFT(out)
	if err != nil {
		return nil, fmt.Errorf("read nftables table %s: %s output: %w", nftTableRef, path, err)
	}
	return live, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// parseNFT parses "nft list table inet fail2ban-scan" (nft 1.0.6's layout:
// one object per block, one declaration or rule per line, elements wrapped
// over lines between "elements = {" and "}"). Blocks of other kinds (map,
// flowtable, counter, ...) are skipped: they are never ours to write.
func parseNFT(out []byte) (*nftLive, error) {
	live := &nftLive{exists: true, sets: map[string]*liveSet{}, chains: map[string]*liveChain{}}
	var (
		set    *liveSet
		chain  *liveChain
		depth  int  // 1 inside the table, 2 inside an object
		inElem bool // inside "elements = { ... }"
		skip   bool // inside an object of another kind
	)
	addElems := func(s string) {
		set.elems = slices.Grow(set.elems, strings.Count(s, ",")+1) // not 20 growths to 100,000
		for e := range strings.SplitSeq(s, ",") {
			if e = strings.TrimSpace(e); e != "" {
				set.elems = append(set.elems, e)
			}
		}
	}
	i := 0
	for line := range strings.Lines(string(out)) { // one copy; the elements are views of it
		i++
		l := strings.TrimSpace(line)
		switch {
		case l == "":
		case inElem:
			body, end := strings.CutSuffix(l, "}")
			addElems(body)
			inElem = !end
		case depth == 0 && l == "table "+nftTableRef+" {":
			depth = 1
		case depth == 1 && strings.HasSuffix(l, " {"):
			depth = 2
			kind, name, _ := strings.Cut(strings.TrimSuffix(l, " {"), " ")
			switch kind {
			case "set":
				set = &liveSet{}
				live.sets[name] = set
			case "chain":
				chain = &liveChain{}
				live.chains[name] = chain
			default:
				skip = true
			}
		case depth == 1 && l == "}":
			depth = 0
		case depth == 2 && l == "}":
			depth, set, chain, skip = 1, nil, nil, false
		case depth == 2 && skip:
		case depth == 2 && set != nil && strings.HasPrefix(l, "elements = {"):
			body, end := strings.CutSuffix(strings.TrimPrefix(l, "elements = {"), "}")
			addElems(body)
			inElem = !end
		case depth == 2 && set != nil:
			set.decl = append(set.decl, l)
		case depth == 2 && chain != nil && strings.HasPrefix(l, "type ") && chain.hook == "" && len(chain.rules) == 0:
			chain.hook = l
		case depth == 2 && chain != nil:
			chain.rules = append(chain.rules, l)
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", i, l)
		}
	}
	if depth != 0 {
		return nil, errors.New("unexpected end of output")
	}
	return live, nil
}

// parseElem returns the prefix a set element stands for: an address, a
// prefix, or a range that is exactly a prefix. Anything else (a range, an
// element with a comment or a timeout) is not one of ours.
func parseElem(e string) (netip.Prefix, bool) {
	if strings.Contains(e, " ") {
		return netip.Prefix{}, false
	}
	if lo, hi, ok := strings.Cut(e, "-"); ok {
		a, err1 := netip.ParseAddr(lo)
		b, err2 := netip.ParseAddr(hi)
		if err1 != nil || err2 != nil || a.Is4() != b.Is4() {
			return netip.Prefix{}, false
		}
		for bits := 0; bits <= a.BitLen(); bits++ {
			p := netip.PrefixFrom(a, bits).Masked()
			if p.Addr() == a && lastAddr(p) == b {
				return p, true
			}
		}
		return netip.Prefix{}, false
	}
	if !strings.Contains(e, "/") {
		a, err := netip.ParseAddr(e)
		if err != nil {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(e)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// lastAddr is the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// elemText renders p as an element: an address without its /32 or /128.
func elemText(p netip.Prefix) string {
	return string(appendElem(nil, p))
}

// appendElem appends elemText(p) to b.
func appendElem(b []byte, p netip.Prefix) []byte {
	if p.IsSingleIP() {
		return p.Addr().AppendTo(b)
	}
	return p.AppendTo(b)
}

// deleteKey is the text that deletes the listed element e: its key, without
// a comment or a timeout.
func deleteKey(e string) string {
	k, _, _ := strings.Cut(e, " ")
	return k
}

// wantSet is the bans a set of ours holds: those of a jail in a family.
type wantSet struct {
	fam  Family
	bans []netip.Prefix // sorted (familyBans)
}

// nftWant returns the sets of jails, by name.
func nftWant(jails []Jail) map[string]wantSet {
	sets := map[string]wantSet{}
	for _, j := range jails {
		for fam, name := range setNames(j.Name) {
			sets[name] = wantSet{Family(fam), familyBans(Family(fam), j.Bans)}
		}
	}
	return sets
}

// nftDiff returns the nft commands that turn cur into the table of jails,
// whose sets are wantSets (nftWant),
// one per line, the elements added to or deleted from a set in one command
// (elemOp). The order keeps every command valid where it runs: chains
// that go or change are flushed, then deleted; sets that go or change are
// deleted; elements deleted, then added (so a prefix can replace its
// members); chains and their rules added last. jails must be valid.
func nftDiff(cur *nftLive, jails []Jail, wantSets map[string]wantSet) []string {
	tref := nftTableRef
	if len(jails) == 0 {
		if cur.exists {
			return []string{"delete table " + tref}
		}
		return nil
	}
	var ops []string
	if !cur.exists {
		ops = append(ops, "add table "+tref)
	}
	wantChains := map[string]Jail{}
	for _, j := range jails {
		wantChains[ChainName(j.Name)] = j
	}

	// Sets that go or are redeclared; the chains that use them are rebuilt.
	var goneSets, newSets []string
	rebuild := map[string]bool{} // chains to flush, delete and add again
	for name, s := range cur.sets {
		w, ok := wantSets[name]
		if !ok {
			goneSets = append(goneSets, name)
		} else if !keepDecl(s.decl, w) {
			goneSets = append(goneSets, name)
			newSets = append(newSets, name)
		}
	}
	for _, j := range jails {
		for _, name := range setNames(j.Name) {
			if _, ok := cur.sets[name]; !ok {
				newSets = append(newSets, name)
			}
			if slices.Contains(goneSets, name) {
				rebuild[ChainName(j.Name)] = true
			}
		}
	}
	// Chains: those that go, and those whose hook or rules differ.
	var goneChains, flushChains, addChains []string
	for name, c := range cur.chains {
		j, ok := wantChains[name]
		switch {
		case !ok || c.hook != nftHook:
			goneChains = append(goneChains, name)
			if ok {
				addChains = append(addChains, name)
			}
		case rebuild[name] || !slices.Equal(c.rules, nftRules(j)):
			flushChains = append(flushChains, name)
		}
	}
	for _, j := range jails {
		if _, ok := cur.chains[ChainName(j.Name)]; !ok {
			addChains = append(addChains, ChainName(j.Name))
		}
	}
	slices.Sort(goneSets)
	slices.Sort(newSets)
	slices.Sort(goneChains)
	slices.Sort(flushChains)
	slices.Sort(addChains)

	// Every chain that goes is flushed first, so none still jumps to another.
	for _, c := range slices.Concat(goneChains, flushChains) {
		if len(cur.chains[c].rules) > 0 {
			ops = append(ops, "flush chain "+tref+" "+c)
		}
	}
	for _, c := range goneChains {
		ops = append(ops, "delete chain "+tref+" "+c)
	}
	for _, s := range goneSets {
		ops = append(ops, "delete set "+tref+" "+s)
	}
	for _, s := range newSets {
		ops = append(ops, "add set "+tref+" "+s+" { "+strings.Join(setDecl(wantSets[s].fam, wantSets[s].bans), "; ")+"; }")
	}
	// Elements of the sets that stay: delete what is not wanted, then add
	// what is missing; a new set gets all of its bans.
	names := make([]string, 0, len(wantSets))
	for n := range wantSets {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		w := wantSets[name]
		dels, adds := newElemOp("delete", name), newElemOp("add", name)
		// A merge of the sorted elements with the sorted bans: no map of 100,000 members.
		type elem struct {
			k    prefixKey
			text string
		}
		var have []elem
		if s, ok := cur.sets[name]; ok && !slices.Contains(goneSets, name) {
			have = make([]elem, 0, len(s.elems))
			for _, e := range s.elems {
				if p, ok := parseElem(e); ok && p.Addr().Is4() == (w.fam == IPv4) {
					have = append(have, elem{keyOfPrefix(p), e})
				} else {
					dels.add(deleteKey(e))
				}
			}
			slices.SortFunc(have, func(a, b elem) int { return a.k.cmp(b.k) })
		}
		i := 0
		for _, p := range w.bans {
			k := keyOfPrefix(p)
			for ; i < len(have) && have[i].k.cmp(k) < 0; i++ {
				dels.add(deleteKey(have[i].text))
			}
			if i < len(have) && have[i].k == k {
				for i++; i < len(have) && have[i].k == k; i++ { // listed twice (as a range, say)
					dels.add(deleteKey(have[i].text))
				}
				continue
			}
			adds.addPrefix(p)
		}
		for ; i < len(have); i++ {
			dels.add(deleteKey(have[i].text))
		}
		ops = dels.appendTo(ops)
		ops = adds.appendTo(ops)
	}
	for _, c := range flushChains {
		for _, r := range nftRules(wantChains[c]) {
			ops = append(ops, "add rule "+tref+" "+c+" "+r)
		}
	}
	for _, c := range addChains {
		ops = append(ops, "add chain "+tref+" "+c+" { "+nftHook+" }")
		for _, r := range nftRules(wantChains[c]) {
			ops = append(ops, "add rule "+tref+" "+c+" "+r)
		}
	}
	return ops
}

// elemOp builds one "add element" or "delete element" command of many
// elements on one set: nft parses one command of 100,000 elements many times
// faster than 100,000 commands, and it is one string instead of 100,000.
// Plan.String shows it one element per line, FamilyPlan.Count counts its
// elements.
type elemOp struct {
	b []byte
	n int // elements
}

func newElemOp(verb, set string) *elemOp {
	return &elemOp{b: []byte(verb + " element " + nftTableRef + " " + set + " { ")}
}

func (o *elemOp) sep() {
	if o.n > 0 {
		o.b = append(o.b, ", "...)
	}
	o.n++
}

// add adds the element e, as an element's text (elemText, deleteKey).
func (o *elemOp) add(e string) {
	o.sep()
	o.b = append(o.b, e...)
}

// addPrefix adds p, as elemText renders it, without a string of its own.
func (o *elemOp) addPrefix(p netip.Prefix) {
	o.sep()
	o.b = appendElem(o.b, p)
}

// appendTo appends the command to ops, when it has elements.
func (o *elemOp) appendTo(ops []string) []string {
	if o.n == 0 {
		return ops
	}
	return append(ops, string(append(o.b, " }"...)))
}

// elemCount is the number of changes an op makes: its elements for an
// elemOp, else 1.
func elemCount(op string) int {
	if !isElemOp(op) {
		return 1
	}
	return strings.Count(op, ", ") + 1
}

func isElemOp(op string) bool {
	return (strings.HasPrefix(op, "add element ") || strings.HasPrefix(op, "delete element ")) && strings.HasSuffix(op, " }")
}

// eachElemOp calls yield with each element of op as a command of its own
// ("add element T S { a }"), or with op when it is not an elemOp.
func eachElemOp(op string, yield func(string)) {
	head, elems, ok := strings.Cut(op, " { ")
	if !ok || !isElemOp(op) {
		yield(op)
		return
	}
	for e := range strings.SplitSeq(strings.TrimSuffix(elems, " }"), ", ") {
		yield(head + " { " + e + " }")
	}
}
