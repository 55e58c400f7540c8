package fw

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// table is one family's filter table as iptables-save prints it: each
// chain's rules in order, without the leading "-A CHAIN ". A chain with no
// rules is present with an empty slice.
type table map[string][]string

// parseSave reads the *filter section of iptables-save (or ip6tables-save)
// output as it comes. Other tables are ignored.
func parseSave(r io.Reader) (table, error) {
	t := table{}
	inFilter := false
	var last string // rules of a chain are consecutive: skip the map lookup
	var rules []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for i := 1; sc.Scan(); i++ {
		line := sc.Text()
		switch {
		case line == "" || line[0] == '#':
		case line[0] == '*':
			inFilter = line == "*filter"
		case !inFilter:
		case line == "COMMIT":
			inFilter = false
		case line[0] == ':':
			name, _, _ := strings.Cut(line[1:], " ")
			if _, ok := t[name]; !ok {
				t[name] = []string{}
			}
		case strings.HasPrefix(line, "-A "):
			chain, rule, _ := strings.Cut(line[len("-A "):], " ")
			if chain != last {
				if last != "" {
					t[last] = rules
				}
				last, rules = chain, t[chain]
			}
			rules = append(rules, rule)
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", i, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if last != "" {
		t[last] = rules
	}
	return t, nil
}

// ownJump reports whether rule, an INPUT rule as iptables-save prints it, is
// a jump this package writes to one of chains: exactly "-j C",
// "-p tcp|udp -j C" or "-p tcp|udp -m multiport --dports LIST -j C", LIST
// made of digits, ',' and ':' (any list, so that our jump is still known
// after the jail's ports changed). Any other rule that jumps to C, such as an
// admin's "-p tcp -m tcp --dport 143 -j C", is not ours: it is left alone,
// and it keeps C from being deleted (see diff).
func ownJump(rule string, chains map[string]bool) bool {
	f := strings.Fields(rule)
	n := len(f)
	if n < 2 || f[n-2] != "-j" || !chains[f[n-1]] {
		return false
	}
	proto := func() bool { return f[0] == "-p" && (f[1] == "tcp" || f[1] == "udp") }
	switch n {
	case 2:
		return true
	case 4:
		return proto()
	case 8:
		return proto() && f[2] == "-m" && f[3] == "multiport" && f[4] == "--dports" && f[5] != "" &&
			strings.Trim(f[5], "0123456789,:") == ""
	}
	return false
}

// references reports whether rule jumps or goes to chain.
func references(rule, chain string) bool {
	if !strings.Contains(rule, chain) {
		return false
	}
	f := strings.Fields(rule)
	for i := 0; i+1 < len(f); i++ {
		if (f[i] == "-j" || f[i] == "-g") && f[i+1] == chain {
			return true
		}
	}
	return false
}

// banTarget returns the target text of j's ban rules in fam, as iptables-save
// prints it.
func banTarget(fam Family, blockType string) string {
	if strings.EqualFold(blockType, "DROP") {
		return "DROP"
	}
	if fam == IPv6 {
		return "REJECT --reject-with icmp6-port-unreachable"
	}
	return "REJECT --reject-with icmp-port-unreachable"
}

// banRule renders the rule that bans p in fam.
func banRule(fam Family, p netip.Prefix, target string) string {
	return "-s " + p.String() + " -j " + target
}

// parseBan splits a rule of the form this package writes into its chains,
// "-s PREFIX -j DROP" or "-s PREFIX -j REJECT --reject-with X", into the
// prefix (an address is /32 or /128) and the target text ("DROP",
// "REJECT --reject-with X"). iptables-save prints every source as a prefix:
// 192.0.2.7/32, 203.0.113.0/24, 2001:db8::/64. The prefix is compared, not
// its spelling: ip6tables prints ::102:304 as ::1.2.3.4.
func parseBan(fam Family, rule string) (netip.Prefix, string, bool) {
	rest, ok := strings.CutPrefix(rule, "-s ")
	if !ok {
		return netip.Prefix{}, "", false
	}
	pfx, target, ok := strings.Cut(rest, " -j ")
	if !ok {
		return netip.Prefix{}, "", false
	}
	p, err := netip.ParsePrefix(pfx)
	if err != nil || p.Addr().Is4() != (fam == IPv4) {
		return netip.Prefix{}, "", false
	}
	if with, ok := strings.CutPrefix(target, "REJECT --reject-with "); target != "DROP" && (!ok || strings.Contains(with, " ")) {
		return netip.Prefix{}, "", false
	}
	return p.Masked(), target, true
}

// normalize drops p's zone and host bits, and makes an IPv4-mapped IPv6
// prefix of /96 or longer the IPv4 prefix it is.
func normalize(p netip.Prefix) netip.Prefix {
	a, bits := p.Addr().WithZone(""), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// banKey is a ban's prefix as a map key (faster to hash than netip.Prefix).
type banKey struct {
	a    [16]byte
	bits int
}

func keyOf(p netip.Prefix) banKey { return banKey{p.Addr().As16(), p.Bits()} }

// comparePrefix orders prefixes by address, then by length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// familyBans returns the bans in fam (see normalize), without duplicates
// and without the bans that lie inside another ban, in no particular order.
// The map holds them too, with the value false.
func familyBans(fam Family, bans []netip.Prefix) ([]netip.Prefix, map[banKey]bool) {
	out := make([]netip.Prefix, 0, len(bans))
	set := make(map[banKey]bool, len(bans))
	lengths := map[int]bool{}
	for _, p := range bans {
		p = normalize(p)
		if k := keyOf(p); p.IsValid() && p.Addr().Is4() == (fam == IPv4) {
			if _, dup := set[k]; !dup {
				set[k] = false
				out = append(out, p)
				lengths[p.Bits()] = true
			}
		}
	}
	if len(lengths) < 2 {
		return out, set // all of one length: none inside another
	}
	kept := out[:0]
	for _, p := range out {
		inside := false
		for bits := range lengths {
			if bits < p.Bits() {
				if _, ok := set[keyOf(netip.PrefixFrom(p.Addr(), bits).Masked())]; ok {
					inside = true
					break
				}
			}
		}
		if inside {
			delete(set, keyOf(p))
		} else {
			kept = append(kept, p)
		}
	}
	return kept, set
}

const returnRule = "-j RETURN"

// diff returns the iptables-restore lines that turn cur, one family's filter
// table, into the wanted layout: each of jails with its chain, bans, final
// RETURN and jump rules as the first rules of INPUT, and no chain nor INPUT
// jump left for the names in managed that are not in jails. It touches no
// other chain and no INPUT rule but our own jumps to those chains (ownJump).
// jails must be valid (see validate).
//
// Order of the lines: INPUT jumps removed, unwanted chains flushed and
// deleted, wanted chains created or edited, INPUT jumps inserted, so that no
// line refers to a chain that does not exist at that point.
func diff(fam Family, cur table, jails []Jail, managed []string, cost costs) []string {
	ours := map[string]bool{}
	for _, n := range managed {
		ours[ChainName(n)] = true
	}
	wantChain := map[string]bool{}
	var wantJumps []string
	for _, j := range jails {
		ours[ChainName(j.Name)] = true
		wantChain[ChainName(j.Name)] = true
		specs, _ := jumpSpecs(j) // validated
		wantJumps = append(wantJumps, specs...)
	}

	var del, ins, chainOps []string

	// INPUT: our jumps must be the first rules, each exactly once. A jump
	// that is stray, duplicated or below a foreign rule is deleted (every
	// copy: -D removes the first match) and, when wanted, inserted again.
	input := cur["INPUT"]
	isOurs := func(rule string) bool { return ownJump(rule, ours) }
	prefix := 0
	for prefix < len(input) && isOurs(input[prefix]) {
		prefix++
	}
	count := map[string]int{}
	first := map[string]int{}
	var seen []string
	for i, r := range input {
		if !isOurs(r) {
			continue
		}
		if count[r] == 0 {
			first[r] = i
			seen = append(seen, r)
		}
		count[r]++
	}
	kept := map[string]bool{}
	for _, r := range seen {
		if slices.Contains(wantJumps, r) && count[r] == 1 && first[r] < prefix {
			kept[r] = true
			continue
		}
		for range count[r] {
			del = append(del, "-D INPUT "+r)
		}
	}
	for _, r := range slices.Backward(wantJumps) {
		if !kept[r] {
			ins = append(ins, "-I INPUT 1 "+r)
			kept[r] = true // a spec wanted twice is inserted once
		}
	}

	// Chains of managed jails that are not wanted: flush and delete. A
	// chain some other rule still refers to (outside the INPUT jumps
	// deleted above) cannot be deleted; it is only flushed.
	var gone []string
	for c := range ours {
		if _, ok := cur[c]; ok && !wantChain[c] {
			gone = append(gone, c)
		}
	}
	slices.Sort(gone)
	for _, c := range gone {
		if len(cur[c]) > 0 {
			del = append(del, "-F "+c)
		}
		referenced := false
		for chain, rules := range cur {
			for _, r := range rules {
				if chain != c && !(chain == "INPUT" && isOurs(r)) && references(r, c) {
					referenced = true
				}
			}
		}
		if !referenced {
			del = append(del, "-X "+c)
		}
	}

	for _, j := range jails {
		chainOps = append(chainOps, chainDiff(fam, cur, j, cost)...)
	}
	return slices.Concat(del, chainOps, ins)
}

// chainDiff returns the lines that make j's chain hold exactly its bans in
// fam followed by one RETURN. Missing bans are inserted at the top and
// unwanted or duplicated ones deleted, unless cost says that flushing the
// chain and appending the rules that stay is cheaper (many bans lifted at
// once: deleting by rule spec costs the square of their number). A chain
// holding anything else (a foreign rule, a misplaced or repeated RETURN) is
// flushed and rebuilt.
func chainDiff(fam Family, cur table, j Jail, cost costs) []string {
	c := ChainName(j.Name)
	target := banTarget(fam, j.BlockType)
	bans, kept := familyBans(fam, j.Bans) // kept[k]: a rule for k stays
	rules, exists := cur[c]

	rebuild := func() []string {
		slices.SortFunc(bans, comparePrefix)
		var ops []string
		if !exists {
			ops = append(ops, "-N "+c)
		} else if len(rules) > 0 {
			ops = append(ops, "-F "+c)
		}
		for _, a := range bans {
			ops = append(ops, "-A "+c+" "+banRule(fam, a, target))
		}
		return append(ops, "-A "+c+" "+returnRule)
	}
	if !exists {
		return rebuild()
	}

	// One pass: keep the first rule of each wanted ban, delete every other
	// rule of the ban form (unbanned, duplicated, other target).
	// A -D looks for its rule from the top of the chain, past the rules
	// that stay (scanned) and those deleted by the lines before it (passed).
	var ops []string
	returns, stay, scanned, passed := 0, 0, 0, 0
	for _, r := range rules {
		if r == returnRule {
			returns++
			continue
		}
		p, t, ok := parseBan(fam, r)
		if !ok {
			return rebuild() // not ours: an admin's rule or a half-edit
		}
		k := keyOf(p)
		if done, wanted := kept[k]; t == target && wanted && !done {
			kept[k] = true
			stay++
			continue
		}
		scanned += stay
		passed += len(ops)
		ops = append(ops, "-D "+c+" "+r)
	}
	if returns > 1 || returns == 1 && rules[len(rules)-1] != returnRule {
		return rebuild()
	}
	if len(ops) > 0 && cost.rebuild(len(rules), stay) < cost.deletes(len(rules), len(ops), scanned, passed) {
		return rebuild()
	}
	var missing []netip.Prefix
	for _, p := range bans {
		if !kept[keyOf(p)] {
			missing = append(missing, p)
		}
	}
	slices.SortFunc(missing, comparePrefix)
	for _, a := range slices.Backward(missing) { // -I 1 reverses: the chain lists them in order
		ops = append(ops, "-I "+c+" 1 "+banRule(fam, a, target))
	}
	if returns == 0 {
		ops = append(ops, "-A "+c+" "+returnRule)
	}
	return ops
}

// costs estimate the work of iptables-restore on one chain, in units of one
// rule written (an -A or -I), to choose between deleting the rules of lifted
// bans one by one and rebuilding the chain (see chainDiff). The bans added are
// written either way, so they are not counted.
type costs struct {
	fetch float64 // per n², once, when a -D by rule spec reads a chain of n rules
	scan  float64 // per rule that stays, above a -D's rule, that the -D compares on its way
	pass  float64 // per rule deleted earlier in the transaction, above a -D's rule
	flush float64 // per rule of the chain, for -F
}

// The constants were measured with iptables 1.8.9 (Debian 12) in a network
// namespace, one restore per case, on chains of 10,000 to 50,000 rules
// "-s IP/32 -j REJECT --reject-with icmp-port-unreachable", the 2-core
// machine busy with other work (absolute times vary by 2x; their ratios less).
var (
	// nf_tables: a rule written costs ~35 µs. A -D makes
	// iptables-nft-restore read the chain into its cache, which grows
	// with the square of the chain: one -D takes 0.1-0.17 s in 10,000
	// rules, 2.4-9 s in 50,000 (flush and 50,000 appends: 1.5-2.3 s).
	// Then each -D compares the rules above its own (~4 µs each:
	// 100 -D spread over 10,000 rules take 2.8 s) and passes the deleted
	// ones more cheaply (all 10,000 rules deleted in order: 0.9 s;
	// 20,000: 2.4 s). -F costs ~3.5 µs a rule.
	nftCosts = costs{fetch: 3.4e-5, scan: 0.11, pass: 2e-4, flush: 0.1}
	// legacy: a restore reads and writes the whole table whatever it
	// does (~0.1 s for 50,000 rules); a rule written costs ~5 µs, a -D
	// compares the rules above its own at ~80 ns each (1,000 -D spread
	// over 50,000 rules: 2.1 s; all 50,000 in order: 0.7 s; flush and
	// 49,000 appends: 0.75 s).
	legacyCosts = costs{fetch: 0, scan: 0.016, pass: 5e-5, flush: 0.01}
)

// deletes estimates dels -D lines in a chain of n rules, which compare
// scanned rules that stay and pass over passed deleted ones in all.
func (c costs) deletes(n, dels, scanned, passed int) float64 {
	return float64(dels) + c.fetch*float64(n)*float64(n) + c.scan*float64(scanned) + c.pass*float64(passed)
}

// rebuild estimates a -F of a chain of n rules, then stay -A lines.
func (c costs) rebuild(n, stay int) float64 {
	return c.flush*float64(n) + float64(stay)
}

// validate checks jails and managed names before anything is read.
func validate(jails []Jail, managed []string) error {
	seen := map[string]bool{}
	for _, j := range jails {
		if err := ValidateName(j.Name); err != nil {
			return err
		}
		if seen[j.Name] {
			return fmt.Errorf("jail %q listed twice", j.Name)
		}
		seen[j.Name] = true
		if _, err := jumpSpecs(j); err != nil {
			return fmt.Errorf("jail %s: %w", j.Name, err)
		}
		switch strings.ToUpper(j.BlockType) {
		case "", "REJECT", "DROP":
		default:
			return fmt.Errorf("jail %s: blocktype %q: want REJECT or DROP", j.Name, j.BlockType)
		}
		for _, p := range j.Bans {
			if !p.IsValid() {
				return fmt.Errorf("jail %s: invalid (zero) ban prefix", j.Name)
			}
		}
	}
	for _, n := range managed {
		if err := ValidateName(n); err != nil {
			return err
		}
	}
	return nil
}
