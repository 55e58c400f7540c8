package rules

import (
	"maps"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

func TestFailure(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.7")
	type fail struct {
		ip  netip.Addr
		t   int64
		out Outcome
	}
	tests := []struct {
		name        string
		jail        Jail
		now         int64
		fails       []fail
		wantBans    map[string]state.Ban
		wantFailed  int64
		wantBanned  int64
		wantCurrent int
	}{
		{
			name: "maxretry reached inside findtime bans at the last failure",
			jail: Jail{MaxRetry: 3, FindTime: 600, BanTime: 1800}, now: 1000,
			fails:    []fail{{a, 500, Counted}, {a, 600, Counted}, {a, 700, Banned}},
			wantBans: map[string]state.Ban{"192.0.2.7": {Start: 700, End: 2500, Count: 1}}, wantFailed: 3, wantBanned: 1,
		},
		{
			name: "window is (t-findtime, t]: a failure exactly findtime earlier does not count",
			jail: Jail{MaxRetry: 3, FindTime: 600, BanTime: 1800}, now: 1599,
			fails:    []fail{{a, 1000, Counted}, {a, 1500, Counted}, {a, 1600, Counted}},
			wantBans: map[string]state.Ban{}, wantFailed: 3, wantCurrent: 1,
		},
		{
			name: "failure at or before now-findtime is old",
			jail: Jail{MaxRetry: 1, FindTime: 600, BanTime: 60}, now: 1600,
			fails:    []fail{{a, 1000, Old}, {a, 999, Old}},
			wantBans: map[string]state.Ban{},
		},
		{
			name: "ignoreip is never counted",
			jail: Jail{MaxRetry: 1, FindTime: 600, BanTime: 60, IgnoreIP: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, now: 1000,
			fails:    []fail{{a, 900, IgnoredIP}, {netip.MustParseAddr("::ffff:192.0.2.9"), 900, IgnoredIP}},
			wantBans: map[string]state.Ban{},
		},
		{
			name: "failures during a ban are not counted; after its end they are",
			jail: Jail{MaxRetry: 2, FindTime: 600, BanTime: 100}, now: 600,
			fails: []fail{
				{a, 500, Counted}, {a, 510, Banned}, // ban [510, 610)
				{a, 520, DuringBan}, {a, 609, DuringBan},
				{a, 610, Counted}, {a, 900, Banned}, // a new ban [900, 1000) replaces the old one
			},
			wantBans: map[string]state.Ban{"192.0.2.7": {Start: 900, End: 1000, Count: 2}}, wantFailed: 4, wantBanned: 2,
		},
		{
			name: "permanent ban",
			jail: Jail{MaxRetry: 2, FindTime: 600, BanTime: -1}, now: 1000,
			fails:    []fail{{a, 900, Counted}, {a, 901, Banned}, {a, 5000, DuringBan}},
			wantBans: map[string]state.Ban{"192.0.2.7": {Start: 901, End: -1, Count: 1}}, wantFailed: 2, wantBanned: 1,
		},
		{
			name: "a ban already over when detected is not applied, and failures are cleared",
			jail: Jail{MaxRetry: 2, FindTime: 3600, BanTime: 60}, now: 1000,
			fails:    []fail{{a, 100, Counted}, {a, 200, TooLate}, {a, 300, Counted}},
			wantBans: map[string]state.Ban{}, wantFailed: 3, wantCurrent: 1,
		},
		{
			name: "IPs are counted apart; v4-mapped v6 is the v4 address",
			jail: Jail{MaxRetry: 2, FindTime: 600, BanTime: 600}, now: 1000,
			fails: []fail{
				{a, 900, Counted}, {netip.MustParseAddr("2001:db8::1"), 901, Counted},
				{netip.MustParseAddr("::ffff:192.0.2.7"), 902, Banned},
			},
			wantBans: map[string]state.Ban{"192.0.2.7": {Start: 902, End: 1502, Count: 1}}, wantFailed: 3, wantBanned: 1, wantCurrent: 1,
		},
		{
			name: "out-of-order failures count by their own time",
			jail: Jail{MaxRetry: 3, FindTime: 200, BanTime: 60}, now: 1000,
			fails:    []fail{{a, 950, Counted}, {a, 900, Counted}, {a, 850, Counted}, {a, 960, Banned}},
			wantBans: map[string]state.Ban{"192.0.2.7": {Start: 960, End: 1020, Count: 1}}, wantFailed: 4, wantBanned: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := state.New().Jail("j")
			tt.jail.Escalation = DefaultEscalation()
			for i, f := range tt.fails {
				_, had := js.Bans[f.ip.Unmap().String()]
				got := tt.jail.Failure(js, nil, f.ip, f.t, tt.now)
				if got.Outcome != f.out {
					t.Fatalf("failure %d (%s at %d): outcome %d, want %d", i, f.ip, f.t, got.Outcome, f.out)
				}
				if got.Outcome == Banned && got.Replaces != had {
					t.Errorf("failure %d (%s at %d): Replaces %v, but the state held a ban of it: %v", i, f.ip, f.t, got.Replaces, had)
				}
			}
			if len(js.Bans) != len(tt.wantBans) {
				t.Errorf("bans %v, want %v", js.Bans, tt.wantBans)
			}
			for ip, b := range tt.wantBans {
				if js.Bans[ip] != b {
					t.Errorf("ban of %s = %+v, want %+v", ip, js.Bans[ip], b)
				}
			}
			if js.TotalFailed != tt.wantFailed || js.TotalBanned != tt.wantBanned {
				t.Errorf("total failed %d banned %d, want %d %d", js.TotalFailed, js.TotalBanned, tt.wantFailed, tt.wantBanned)
			}
			if got := tt.jail.CurrentlyFailed(js, tt.now); got != tt.wantCurrent {
				t.Errorf("currently failed %d, want %d", got, tt.wantCurrent)
			}
		})
	}
}

func TestExpire(t *testing.T) {
	j := Jail{MaxRetry: 5, FindTime: 600, BanTime: 60}
	js := state.New().Jail("j")
	js.Bans["192.0.2.1"] = state.Ban{Start: 0, End: 1000}
	js.Bans["192.0.2.2"] = state.Ban{Start: 0, End: 1001}
	js.Bans["2001:db8::1"] = state.Ban{Start: 0, End: -1}
	js.Bans["192.0.2.0"] = state.Ban{Start: 0, End: 999}
	js.Failures["192.0.2.3"] = []int64{100, 400, 401, 900}
	js.Failures["192.0.2.4"] = []int64{100, 400}
	got := j.Expire(js, 1000)
	if len(got) != 2 || got[0].IP.String() != "192.0.2.0" || got[1].IP.String() != "192.0.2.1" || got[0].Outcome != Unbanned {
		t.Fatalf("lifted %+v, want 192.0.2.0 and 192.0.2.1", got)
	}
	if len(js.Bans) != 2 {
		t.Errorf("bans left %v", js.Bans)
	}
	if js.TotalUnbanned != 2 {
		t.Errorf("total unbanned %d, want 2", js.TotalUnbanned)
	}
	if f := js.Failures["192.0.2.3"]; len(f) != 2 || f[0] != 401 {
		t.Errorf("failures of 192.0.2.3 = %v, want [401 900]", f)
	}
	if _, ok := js.Failures["192.0.2.4"]; ok {
		t.Errorf("192.0.2.4 has only old failures and should be forgotten")
	}
}

func TestBanNowAndUnban(t *testing.T) {
	j := Jail{MaxRetry: 5, FindTime: 600, BanTime: 60, Escalation: DefaultEscalation()}
	ip := netip.MustParseAddr("198.51.100.7")
	type ban struct {
		now, bantime int64
		want         state.Ban
		already      bool
	}
	for _, tt := range []struct {
		name       string
		bans       []ban
		wantBanned int64
	}{
		{"jail bantime", []ban{{100, 0, state.Ban{Start: 100, End: 160, Count: 1}, false}}, 1},
		{"permanent", []ban{{100, -1, state.Ban{Start: 100, End: -1, Count: 1}, false}}, 1},
		{"a permanent ban is not shortened, and counts once", []ban{
			{100, -1, state.Ban{Start: 100, End: -1, Count: 1}, false},
			{110, 0, state.Ban{Start: 100, End: -1, Count: 1}, true},
		}, 1},
		{"a longer ban extends, counts once", []ban{
			{100, 0, state.Ban{Start: 100, End: 160, Count: 1}, false},
			{110, 3600, state.Ban{Start: 100, End: 3710, Count: 1}, true},
			{120, 0, state.Ban{Start: 100, End: 3710, Count: 1}, true},
			{130, -1, state.Ban{Start: 100, End: -1, Count: 1}, true},
		}, 1},
		{"a ban that is over is a new ban", []ban{
			{100, 0, state.Ban{Start: 100, End: 160, Count: 1}, false},
			{160, 0, state.Ban{Start: 160, End: 220, Count: 2}, false},
		}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			js := state.New().Jail("j")
			js.Failures[ip.String()] = []int64{10}
			for i, b := range tt.bans {
				got, _, already := j.BanNow(js, nil, ip, b.now, b.bantime)
				if got != b.want || already != b.already || js.Bans[ip.String()] != b.want {
					t.Errorf("ban %d: got %+v already=%v, want %+v already=%v", i, got, already, b.want, b.already)
				}
			}
			if js.TotalBanned != tt.wantBanned || len(js.Failures) != 0 {
				t.Errorf("total banned %d (want %d), failures %v", js.TotalBanned, tt.wantBanned, js.Failures)
			}
			self := netip.PrefixFrom(ip, ip.BitLen())
			if once, _ := Lift(js, self, 0); len(once) != 1 {
				t.Errorf("unban should lift the ban: %v", once)
			}
			if twice, _ := Lift(js, self, 0); len(twice) != 0 {
				t.Errorf("unban should report the ban once")
			}
			if js.TotalUnbanned != 1 {
				t.Errorf("total unbanned %d, want 1: one ban lifted once", js.TotalUnbanned)
			}
		})
	}
}

