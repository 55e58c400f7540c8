package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// Prefixes. The state keeps a jail's failures and bans by key: an address ("192.0.2.7"), or a
// prefix ("2001:db8:1:2::/64", "203.0.113.0/24"). A prefix key comes from ipv6_prefix (the
// failures and bans of an IPv6 /64 are one key), from `ban PREFIX`, or from Aggregate, which
// bans a subnet once min_ips of its addresses are banned at once. The bans inside a banned
// prefix (its members) stay in the state under their own keys, so that unbanning the prefix
// can lift them too, and Aggregate can extend the prefix when a member's ban outlasts it.

// Key returns the key of ip's failures and bans in j: the address, or with ipv6_prefix < 128
// the IPv6 address's prefix of that length ("2001:db8:1:2::/64") — unless that prefix holds an
// address of ignoreip (ignoreip wins: then the address alone).
func (j *Jail) Key(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() && j.IPv6Prefix > 0 && j.IPv6Prefix < 128 {
		p := netip.PrefixFrom(ip.WithZone(""), j.IPv6Prefix).Masked()
		if _, ignored := j.IgnoredIn(p); !ignored {
			return p.String()
		}
	}
	return ip.String()
}

// IgnoredIn returns the first entry that overlaps p (an address inside p, or a CIDR that holds
// p or part of it) of ignoreip, of the host's own addresses (ignoreself), or of the ranges
// that are never banned.
func (j *Jail) IgnoredIn(p netip.Prefix) (netip.Prefix, bool) {
	for _, ig := range j.IgnoreIP {
		if ig.Overlaps(p) {
			return ig, true
		}
	}
	if j.IgnoreSelf {
		for _, a := range j.Self {
			if p.Contains(a) {
				return netip.PrefixFrom(a, a.BitLen()), true
			}
		}
	}
	for _, ig := range neverBanned {
		if ig.Overlaps(p) {
			return ig, true
		}
	}
	return netip.Prefix{}, false
}

