package fw

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The ipset banaction, inside the iptables backend. For jail J, per family, a
// set holds the bans and the chain holds one rule that matches it:
//
//	create f2b-J hash:ip family inet hashsize 1024 maxelem 65536      (hash:net when J has prefix bans)
//	add f2b-J 192.0.2.7
//	create f2b-J-v6 hash:ip family inet6 hashsize 1024 maxelem 65536
//	-A f2b-J -m set --match-set f2b-J src -j REJECT --reject-with icmp-port-unreachable
//	-A f2b-J -j RETURN
//	-A INPUT -p tcp -m multiport --dports 25,465,587 -j f2b-J             (as with iptables)
//
// The sets are read once per run (ipset save) and changed by at most two
// passes of ipset restore lines, applied over netlink (ipsetlink.go): one
// before the iptables-restore transactions (creates, adds, dels, swaps: a
// rule may only name a set that exists) and one after (destroys: a set named
// by a rule cannot be destroyed). ipset has no transaction: the lines apply
// in order and the first error stops the rest, as with ipset restore, so a
// failed run leaves some lines applied, and the next run, which diffs the
// live sets again, finishes the work. A set that must be
// replaced whole (too small, or created with options we do not write, such as
// timeout) is rebuilt under the name f2b+J and swapped in, which is atomic.
//
// Sizes: maxelem is at least 65,536 and twice the bans when the set is
// (re)built; a set whose maxelem falls under 1.25 times its bans is rebuilt,
// so that a set is never full (fail2ban issue 3549). No kernel timeouts are
// used: bans are lifted by the runs, as with iptables, so a permanent ban
// needs none and no ban length meets ipset's 2,147,483 s limit.

const (
	// altPrefix names the set a set is rebuilt in before a swap, or moved to
	// when its type must change: no jail's chain can be named so.
	altPrefix = "f2b+"
	// minMaxElem is the smallest maxelem we create: ipset's default.
	minMaxElem = 65536
	// maxSetName is the longest set name ipset accepts (IPSET_MAXNAMELEN - 1):
	// "f2b-" + 24 + "-v6" fits.
	maxSetName = 31
)

// SetName returns the set of jail in fam: f2b-J or f2b-J-v6.
func SetName(jail string, fam Family) string {
	if fam == IPv6 {
		return ChainPrefix + jail + "-v6"
	}
	return ChainPrefix + jail
}

// altName is where SetName(jail, fam) is rebuilt.
func altName(jail string, fam Family) string {
	return altPrefix + strings.TrimPrefix(SetName(jail, fam), ChainPrefix)
}

// ipSet is one of our sets as ipset save prints it.
type ipSet struct {
	typ, family string // "hash:ip", "inet"
	maxelem     int
	extra       bool           // created with options we do not write (timeout, counters, comment...)
	members     []netip.Prefix // normalized, in the order ipset save lists them (planSet sorts them)
	full        [][]netip.Prefix
	filling     []netip.Prefix // members being read (add), then joined (done)
}

// ipSets are our sets (named f2b-* or f2b+*), by name.
type ipSets map[string]*ipSet

func ours(name string) bool {
	return strings.HasPrefix(name, ChainPrefix) || strings.HasPrefix(name, altPrefix)
}