// TestFailuresKeptOutOfOrder is why the state keeps every failure inside findtime, not only
// the newest maxretry-1 of an address: a failure that arrives late (a rotated file read after
// the current one, a journal entry) counts the window that ends at its own time, and that
// window can hold older failures that newer ones would have pushed out of a capped list. Here
// maxretry is 3, findtime 600, the run's now 800: lines of 800, 790, 210 and 250 arrive in
// that order, and each counts at most 2 in the window that ends at it (a later time is not in
// it); a last line of 260 counts 210, 250 and itself and bans. With only the newest 2 of the
// 4 kept (790, 800) it would count 2 and not ban.
func TestFailuresKeptOutOfOrder(t *testing.T) {
	ip := netip.MustParseAddr("203.0.113.9")
	for _, keepAll := range []bool{true, false} {
		j := Jail{MaxRetry: 3, FindTime: 600, BanTime: 3600, Escalation: DefaultEscalation()}
		js := state.New().Jail("j")
		for _, ts := range []int64{800, 790, 210, 250} {
			if a := j.Failure(js, nil, ip, ts, 800); a.Outcome != Counted {
				t.Fatalf("failure at %d: %v, want counted", ts, a.Outcome)
			}
		}
		if !keepAll { // what a cap of maxretry-1 newest failures per address would leave
			f := js.Failures[ip.String()]
			js.Failures[ip.String()] = f[len(f)-(j.MaxRetry-1):]
		}
		a := j.Failure(js, nil, ip, 260, 800)
		if got, want := a.Outcome == Banned, keepAll; got != want {
			t.Errorf("keep all %v: the late failure at 260 banned %v, want %v (%+v)", keepAll, got, want, a)
		}
	}
}

