package rules

import (
	"math"
	"net/netip"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// TestEscalation bans one IP again and again (maxretry 1: each failure is a ban) and checks
// each ban's count, length and reason, worked out by hand from bantime 20m (1200 s).
func TestEscalation(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.7")
	esc := func(f func(e *Escalation)) Escalation {
		e := DefaultEscalation()
		f(&e)
		return e
	}
	type step struct {
		at         int64 // the failure's time, and now
		wantCount  int
		wantLength int64 // -1 permanent
		wantReason string
	}
	tests := []struct {
		name    string
		bantime int64
		esc     Escalation
		steps   []step
	}{
		{"the issue's returning attacker: 20m, 40m, then permanent", 1200,
			esc(func(e *Escalation) { e.Increment, e.Factor, e.PermanentAfter = true, 2, 3 }),
			[]step{
				{10000, 1, 1200, "1st ban: bantime 20m"},
				{20000, 2, 2400, "2nd ban: 20m × 2 = 40m"},
				{30000, 3, -1, "3rd ban: permanent, permanent_after 3"},
			}},
		{"maxtime caps", 1200,
			esc(func(e *Escalation) { e.Increment, e.MaxTime = true, 3600 }),
			[]step{
				{10000, 1, 1200, "1st ban: bantime 20m"},
				{20000, 2, 2400, "2nd ban: 20m × 2 = 40m"},
				{30000, 3, 3600, "3rd ban: 20m × 2^2, capped at maxtime 1h"}, // 80m > 1h
				{40000, 4, 3600, "4th ban: 20m × 2^3, capped at maxtime 1h"},
			}},
		{"a product of exactly maxtime is not capped", 1200,
			esc(func(e *Escalation) { e.Increment, e.MaxTime = true, 4800 }),
			[]step{{10000, 1, 1200, "1st ban: bantime 20m"}, {20000, 2, 2400, "2nd ban: 20m × 2 = 40m"},
				{30000, 3, 4800, "3rd ban: 20m × 2^2 = 1h20m"}}},
		{"a float factor, rounded to the second", 1200,
			esc(func(e *Escalation) { e.Increment, e.Factor = true, 1.5 }),
			[]step{
				{10000, 1, 1200, "1st ban: bantime 20m"},
				{20000, 2, 1800, "2nd ban: 20m × 1.5 = 30m"},
				{30000, 3, 2700, "3rd ban: 20m × 1.5^2 = 45m"},
				{40000, 4, 4050, "4th ban: 20m × 1.5^3 = 1h7m30s"},
			}},
		{"multipliers instead of the factor, the last one repeats", 1200,
			esc(func(e *Escalation) { e.Increment, e.Factor, e.Multipliers = true, 7, []float64{1, 3, 5} }),
			[]step{
				{10000, 1, 1200, "1st ban: 20m × 1 = 20m"},
				{20000, 2, 3600, "2nd ban: 20m × 3 = 1h"},
				{30000, 3, 6000, "3rd ban: 20m × 5 = 1h40m"},
				{40000, 4, 6000, "4th ban: 20m × 5 = 1h40m"},
			}},
		{"multipliers are capped too", 1200,
			esc(func(e *Escalation) { e.Increment, e.Multipliers, e.MaxTime = true, []float64{1, 100}, 86400 }),
			[]step{{10000, 1, 1200, "1st ban: 20m × 1 = 20m"}, {20000, 2, 86400, "2nd ban: 20m × 100, capped at maxtime 1d"}}},
		{"no increment: bantime every time, counted all the same", 1200,
			esc(func(e *Escalation) { e.Factor = 5 }),
			[]step{{10000, 1, 1200, "1st ban: bantime 20m"}, {20000, 2, 1200, "2nd ban: bantime 20m"},
				{30000, 3, 1200, "3rd ban: bantime 20m"}}},
		{"permanent_after without increment", 1200,
			esc(func(e *Escalation) { e.PermanentAfter = 2 }),
			[]step{{10000, 1, 1200, "1st ban: bantime 20m"}, {20000, 2, -1, "2nd ban: permanent, permanent_after 2"}}},
		{"permanent_after 1: the first ban is permanent", 1200,
			esc(func(e *Escalation) { e.PermanentAfter = 1 }),
			[]step{{10000, 1, -1, "1st ban: permanent, permanent_after 1"}}},
		{"bantime permanent", -1,
			esc(func(e *Escalation) { e.Increment = true }),
			[]step{{10000, 1, -1, "1st ban: bantime permanent"}}},
		{"forget_after: a last ban less than forget_after ago counts, one exactly forget_after ago is forgotten", 1200,
			esc(func(e *Escalation) { e.Increment, e.ForgetAfter = true, 7200 }),
			[]step{
				{10000, 1, 1200, "1st ban: bantime 20m"},
				{17199, 2, 2400, "2nd ban: 20m × 2 = 40m"}, // 10000 > 17199 - 7200
				{24399, 1, 1200, "1st ban: bantime 20m"},   // 17199 <= 24399 - 7200
				{25599, 2, 2400, "2nd ban: 20m × 2 = 40m"},
			}},
		{"a huge factor is capped, not overflowed", 1200,
			esc(func(e *Escalation) { e.Increment, e.Factor = true, 1e300 }),
			[]step{{10000, 1, 1200, "1st ban: bantime 20m"}, {20000, 2, 604800, "2nd ban: 20m × 1e+300, capped at maxtime 1w"},
				{700000, 3, 604800, "3rd ban: 20m × 1e+300^2, capped at maxtime 1w"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &Jail{MaxRetry: 1, FindTime: 600, BanTime: tt.bantime, Escalation: tt.esc}
			js := state.New().Jail("j")
			for i, s := range tt.steps {
				j.Expire(js, s.at)
				a := j.Failure(js, nil, ip, s.at, s.at)
				length := int64(-1)
				if !a.Ban.Permanent() {
					length = a.Ban.End - a.Ban.Start
				}
				if a.Outcome != Banned || a.Ban.Count != s.wantCount || length != s.wantLength || a.Reason != s.wantReason {
					t.Fatalf("ban %d at %d: outcome %d, count %d, length %d, %q\nwant count %d, length %d, %q",
						i+1, s.at, a.Outcome, a.Ban.Count, length, a.Reason, s.wantCount, s.wantLength, s.wantReason)
				}
				if js.Bans[ip.String()] != a.Ban {
					t.Fatalf("ban %d: state has %+v, action %+v", i+1, js.Bans[ip.String()], a.Ban)
				}
			}
		})
	}
}

// TestEscalationState: what survives forget_after, unban and manual bans, and what the state
// remembers.
func TestEscalationState(t *testing.T) {
	ip := netip.MustParseAddr("2001:db8::7")
	key := ip.String()
	e := DefaultEscalation()
	e.Increment, e.PermanentAfter, e.ForgetAfter = true, 2, 3600
	j := &Jail{MaxRetry: 1, FindTime: 600, BanTime: 1200, Escalation: e}

	t.Run("a permanent ban outlives its forgotten history", func(t *testing.T) {
		js := state.New().Jail("j")
		j.Failure(js, nil, ip, 1000, 1000)
		a := j.Failure(js, nil, ip, 3000, 3000)
		if !a.Ban.Permanent() || js.BanHistory[key] != (state.BanRecord{Count: 2, Last: 3000}) {
			t.Fatalf("ban %+v, history %+v", a.Ban, js.BanHistory[key])
		}
		j.Expire(js, 6599)
		if _, ok := js.BanHistory[key]; !ok {
			t.Fatalf("history forgotten before forget_after")
		}
		if lifted := j.Expire(js, 6600); len(lifted) != 0 {
			t.Fatalf("lifted %+v", lifted)
		}
		if _, ok := js.BanHistory[key]; ok {
			t.Fatalf("history kept after forget_after")
		}
		if b := js.Bans[key]; b != (state.Ban{Start: 3000, End: -1, Count: 2}) {
			t.Fatalf("ban %+v, want the permanent one", b)
		}
	})
	t.Run("forget_after counts from the failure's time, before the run's expiry", func(t *testing.T) {
		for _, tt := range []struct {
			at        int64
			wantCount int
			wantHist  state.BanRecord
		}{
			{4599, 2, state.BanRecord{Count: 2, Last: 4599}}, // 1000 > 4599 - 3600
			{4600, 1, state.BanRecord{Count: 1, Last: 4600}}, // 1000 <= 4600 - 3600: starts over
		} {
			js := state.New().Jail("j")
			j.Failure(js, nil, ip, 1000, 1000)
			js.Bans = map[string]state.Ban{}
			a := j.Failure(js, nil, ip, tt.at, tt.at)
			if a.Ban.Count != tt.wantCount || js.BanHistory[key] != tt.wantHist {
				t.Errorf("at %d: count %d, history %+v; want %d, %+v", tt.at, a.Ban.Count, js.BanHistory[key], tt.wantCount, tt.wantHist)
			}
		}
	})
	t.Run("unban forgets the history in that jail", func(t *testing.T) {
		js := state.New().Jail("j")
		j.Failure(js, nil, ip, 1000, 1000)
		if lifted, err := Lift(js, netip.PrefixFrom(ip, ip.BitLen()), 1000); err != nil || len(lifted) != 1 {
			t.Fatal("no ban to lift")
		}
		if len(js.BanHistory) != 0 {
			t.Fatalf("history %v after unban", js.BanHistory)
		}
		if a := j.Failure(js, nil, ip, 1100, 1100); a.Ban.Count != 1 || a.Ban.End != 2300 {
			t.Fatalf("after unban: %+v, want a 1st ban of 20m", a.Ban)
		}
	})
	t.Run("manual bans count and escalate", func(t *testing.T) {
		js := state.New().Jail("j")
		b, reason, already := j.BanNow(js, nil, ip, 1000, 0)
		if already || b != (state.Ban{Start: 1000, End: 2200, Count: 1}) || reason != "1st ban: bantime 20m" {
			t.Fatalf("manual ban %+v %q", b, reason)
		}
		a := j.Failure(js, nil, ip, 2200, 2200)
		if a.Ban.Count != 2 || !a.Ban.Permanent() {
			t.Fatalf("after a manual ban: %+v, want the permanent 2nd", a.Ban)
		}
		js2 := state.New().Jail("j")
		j.Failure(js2, nil, ip, 1000, 1000)
		b, reason, _ = j.BanNow(js2, nil, ip, 2200, 600)
		if b != (state.Ban{Start: 2200, End: 2800, Count: 2}) || reason != "2nd ban: bantime 10m given by hand" || js2.BanHistory[key].Count != 2 {
			t.Fatalf("manual --bantime: %+v %q, history %+v", b, reason, js2.BanHistory[key])
		}
	})
	t.Run("a ban over before it is found is not remembered", func(t *testing.T) {
		js := state.New().Jail("j")
		long := *j
		long.FindTime = 3600
		if a := long.Failure(js, nil, ip, 1000, 2200); a.Outcome != TooLate || a.Reason != "1st ban: bantime 20m" {
			t.Fatalf("%+v", a)
		}
		if len(js.BanHistory) != 0 {
			t.Fatalf("history %v", js.BanHistory)
		}
	})
}

// TestOverallJails: with overalljails a jail counts the bans of the IP in every jail; without
// it only its own. The history of each ban stays in the jail that made it.
func TestOverallJails(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.7")
	e := DefaultEscalation()
	e.Increment = true
	a := &Jail{Name: "a", MaxRetry: 1, FindTime: 600, BanTime: 600, Escalation: e}
	e.OverallJails = true
	b := &Jail{Name: "b", MaxRetry: 1, FindTime: 600, BanTime: 1200, Escalation: e}
	st := state.New()
	ja, jb := st.Jail("a"), st.Jail("b")

	if x := a.Failure(ja, st.Jails, ip, 1000, 1000); x.Ban.Count != 1 || x.Ban.End != 1600 {
		t.Fatalf("a 1st: %+v", x.Ban)
	}
	// b counts a's ban: its own 1st is the IP's 2nd overall.
	if x := b.Failure(jb, st.Jails, ip, 2000, 2000); x.Ban.Count != 2 || x.Ban.End != 2000+2400 || x.Reason != "2nd ban: 20m × 2 = 40m" {
		t.Fatalf("b: %+v %q", x.Ban, x.Reason)
	}
	// a does not count b's ban.
	if x := a.Failure(ja, st.Jails, ip, 5000, 5000); x.Ban.Count != 2 || x.Ban.End != 5000+1200 {
		t.Fatalf("a 2nd: %+v", x.Ban)
	}
	if ja.BanHistory["192.0.2.7"] != (state.BanRecord{Count: 2, Last: 5000}) || jb.BanHistory["192.0.2.7"] != (state.BanRecord{Count: 1, Last: 2000}) {
		t.Fatalf("histories a %+v b %+v", ja.BanHistory, jb.BanHistory)
	}
	// b again: 2 in a + 1 in b + this one.
	if x := b.Failure(jb, st.Jails, ip, 7000, 7000); x.Ban.Count != 4 || x.Ban.End != 7000+1200*8 {
		t.Fatalf("b 2nd: %+v", x.Ban)
	}
	// The other jails' bans count within this jail's forget_after of the new ban.
	// a's last ban (5000) is 2001 s before 7001, b's own (7000) 1 s.
	b.Escalation.ForgetAfter = 2002
	jb.Bans = map[string]state.Ban{}
	if x := b.Failure(jb, st.Jails, ip, 7001, 7001); x.Ban.Count != 5 {
		t.Fatalf("b 3rd, forget_after 2002: count %d, want a's 2 + b's 2 + 1", x.Ban.Count)
	}
	b.Escalation.ForgetAfter = 2000
	jb.Bans = map[string]state.Ban{}
	if x := b.Failure(jb, st.Jails, ip, 7002, 7002); x.Ban.Count != 4 { // a's 5000 <= 7002 - 2000
		t.Fatalf("b 4th, forget_after 2000: count %d, want b's 3 + 1", x.Ban.Count)
	}
	b.Escalation.ForgetAfter = 2003
	jb.Bans = map[string]state.Ban{}
	if x := b.Failure(jb, st.Jails, ip, 7003, 7003); x.Ban.Count != 5 { // a's 5000 <= 7003 - 2003
		t.Fatalf("b 5th, forget_after 2003: count %d, want b's 4 + 1", x.Ban.Count)
	}
}

func TestRndTime(t *testing.T) {
	e := DefaultEscalation()
	e.Increment, e.RndTime = true, 600
	j := &Jail{MaxRetry: 1, FindTime: 600, BanTime: 1200, Escalation: e}
	ip := netip.MustParseAddr("192.0.2.7")
	// Deterministic: the same IP and start give the same ban, in another state too.
	first := j.Failure(state.New().Jail("j"), nil, ip, 10000, 10000)
	again := j.Failure(state.New().Jail("x"), nil, ip, 10000, 10000)
	if first.Ban != again.Ban || first.Reason != again.Reason {
		t.Fatalf("not deterministic: %+v %q, then %+v %q", first.Ban, first.Reason, again.Ban, again.Reason)
	}
	extra := first.Ban.End - first.Ban.Start - 1200
	if want := "1st ban: bantime 20m + rndtime " + FormatDuration(extra); first.Reason != want {
		t.Errorf("reason %q, want %q", first.Reason, want)
	}
	// Bounded by [0, rndtime], and spread over it: over 2000 bans the lowest and highest
	// tenth both occur, and no value repeats for more than 1 % of them.
	lo, hi := int64(math.MaxInt64), int64(-1)
	seen := map[int64]int{}
	for i := range 2000 {
		a := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		r := rnd(a, 10000+int64(i%7), 600)
		if r < 0 || r > 600 {
			t.Fatalf("rnd(%s) = %d, outside [0, 600]", a, r)
		}
		lo, hi = min(lo, r), max(hi, r)
		seen[r]++
	}
	if lo > 60 || hi < 540 {
		t.Errorf("rnd spans [%d, %d], want most of [0, 600]", lo, hi)
	}
	for r, n := range seen {
		if n > 20 {
			t.Errorf("rnd %d drawn %d times in 2000", r, n)
		}
	}
	// The start moves it too; a v4-mapped address is the v4 one.
	if rnd(ip, 10000, 1<<40) == rnd(ip, 10001, 1<<40) {
		t.Errorf("rnd does not depend on the start")
	}
	if rnd(ip, 10000, 600) != rnd(netip.MustParseAddr("::ffff:192.0.2.7"), 10000, 600) {
		t.Errorf("rnd differs for the v4-mapped address")
	}
	// rndtime 0: nothing added; a permanent ban gets none.
	j.Escalation.PermanentAfter = 1
	if a := j.Failure(state.New().Jail("j"), nil, ip, 10000, 10000); !a.Ban.Permanent() || strings.Contains(a.Reason, "rndtime") {
		t.Errorf("permanent: %+v %q", a.Ban, a.Reason)
	}
}

func TestOrdinalAndFormatDuration(t *testing.T) {
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th",
		21: "21st", 22: "22nd", 23: "23rd", 101: "101st", 111: "111th", 112: "112th"} {
		if got := Ordinal(n); got != want {
			t.Errorf("Ordinal(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[int64]string{-1: "permanent", 0: "0s", 37: "37s", 1200: "20m", 4050: "1h7m30s",
		86400: "1d", 604800: "1w", 2592000: "4w2d", 694861: "1w1d1h1m1s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", d, got, want)
		}
	}
}
