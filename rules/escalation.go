package rules

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// maxBan bounds a ban's length, so that start + length never overflows.
const maxBan = 1 << 62

// banCount is which ban of ip (key) a ban starting at t would be: 1 + the bans of ip that js
// remembers at t (its last ban after t - forget_after), and with overalljails those that the
// other jails in jails remember at t. jails may be nil, or lack js. own is js's record of key,
// for remember.
func (j *Jail) banCount(jails map[string]*state.Jail, js *state.Jail, key string, t int64) (n int, own state.BanRecord) {
	n = 1
	count := func(x *state.Jail) {
		r, ok := x.BanRecordOf(key)
		if x == js {
			own = r
		}
		if ok && r.Last > t-j.Escalation.ForgetAfter {
			n += r.Count
		}
	}
	seen := false
	if j.Escalation.OverallJails {
		for _, x := range jails {
			if x != nil {
				count(x)
				seen = seen || x == js
			}
		}
	}
	if !seen {
		count(js)
	}
	return n, own
}

// remember records in js a ban of ip (key) starting at t, whose record was r (banCount's
// own): a history forgotten at t starts over.
func (j *Jail) remember(js *state.Jail, key string, t int64, r state.BanRecord) {
	if r.Last <= t-j.Escalation.ForgetAfter {
		r = state.BanRecord{}
	}
	r.Count++
	r.Last = max(r.Last, t)
	js.SetBanRecord(key, r)
}

// forget drops the ban histories whose last ban is at or before now - forget_after.
func (j *Jail) forget(js *state.Jail, now int64) {
	js.ForgetText(now - j.Escalation.ForgetAfter) // what state.LoadLazy left as text
	for key, r := range js.BanHistory {
		if r.Last <= now-j.Escalation.ForgetAfter {
			delete(js.BanHistory, key)
		}
	}
}

// banLength decides the length in seconds of the n-th ban of ip, starting at start (-1:
// permanent), and says which rule decided it: "3rd ban: permanent, permanent_after 3",
// "2nd ban: 20m × 2 = 40m", "4th ban: 20m × 2^3, capped at maxtime 2h", "... + rndtime 37s".
func (j *Jail) banLength(ip netip.Addr, start int64, n int) (int64, string) {
	if j.Escalation.RndTime > 0 {
		return j.decideLength(ip, start, n)
	}
	if l, ok := j.lengths[n]; ok {
		return l.length, l.reason
	}
	length, reason := j.decideLength(ip, start, n)
	if j.lengths == nil {
		j.lengths = map[int]banLen{}
	}
	j.lengths[n] = banLen{length, reason}
	return length, reason
}

// banLen is a ban's length and the reason for it (banLength).
type banLen struct {
	length int64
	reason string
}

// decideLength is banLength, worked out.
func (j *Jail) decideLength(ip netip.Addr, start int64, n int) (int64, string) {
	e := &j.Escalation
	what := Ordinal(n) + " ban: "
	switch {
	case j.BanTime < 0:
		return -1, what + "bantime permanent"
	case e.PermanentAfter > 0 && n >= e.PermanentAfter:
		return -1, what + "permanent, permanent_after " + strconv.Itoa(e.PermanentAfter)
	case !e.Increment:
		return j.BanTime, what + "bantime " + FormatDuration(j.BanTime)
	}
	base := FormatDuration(j.BanTime)
	var m float64
	var product string
	if len(e.Multipliers) > 0 {
		m = e.Multipliers[min(n, len(e.Multipliers))-1]
		product = base + " × " + formatNumber(m)
	} else {
		m = math.Pow(e.Factor, float64(n-1))
		switch n {
		case 1:
			product = "bantime " + base
		case 2:
			product = base + " × " + formatNumber(e.Factor)
		default:
			product = base + " × " + formatNumber(e.Factor) + "^" + strconv.Itoa(n-1)
		}
	}
	x := float64(j.BanTime) * m
	var length int64
	if x > float64(e.MaxTime) {
		length = e.MaxTime
		what += product + ", capped at maxtime " + FormatDuration(e.MaxTime)
	} else {
		length = max(int64(math.Round(x)), 1)
		what += product
		if product != "bantime "+base {
			what += " = " + FormatDuration(length)
		}
	}
	if e.RndTime > 0 {
		r := rnd(ip, start, e.RndTime)
		length = min(length+r, maxBan)
		what += " + rndtime " + FormatDuration(r)
	}
	return length, what
}

// rnd is a pseudo-random number in [0, n] drawn from ip and start alone (FNV-1a 64 of the
// address's bytes and start, big-endian), so that a replay decides as the run did, and bots
// cannot tell from their bantime when they are let back.
func rnd(ip netip.Addr, start, n int64) int64 {
	h := fnv.New64a()
	h.Write(ip.Unmap().AsSlice())
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(start))
	h.Write(b[:])
	return int64(h.Sum64() % uint64(n+1))
}

// Ordinal writes n as 1st, 2nd, 3rd, 4th, 11th, 12th, 21st ...
func Ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

// FormatDuration writes seconds the way durations are written in the config: 1w2d, 1h20m,
// 37s; 0 is 0s and a negative duration "permanent".
func FormatDuration(d int64) string {
	if d < 0 {
		return "permanent"
	}
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		secs int64
		name byte
	}{{7 * 86400, 'w'}, {86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}} {
		if d >= u.secs {
			b.WriteString(strconv.FormatInt(d/u.secs, 10))
			b.WriteByte(u.name)
			d %= u.secs
		}
	}
	return b.String()
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