// parseIPSetSave reads ipset save's output as it comes, keeping only our
// sets. ipset 7 prints "create NAME TYPE family inet hashsize 1024 maxelem
// 65536 bucketsize 12 initval 0x..." and "add NAME 192.0.2.7" or
// "add NAME 2001:db8::/64" (a hash:net member of full length has no "/").
func parseIPSetSave(r io.Reader) (ipSets, error) {
	sets := ipSets{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var last string
	var cur *ipSet
	for i := 1; sc.Scan(); i++ {
		b := sc.Bytes() // 100,000 members: a string made only of each member's address
		cmd, rest, _ := bytes.Cut(b, []byte(" "))
		nameB, rest, _ := bytes.Cut(rest, []byte(" "))
		if !ours(string(nameB)) {
			continue
		}
		if string(cmd) == "add" && string(nameB) == last {
			if err := cur.add(rest); err != nil {
				return nil, fmt.Errorf("line %d: %w", i, err)
			}
			continue
		}
		line, name := string(b), string(nameB)
		switch string(cmd) {
		case "create":
			f := strings.Fields(string(rest))
			if len(f) == 0 {
				return nil, fmt.Errorf("line %d: no set type in %q", i, line)
			}
			s := &ipSet{typ: f[0]}
			for k := 1; k < len(f); k++ {
				switch opt := f[k]; {
				case opt == "family" && k+1 < len(f):
					k++
					s.family = f[k]
				case opt == "maxelem" && k+1 < len(f):
					k++
					s.maxelem, _ = strconv.Atoi(f[k])
				case (opt == "hashsize" || opt == "bucketsize" || opt == "initval") && k+1 < len(f):
					k++
				default:
					s.extra = true
				}
			}
			sets[name], last, cur = s, name, s
		case "add":
			if name != last {
				if cur = sets[name]; cur == nil {
					return nil, fmt.Errorf("line %d: member of %s before its create line", i, name)
				}
				last = name
			}
			if err := cur.add(rest); err != nil {
				return nil, fmt.Errorf("line %d: %w", i, err)
			}
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", i, line)
		}
	}
	for _, s := range sets {
		s.done()
	}
	return sets, sc.Err()
}

// add adds the member of an "add" line: what follows the set's name.
func (s *ipSet) add(rest []byte) error {
	entry, opts, _ := bytes.Cut(rest, []byte(" "))
	p, err := parseEntry(string(entry))
	if err != nil {
		return err
	}
	if len(opts) > 0 {
		s.extra = true // a member with a timeout, a comment...
	}
	if n := len(s.filling); n == cap(s.filling) {
		// In chunks, joined at the end (done): append's growth would copy 100,000 members
		// some 20 times.
		s.full = append(s.full, s.filling)
		s.filling = make([]netip.Prefix, 0, min(max(2*n, 64), 8192))
	}
	s.filling = append(s.filling, normalize(p))
	return nil
}

// done joins the members add read.
func (s *ipSet) done() {
	s.members = slices.Concat(append(s.full, s.filling)...)
	s.full, s.filling = nil, nil
}

// parseEntry parses a member: an address or a prefix.
func parseEntry(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// member is the ipset line "VERB SET ENTRY" of p (an address without its /32 or /128, as
// nft's elements), in one allocation: 100,000 of them are a first scan's biggest plan.
func member(verb, set string, p netip.Prefix) string {
	var buf [128]byte
	b := append(buf[:0], verb...)
	b = append(b, ' ')
	b = append(b, set...)
	b = append(b, ' ')
	return string(appendElem(b, p))
}

// setPlan is the ipset part of a run.
type setPlan struct {
	pre, post []string // ipset restore lines before and after iptables-restore
	// names[fam][jail] is the set the chain of ipset jail names in fam.
	names [2]map[string]string
	// again: a set had to change its type; its chain names the rebuilt set
	// (f2b+J) for now, and another pass moves it back to f2b-J.
	again bool
}

// maxElem is the maxelem a set of n members is built with.
func maxElem(n int) int {
	if n <= minMaxElem/2 {
		return minMaxElem
	}
	return 1 << bits.Len(uint(2*n-1))
}

// hashSize is the hashsize a set of n members is built with, so that a big
// set is not resized many times while it is filled.
func hashSize(n int) int {
	if n <= 1024 {
		return 1024
	}
	return 1 << bits.Len(uint(n-1))
}

// planSets returns the ipset lines that make cur, our live sets, hold the
// bans of the ipset jails, and remove the sets of every other jail in jails
// and managed. jails must be valid.
func planSets(cur ipSets, jails []Jail, managed []string) setPlan {
	var sp setPlan
	sp.names = [2]map[string]string{{}, {}}
	keep := map[string]bool{}
	var gone []string
	for _, j := range jails {
		if j.Action != ActionIPSet {
			continue
		}
		for fam := range []Family{IPv4, IPv6} {
			main, alt := SetName(j.Name, Family(fam)), altName(j.Name, Family(fam))
			keep[main], keep[alt] = true, true
			target, drop, pre, again := planSet(Family(fam), cur, main, alt, j.Bans)
			sp.names[fam][j.Name] = target
			sp.pre = append(sp.pre, pre...)
			gone = append(gone, drop...)
			sp.again = sp.again || again
		}
	}
	names := slices.Clone(managed)
	for _, j := range jails {
		names = append(names, j.Name)
	}
	for _, n := range names {
		for fam := range []Family{IPv4, IPv6} {
			for _, s := range []string{SetName(n, Family(fam)), altName(n, Family(fam))} {
				if cur[s] != nil && !keep[s] {
					keep[s] = true // listed once
					gone = append(gone, s)
				}
			}
		}
	}
	for _, s := range gone {
		sp.post = append(sp.post, "destroy "+s)
	}
	return sp
}

// planSet plans one jail's set in fam: the set its rule names, the sets to
// destroy after iptables-restore, the lines to run before it, and whether
// another pass is needed (see setPlan.again).
func planSet(fam Family, cur ipSets, main, alt string, bans []netip.Prefix) (target string, drop, pre []string, again bool) {
	want := familyBans(fam, bans)
	typ, family := "hash:ip", "inet"
	if fam == IPv6 {
		family = "inet6"
	}
	for _, p := range want {
		if p.Bits() != p.Addr().BitLen() {
			typ = "hash:net"
			break
		}
	}
	n := len(want)
	fits := func(s *ipSet) bool {
		return s != nil && s.typ == typ && s.family == family && !s.extra && s.maxelem >= n+n/4
	}
	build := func(name string) []string {
		ops := make([]string, 0, n+1)
		ops = append(ops, fmt.Sprintf("create %s %s family %s hashsize %d maxelem %d", name, typ, family, hashSize(n), maxElem(n)))
		for _, p := range want {
			ops = append(ops, member("add", name, p))
		}
		return ops
	}
	edit := func(name string, s *ipSet) []string {
		// A merge of two sorted lists: no map of 100,000 members.
		have := s.members // read for this plan only: sorted in place, not copied (3 MB at 100,000)
		sortPrefixes(have)
		var adds, dels []string
		i := 0
		for _, p := range want {
			for ; i < len(have) && comparePrefix(have[i], p) < 0; i++ {
				dels = append(dels, member("del", name, have[i]))
			}
			if i < len(have) && have[i] == p {
				for i++; i < len(have) && have[i] == p; i++ { // listed twice: not by ipset
				}
				continue
			}
			adds = append(adds, member("add", name, p))
		}
		for ; i < len(have); i++ {
			dels = append(dels, member("del", name, have[i]))
		}
		return append(adds, dels...)
	}
	m, a := cur[main], cur[alt]
	switch {
	case fits(m):
		pre = edit(main, m)
		target = main
		if a != nil {
			drop = []string{alt}
		}
	case m == nil:
		pre = build(main)
		target = main
		if a != nil {
			drop = []string{alt}
		}
	case m.typ == typ && m.family == family:
		// Too small, or with options we do not write: rebuild and swap in,
		// atomically; the chain's rule keeps naming main.
		if a != nil {
			pre = append(pre, "destroy "+alt)
		}
		pre = append(pre, build(alt)...)
		pre = append(pre, "swap "+alt+" "+main, "destroy "+alt)
		target = main
	default:
		// ipset swaps only sets of one type and family, and a set a rule
		// names can be neither destroyed nor renamed: the rule moves to alt,
		// main goes, and the next pass builds main again and moves back.
		if fits(a) {
			pre = edit(alt, a)
		} else {
			if a != nil {
				pre = append(pre, "destroy "+alt)
			}
			pre = append(pre, build(alt)...)
		}
		target, drop, again = alt, []string{main}, true
	}
	return target, drop, pre, again
}

// setRule is the rule in an ipset jail's chain.
func setRule(set, target string) string {
	return "-m set --match-set " + set + " src -j " + target
}

// ipsetPath finds ipset. needed is whether a jail uses it; when none does,
// ipset is only run (to find and remove sets of ours) if it is installed
// and the kernel's ip_set module is loaded: without it there is no set.
func ipsetPath(needed bool) (string, bool, error) {
	p, err := lookPath("ipset")
	if err != nil {
		if needed {
			return "", true, fmt.Errorf("ipset not found in $PATH nor in %s (is ipset installed?)", strings.Join(sbinDirs, ", "))
		}
		return "", false, nil
	}
	if !needed {
		if _, err := os.Stat("/sys/module/ip_set"); err != nil {
			return "", false, nil
		}
	}
	return p, true, nil
}