// ParseKey parses a key of the state's failures or bans: an address is its /32 or /128.
func ParseKey(key string) (netip.Prefix, error) {
	if strings.Contains(key, "/") {
		p, err := netip.ParsePrefix(key)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(key)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// FormatKey is the key of p: the address alone for a /32 or /128, else the masked prefix.
// IPv4-mapped IPv6 addresses become IPv4.
func FormatKey(p netip.Prefix) string {
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	p = netip.PrefixFrom(a, bits).Masked()
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// IsPrefixKey reports whether key is a prefix wider than one address.
func IsPrefixKey(key string) bool { return strings.Contains(key, "/") }

// CompareKeys orders keys by address (IPv4 first), a prefix before the addresses inside it.
// Keys that do not parse come last, in string order.
func CompareKeys(a, b string) int {
	x, errx := ParseKey(a)
	y, erry := ParseKey(b)
	switch {
	case errx != nil && erry != nil:
		return strings.Compare(a, b)
	case errx != nil:
		return 1
	case erry != nil:
		return -1
	}
	if c := x.Addr().Compare(y.Addr()); c != 0 {
		return c
	}
	return x.Bits() - y.Bits()
}

// bannedAt returns the ban that covers ip at t: the ban of its key, or of the prefix of the
// jail's subnet length that holds it. (A prefix banned by hand at another length is not
// looked up: a failure inside it counts, and a ban it leads to changes no rule.) keyHas says
// whether js holds a ban of key at all, covering t or not.
func (j *Jail) bannedAt(js *state.Jail, ip netip.Addr, key string, t int64) (b state.Ban, ok, keyHas bool) {
	if b, ok := js.BanOf(key); ok {
		if b.Covers(t) {
			return b, true, true
		}
		keyHas = true
	}
	if j.Subnet.MinIPs > 0 {
		bits := j.Subnet.IPv4
		if ip.Is6() {
			bits = j.Subnet.IPv6
		}
		if b, ok := js.BanOf(netip.PrefixFrom(ip.WithZone(""), bits).Masked().String()); ok && b.Covers(t) {
			return b, true, keyHas
		}
	}
	return state.Ban{}, false, keyHas
}

// active reports whether b is in force at now.
func active(b state.Ban, now int64) bool { return b.Permanent() || b.End > now }

// ActiveKeys returns the keys of the bans in force at now, without those inside another ban
// in force (the members of a banned prefix): what the firewall blocks, one rule each. They are
// in CompareKeys order.
func ActiveKeys(js *state.Jail, now int64) []string {
	set := map[netip.Prefix]string{}
	lengths := map[int]bool{}
	for key, b := range js.Bans {
		if p, err := ParseKey(key); err == nil && active(b, now) {
			set[p] = key
			lengths[p.Bits()] = true
		}
	}
	kept := make([]netip.Prefix, 0, len(set))
	for p := range set {
		inside := false
		for bits := range lengths {
			if _, ok := set[netip.PrefixFrom(p.Addr(), bits).Masked()]; ok && bits < p.Bits() {
				inside = true
				break
			}
		}
		if !inside {
			kept = append(kept, p)
		}
	}
	// Sorted as CompareKeys sorts, on the parsed prefixes: parsing in the comparator cost
	// n log n parses at 100,000 bans.
	slices.SortFunc(kept, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	out := make([]string, len(kept))
	for i, p := range kept {
		out[i] = set[p]
	}
	return out
}

// CurrentlyBanned is len(ActiveKeys(js, now)): what status and the metrics count as
// currently banned. Bans that state.LoadLazy left as text are not decoded when they cannot
// differ from what the text holds (no prefix, none ended).
func CurrentlyBanned(js *state.Jail, now int64) int {
	if info, lazy := js.LazyBans(); lazy {
		if !info.Prefixes && now < info.NextEnd {
			return info.N
		}
		return len(ActiveKeys(&state.Jail{Bans: js.DecodedBans()}, now))
	}
	return len(ActiveKeys(js, now))
}

// ActivePrefixes returns the active bans of js as prefixes, in no order, without
// ProtectedPrefix ones: what the firewall is given, which drops a ban inside another itself.
func ActivePrefixes(js *state.Jail, now int64) []netip.Prefix {
	n := len(js.Bans)
	if info, ok := js.LazyBans(); ok {
		n = info.N
	}
	out := make([]netip.Prefix, 0, n)
	js.EachBan(func(key string, b state.Ban) { // bans left as text are not decoded into a map
		if !active(b, now) {
			return
		}
		if p, err := ParseKey(key); err == nil && !ProtectedPrefix(p) {
			out = append(out, p)
		}
	})
	return out
}

// PrefixBan is a prefix that Aggregate banned, extended, refused or lifted.
type PrefixBan struct {
	Prefix  netip.Prefix
	Ban     state.Ban    // Banned, Extended, Lifted: the prefix's ban
	Members int          // Banned, Extended, Refused: bans in force inside the prefix
	Ignored netip.Prefix // Refused, Lifted: the ignoreip entry that overlaps the prefix
}

// Aggregation is what Aggregate did; each list is in prefix order.
type Aggregation struct {
	Banned   []PrefixBan // prefixes banned now: min_ips of their members are banned at once
	Extended []PrefixBan // banned prefixes whose end moved later, to a member's end
	Refused  []PrefixBan // prefixes with min_ips members that overlap ignoreip: not banned
	Lifted   []PrefixBan // prefix bans that overlap ignoreip (since a config change): lifted
}

// Aggregate bans the subnets of the jail's bans, as `subnet:` says: once min_ips distinct
// bans in force at now lie inside one IPv4 /ipv4 (IPv6 /ipv6) prefix, the prefix is banned
// under its own key from the moment the min_ips-th of them started, until the end of the
// longest of them (for ever if one is permanent). Each later call moves the prefix's end to
// a longer member's, and never shortens it, so the prefix lasts as long as its longest member
// ban. The members stay in js. A prefix that overlaps ignoreip is never banned (Refused), and
// a prefix ban in force that overlaps it is lifted, whatever banned it (Lifted). A prefix
// banned here counts in TotalBanned, as the ban it is (its members counted already).
// Aggregate is idempotent; call it after every change of the bans.
func (j *Jail) Aggregate(js *state.Jail, now int64) Aggregation {
	var agg Aggregation
	for key, b := range js.Bans {
		if !IsPrefixKey(key) || !active(b, now) {
			continue
		}
		if p, err := ParseKey(key); err == nil {
			if ig, ok := j.IgnoredIn(p); ok {
				delete(js.Bans, key)
				js.TotalUnbanned++
				agg.Lifted = append(agg.Lifted, PrefixBan{Prefix: p, Ban: b, Ignored: ig})
			}
		}
	}
	if j.Subnet.MinIPs >= 2 {
		groups := map[netip.Prefix][]state.Ban{}
		for key, b := range js.Bans {
			p, err := ParseKey(key)
			if err != nil || !active(b, now) {
				continue
			}
			bits := j.Subnet.IPv4
			if p.Addr().Is6() {
				bits = j.Subnet.IPv6
			}
			if p.Bits() > bits {
				parent := netip.PrefixFrom(p.Addr(), bits).Masked()
				groups[parent] = append(groups[parent], b)
			}
		}
		for parent, members := range groups {
			if len(members) >= j.Subnet.MinIPs {
				j.aggregate(js, parent, members, now, &agg)
			}
		}
	}
	for _, l := range []*[]PrefixBan{&agg.Banned, &agg.Extended, &agg.Refused, &agg.Lifted} {
		slices.SortFunc(*l, func(a, b PrefixBan) int { return CompareKeys(a.Prefix.String(), b.Prefix.String()) })
	}
	return agg
}

// aggregate bans parent for its members, or extends its ban, or refuses it.
func (j *Jail) aggregate(js *state.Jail, parent netip.Prefix, members []state.Ban, now int64, agg *Aggregation) {
	pb := PrefixBan{Prefix: parent, Members: len(members)}
	if ig, ok := j.IgnoredIn(parent); ok {
		pb.Ignored = ig
		agg.Refused = append(agg.Refused, pb)
		return
	}
	starts := make([]int64, len(members))
	end := int64(0)
	for i, m := range members {
		starts[i] = m.Start
		if m.Permanent() || end < 0 {
			end = -1
		} else {
			end = max(end, m.End)
		}
	}
	slices.Sort(starts)
	key := parent.String()
	if old, ok := js.Bans[key]; ok && active(old, now) {
		if !old.Permanent() && (end < 0 || end > old.End) {
			old.End = end
			js.Bans[key] = old
			pb.Ban = old
			agg.Extended = append(agg.Extended, pb)
		}
		return
	}
	pb.Ban = state.Ban{Start: starts[j.Subnet.MinIPs-1], End: end}
	js.Bans[key] = pb.Ban
	js.TotalBanned++
	agg.Banned = append(agg.Banned, pb)
}

// BanTarget bans target by hand from now, as BanNow: an address (a /32 or /128) under its
// Key, a wider prefix under itself. It returns the key; see BanNow for b and already.
func (j *Jail) BanTarget(js *state.Jail, jails map[string]*state.Jail, target netip.Prefix, now, bantime int64) (key string, b state.Ban, reason string, already bool) {
	key = FormatKey(target)
	if !IsPrefixKey(key) {
		a := netip.MustParseAddr(key)
		b, reason, already = j.BanNow(js, jails, a, now, bantime)
		return j.Key(a), b, reason, already
	}
	b, reason, already = j.banKeyNow(js, jails, key, target.Addr(), now, bantime)
	return key, b, reason, already
}

// InsidePrefixError is why Lift refused: Target lies inside the banned prefix Prefix.
type InsidePrefixError struct {
	Target string // as a key
	Prefix netip.Prefix
}

func (e *InsidePrefixError) Error() string {
	return fmt.Sprintf("%s is inside the banned prefix %s: unban %s to lift it", e.Target, e.Prefix, e.Prefix)
}

// Lift lifts the ban of target in js and every ban inside it (a prefix's members), forgets
// their ban history, and returns their keys in order. While target lies inside a wider ban in force at now, nothing
// is lifted and the error is an *InsidePrefixError naming the widest such prefix.
func Lift(js *state.Jail, target netip.Prefix, now int64) ([]string, error) {
	target, _ = ParseKey(FormatKey(target))
	var lifted []string
	var outer netip.Prefix
	for key, b := range js.Bans {
		p, err := ParseKey(key)
		if err != nil {
			continue
		}
		switch {
		case p.Bits() < target.Bits() && p.Contains(target.Addr()) && active(b, now):
			if !outer.IsValid() || p.Bits() < outer.Bits() {
				outer = p
			}
		case p.Bits() >= target.Bits() && target.Contains(p.Addr()):
			lifted = append(lifted, key)
		}
	}
	if outer.IsValid() {
		return nil, &InsidePrefixError{Target: FormatKey(target), Prefix: outer}
	}
	for _, key := range lifted {
		delete(js.Bans, key)
	}
	js.TotalUnbanned += int64(len(lifted))
	for key := range js.BanHistory { // an unbanned IP starts again at its 1st ban
		if p, err := ParseKey(key); err == nil && p.Bits() >= target.Bits() && target.Contains(p.Addr()) {
			delete(js.BanHistory, key)
		}
	}
	slices.SortFunc(lifted, CompareKeys)
	return lifted, nil
}

// LiftAll lifts every ban in js, forgets the ban history, and returns their keys in order.
func LiftAll(js *state.Jail) []string {
	keys := make([]string, 0, len(js.Bans))
	for key := range js.Bans {
		keys = append(keys, key)
	}
	clear(js.Bans)
	clear(js.BanHistory)
	js.TotalUnbanned += int64(len(keys))
	slices.SortFunc(keys, CompareKeys)
	return keys
}
