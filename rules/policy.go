package rules

import (
	"net/netip"
	"slices"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// Outcome says what became of one failure, or of one ban at expiry.
type Outcome int

// Outcomes of Jail.Failure and Jail.Expire.
const (
	Counted   Outcome = iota // counted in the window, no ban yet
	IgnoredIP                // the IP is in ignoreip, or the host's own (ignoreself): neither counted nor banned
	Protected                // the IP may never be banned (NeverBan): neither counted nor banned
	Old                      // at or before now - findtime: not counted
	DuringBan                // the IP's ban covers the failure's time: not counted
	Banned                   // counted, and maxretry was reached: the IP is now banned
	TooLate                  // maxretry was reached, but the ban would already be over: not applied
	Held                     // maxretry was reached, but this run has banned max_new_bans_per_run already: not applied
	Unbanned                 // Expire: the ban ended at or before now and was lifted
)

// Action is what Failure or Expire did, for the log.
type Action struct {
	Outcome Outcome
	IP      netip.Addr
	Key     string    // the key of IP's failures and bans: the address, or its prefix (prefix.go)
	Time    int64     // the failure's time, or the end of a lifted ban
	Ban     state.Ban // Banned, Expired, DuringBan: the ban
	Count   int       // Counted, Banned: failures of the IP in the window
	First   int64     // Counted, Banned: the first of those failures
	// Reason says, for Banned and TooLate, which rule decided the ban's length:
	// "2nd ban: 20m × 2 = 40m", "3rd ban: permanent, permanent_after 3".
	Reason string
	// Replaces says, for Banned, that the state held a ban of Key (ended, or not covering
	// the failure) that this one replaced; when false, no ban of Key was there to end.
	Replaces bool
}

// Ignores reports whether ip is in the jail's ignoreip or, with ignoreself, one of the host's
// own addresses.
func (j *Jail) Ignores(ip netip.Addr) bool {
	ip = ip.Unmap()
	if j.SelfIgnored(ip) {
		return true
	}
	for _, p := range j.IgnoreIP {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Failure applies one failure of ip at time t (unix seconds) to the jail's state js, as
// SPEC.md's semantics say: ignoreip and old failures are not counted, nor failures inside the
// IP's ban; when the IP has at least maxretry failures in (t - findtime, t] it is banned from
// t, unless that ban would already be over at now, and its failures are cleared. The ban is
// the IP's n-th (Ban.Count): 1 + its bans that js remembers (with overalljails, that any jail
// of jails remembers; jails is the state of every jail, or nil), and lasts as the jail's
// escalation says (bantime when it has none; for ever when bantime < 0). An applied ban is
// remembered in js.BanHistory.
func (j *Jail) Failure(js *state.Jail, jails map[string]*state.Jail, ip netip.Addr, t, now int64) Action {
	ip = ip.Unmap()
	a := Action{IP: ip, Time: t}
	if NeverBan(ip) != "" {
		a.Outcome = Protected
		return a
	}
	if j.Ignores(ip) {
		a.Outcome = IgnoredIP
		return a
	}
	if t <= now-j.FindTime {
		a.Outcome = Old
		return a
	}
	key := j.Key(ip)
	a.Key = key
	b, ok, keyHas := j.bannedAt(js, ip, key, t)
	if ok {
		a.Outcome, a.Ban = DuringBan, b
		return a
	}
	a.Replaces = keyHas
	ts := js.FailuresOf(key)             // only key's, of 100,000 addresses' failures left as text
	i, _ := slices.BinarySearch(ts, t+1) // after equal stamps: keep arrival order
	ts = slices.Insert(ts, i, t)
	js.TotalFailed++
	n := 0
	for _, f := range ts {
		if f > t-j.FindTime && f <= t {
			if n == 0 {
				a.First = f
			}
			n++
		}
	}
	a.Count = n
	if n < j.MaxRetry {
		js.SetFailures(key, ts)
		a.Outcome = Counted
		return a
	}
	if j.MaxNewBans > 0 && j.NewBans >= j.MaxNewBans {
		// The breaker: a broken filter cannot ban the internet in one run. The failures stay,
		// so the address is banned by a later run if it keeps failing.
		js.SetFailures(key, ts)
		a.Outcome = Held
		return a
	}
	js.DeleteFailures(key)
	nth, record := j.banCount(jails, js, key, t)
	length, reason := j.banLength(ip, t, nth)
	b = state.Ban{Start: t, End: -1, Count: nth}
	if length >= 0 {
		b.End = t + length
	}
	a.Ban, a.Reason = b, reason
	if !b.Permanent() && b.End <= now {
		a.Outcome = TooLate
		return a
	}
	js.SetBan(key, b) // over bans left as text, or in the map
	j.remember(js, key, t, record)
	js.TotalBanned++
	j.NewBans++
	a.Outcome = Banned
	return a
}

// BanNow bans ip from now as a manual ban: for bantime, or when bantime is 0 as long as the
// jail's escalation says for the IP's n-th ban (counted as Failure counts; jails likewise).
// A new ban counts in Total banned and in the ban history like any ban; reason says what
// decided its length. When ip is banned already, the longer of the two bans stays (a
// permanent ban is never shortened), nothing is counted, and already is true.
func (j *Jail) BanNow(js *state.Jail, jails map[string]*state.Jail, ip netip.Addr, now, bantime int64) (b state.Ban, reason string, already bool) {
	ip = ip.Unmap()
	return j.banKeyNow(js, jails, j.Key(ip), ip, now, bantime)
}

// banKeyNow is BanNow of a key (an address, or a prefix: prefix.go); ip seeds rndtime.
func (j *Jail) banKeyNow(js *state.Jail, jails map[string]*state.Jail, key string, ip netip.Addr, now, bantime int64) (b state.Ban, reason string, already bool) {
	n, record := j.banCount(jails, js, key, now)
	if bantime == 0 {
		bantime, reason = j.banLength(ip, now, n)
	} else {
		reason = Ordinal(n) + " ban: bantime " + FormatDuration(bantime) + " given by hand"
	}
	b = state.Ban{Start: now, End: -1, Count: n}
	if bantime >= 0 {
		b.End = now + bantime
	}
	js.DeleteFailures(key)
	if old, ok := js.Bans[key]; ok && (old.Permanent() || old.End > now) {
		if !old.Permanent() && (b.Permanent() || b.End > old.End) {
			old.End = b.End
			js.Bans[key] = old
		}
		return old, reason, true
	}
	js.Bans[key] = b
	j.remember(js, key, now, record)
	js.TotalBanned++
	return b, reason, false
}

// Expire lifts the bans that end at or before now (never a permanent one), forgets failures
// at or before now - findtime and ban histories whose last ban is at or before
// now - forget_after. It returns the lifted bans, ordered by IP; each counts in TotalUnbanned.
func (j *Jail) Expire(js *state.Jail, now int64) []Action {
	var out []Action
	lift := func(key string, b state.Ban) {
		js.TotalUnbanned++
		p, _ := ParseKey(key)
		out = append(out, Action{Outcome: Unbanned, IP: p.Addr(), Key: key, Time: b.End, Ban: b})
	}
	if _, lazy := js.LazyBans(); lazy {
		for _, e := range js.ExpireText(now) { // left as text by state.LoadLazy: cut out of it
			lift(e.Key, e.Ban)
		}
	}
	for key, b := range js.Bans {
		if !b.Permanent() && b.End <= now {
			delete(js.Bans, key)
			lift(key, b)
		}
	}
	slices.SortFunc(out, func(a, b Action) int { return CompareKeys(a.Key, b.Key) })
	if oldest, ok := js.OldestFailure(); js.Lazy() && ok && oldest > now-j.FindTime-pruneSlack(j.FindTime) {
		j.forget(js, now)
		return out // failures left as text (state.LoadLazy): see pruneSlack
	}
	for key, ts := range js.FailureTimes() {
		i, _ := slices.BinarySearch(ts, now-j.FindTime+1)
		if i == len(ts) {
			delete(js.Failures, key)
		} else if i > 0 {
			js.Failures[key] = slices.Clone(ts[i:])
		}
	}
	j.forget(js, now)
	return out
}

// WorksOnText reports whether Expire and Aggregate can do their work on bans and a ban history
// that state.LoadLazy left as text, as info describes them: bans that end and records to forget
// are cut out of the text (state.Jail.ExpireText, ForgetText), but neither a prefix ban (which
// ignoreip may lift) nor subnet aggregation must be there to look at. A run that has no
// failure to apply need not decode them then.
func (j *Jail) WorksOnText(info state.LazyBans) bool {
	return !info.Prefixes && j.Subnet.MinIPs < 2
}

// pruneSlack is how long after they left findtime the failures of a jail whose failures are
// still the text they were read from (state.LoadLazy) may stay: a minute run with nothing new,
// or with a few failures (which change only their own keys), then neither decodes nor
// rewrites them all, and the first run with a failure older than findtime plus the slack
// decodes them and drops every old one. An old failure never counts
// (Failure counts those within findtime of the new one; CurrentlyFailed those within findtime
// of now), so keeping it a while changes no decision: findtime/10, at most an hour.
func pruneSlack(findTime int64) int64 { return min(findTime/10, 3600) }

// CurrentlyFailed counts the IPs with at least one failure in (now - findtime, now].
func (j *Jail) CurrentlyFailed(js *state.Jail, now int64) int {
	n := 0
	js.EachFailure(func(_ string, ts []int64) { // left as text by state.LoadLazy: not decoded
		for _, t := range ts {
			if t > now-j.FindTime && t <= now {
				n++
				break
			}
		}
	})
	return n
}