// TestWorksOnText: where WorksOnText says so, Expire and Aggregate on bans and a ban history
// that state.LoadLazy left as text lift, forget and count what they do on the decoded maps, and
// leave the same bans and history; it says so in the common case, and not with a prefix ban or
// subnet aggregation.
func TestWorksOnText(t *testing.T) {
	const now = 10_000
	plain := Jail{MaxRetry: 3, FindTime: 600, BanTime: 3600, Escalation: Escalation{ForgetAfter: 7200}}
	subnet := plain
	subnet.Subnet = Subnet{IPv4: 24, IPv6: 64, MinIPs: 2}
	bans := func(kv ...any) state.Bans {
		m := state.Bans{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(state.Ban)
		}
		return m
	}
	tests := []struct {
		name string
		jail Jail
		bans state.Bans
		hist state.BanHistory
		want bool
	}{
		{"bans in force", plain, bans("192.0.2.1", state.Ban{Start: 9000, End: 12000}, "192.0.2.2", state.Ban{Start: 1, End: -1}), nil, true},
		{"bans that end", plain, bans("192.0.2.1", state.Ban{Start: 9000, End: now, Count: 2}, "192.0.2.2", state.Ban{Start: 5000, End: 9999},
			"2001:db8::1", state.Ban{Start: 9000, End: 12000}, "192.0.2.3", state.Ban{Start: 1, End: -1}), nil, true},
		{"records to forget", plain, nil, state.BanHistory{"192.0.2.1": {Count: 1, Last: now - 7200}, "192.0.2.2": {Count: 2, Last: now - 7199}}, true},
		{"a prefix ban", plain, bans("198.51.100.0/24", state.Ban{Start: 9000, End: -1}), nil, false},
		{"subnet aggregation", subnet, bans("192.0.2.1", state.Ban{Start: 9000, End: 12000}), nil, false},
	}
	for _, tt := range tests {
		s := state.New()
		js := s.Jail("j")
		maps.Copy(js.Bans, tt.bans)
		maps.Copy(js.BanHistory, tt.hist)
		path := filepath.Join(t.TempDir(), "state.json")
		if err := state.Save(path, s); err != nil {
			t.Fatal(err)
		}
		eager, err := state.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		lazy, err := state.LoadLazy(path)
		if err != nil {
			t.Fatal(err)
		}
		ej, lj := eager.Jail("j"), lazy.Jail("j")
		info, ok := lj.LazyBans()
		if !ok {
			t.Fatalf("%s: LoadLazy decoded the bans", tt.name)
		}
		if got := tt.jail.WorksOnText(info); got != tt.want {
			t.Errorf("%s: WorksOnText = %v, want %v", tt.name, got, tt.want)
		}
		if !tt.want {
			continue
		}
		want, wantAgg := tt.jail.Expire(ej, now), tt.jail.Aggregate(ej, now)
		got, gotAgg := tt.jail.Expire(lj, now), tt.jail.Aggregate(lj, now)
		if _, still := lj.LazyBans(); !still {
			t.Errorf("%s: Expire or Aggregate decoded the bans", tt.name)
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotAgg, wantAgg) || lj.TotalUnbanned != ej.TotalUnbanned {
			t.Errorf("%s: on text %+v (%d unbanned), decoded %+v (%d)", tt.name, got, lj.TotalUnbanned, want, ej.TotalUnbanned)
		}
		lazy.DecodeBans()
		if !maps.Equal(lj.Bans, ej.Bans) || !maps.Equal(lj.BanHistory, ej.BanHistory) {
			t.Errorf("%s: left on text %v %v, decoded %v %v", tt.name, lj.Bans, lj.BanHistory, ej.Bans, ej.BanHistory)
		}
	}
}
