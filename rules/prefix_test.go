package rules

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// keys renders what Aggregate did as "prefix [start,end) n=members ignored=entry".
func aggStrings(l []PrefixBan) []string {
	var out []string
	for _, pb := range l {
		s := pb.Prefix.String()
		if pb.Ban != (state.Ban{}) {
			s += " [" + itoa(pb.Ban.Start) + "," + itoa(pb.Ban.End) + ")"
		}
		if pb.Members > 0 {
			s += " n=" + itoa(int64(pb.Members))
		}
		if pb.Ignored.IsValid() {
			s += " ignored=" + pb.Ignored.String()
		}
		out = append(out, s)
	}
	return out
}

func ban(start, end int64) state.Ban { return state.Ban{Start: start, End: end} }

func itoa(n int64) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestAggregate(t *testing.T) {
	sub := Subnet{IPv4: 24, IPv6: 48, MinIPs: 3}
	type bans = map[string]state.Ban
	tests := []struct {
		name                              string
		jail                              Jail
		bans                              bans
		wantBans                          bans // nil: unchanged
		banned, extended, refused, lifted []string
	}{
		{
			name: "two members are not enough",
			jail: Jail{Subnet: sub},
			bans: bans{"203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, 1000), "203.0.114.3": ban(200, 1000)},
		},
		{
			name: "min_ips members at once ban the prefix from the third start to the longest end",
			jail: Jail{Subnet: sub},
			bans: bans{"203.0.113.1": ban(100, 1000), "203.0.113.200": ban(300, 2000), "203.0.113.2": ban(200, 1500), "198.51.100.1": ban(100, 900)},
			wantBans: bans{"203.0.113.1": ban(100, 1000), "203.0.113.200": ban(300, 2000), "203.0.113.2": ban(200, 1500), "198.51.100.1": ban(100, 900),
				"203.0.113.0/24": ban(300, 2000)},
			banned: []string{"203.0.113.0/24 [300,2000) n=3"},
		},
		{
			name: "members with different ends, one permanent: the prefix is permanent",
			jail: Jail{Subnet: sub},
			bans: bans{"203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, -1), "203.0.113.3": ban(300, 500), "203.0.113.4": ban(350, 600)},
			wantBans: bans{"203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, -1), "203.0.113.3": ban(300, 500), "203.0.113.4": ban(350, 600),
				"203.0.113.0/24": ban(300, -1)},
			banned: []string{"203.0.113.0/24 [300,-1) n=4"},
		},
		{
			name: "a member whose ban is over does not count",
			jail: Jail{Subnet: sub},
			bans: bans{"203.0.113.1": ban(100, 400), "203.0.113.2": ban(200, 1000), "203.0.113.3": ban(300, 1000)},
		},
		{
			name:    "an address of ignoreip inside the prefix: never banned, members stay",
			jail:    Jail{Subnet: sub, IgnoreIP: prefixes("203.0.113.77/32")},
			bans:    bans{"203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, 1000), "203.0.113.3": ban(300, 1000)},
			refused: []string{"203.0.113.0/24 n=3 ignored=203.0.113.77/32"},
		},
		{
			name:    "an ignoreip CIDR that holds the prefix",
			jail:    Jail{Subnet: sub, IgnoreIP: prefixes("203.0.0.0/16")},
			bans:    bans{"203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, 1000), "203.0.113.3": ban(300, 1000)},
			refused: []string{"203.0.113.0/24 n=3 ignored=203.0.0.0/16"},
		},
		{
			name: "a banned prefix is extended to a longer member, never shortened",
			jail: Jail{Subnet: sub},
			bans: bans{"203.0.113.0/24": ban(300, 2000), "203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, 5000), "203.0.113.3": ban(300, 1000),
				"198.51.100.0/24": ban(300, 9000), "198.51.100.1": ban(100, 1000), "198.51.100.2": ban(200, 1000), "198.51.100.3": ban(300, 1000)},
			wantBans: bans{"203.0.113.0/24": ban(300, 5000), "203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, 5000), "203.0.113.3": ban(300, 1000),
				"198.51.100.0/24": ban(300, 9000), "198.51.100.1": ban(100, 1000), "198.51.100.2": ban(200, 1000), "198.51.100.3": ban(300, 1000)},
			extended: []string{"203.0.113.0/24 [300,5000) n=3"},
		},
		{
			name: "a prefix ban that overlaps ignoreip since a config change is lifted; a manual one too",
			jail: Jail{Subnet: sub, IgnoreIP: prefixes("203.0.113.9/32", "10.0.0.1/32")},
			bans: bans{"203.0.113.0/24": ban(300, 2000), "203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, 1000), "203.0.113.3": ban(300, 1000),
				"10.0.0.0/8": ban(50, -1)},
			wantBans: bans{"203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, 1000), "203.0.113.3": ban(300, 1000)},
			refused:  []string{"203.0.113.0/24 n=3 ignored=203.0.113.9/32"},
			lifted:   []string{"10.0.0.0/8 [50,-1) ignored=10.0.0.1/32", "203.0.113.0/24 [300,2000) ignored=203.0.113.9/32"},
		},
		{
			name: "IPv6: /64 keys (ipv6_prefix) are the members of a /48",
			jail: Jail{Subnet: sub, IPv6Prefix: 64},
			bans: bans{"2001:db8:0:1::/64": ban(100, 1000), "2001:db8:0:2::/64": ban(200, 1000), "2001:db8:0:ffff::/64": ban(300, 1100), "2001:db8:1::/64": ban(300, 1100)},
			wantBans: bans{"2001:db8:0:1::/64": ban(100, 1000), "2001:db8:0:2::/64": ban(200, 1000), "2001:db8:0:ffff::/64": ban(300, 1100), "2001:db8:1::/64": ban(300, 1100),
				"2001:db8::/48": ban(300, 1100)},
			banned: []string{"2001:db8::/48 [300,1100) n=3"},
		},
		{
			name: "IPv4 and IPv6 of one family each: no mixing",
			jail: Jail{Subnet: Subnet{IPv4: 8, IPv6: 16, MinIPs: 2}},
			bans: bans{"10.0.0.1": ban(100, 1000), "::a00:2": ban(100, 1000)},
		},
		{
			name: "subnet off",
			jail: Jail{},
			bans: bans{"203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, 1000), "203.0.113.3": ban(300, 1000)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := state.New().Jail("j")
			maps.Copy(js.Bans, tt.bans)
			agg := tt.jail.Aggregate(js, 400)
			want := tt.wantBans
			if want == nil {
				want = tt.bans
			}
			if !maps.Equal(js.Bans, want) {
				t.Errorf("bans\n %v\nwant\n %v", js.Bans, want)
			}
			for _, l := range []struct {
				what      string
				got, want []string
			}{
				{"banned", aggStrings(agg.Banned), tt.banned},
				{"extended", aggStrings(agg.Extended), tt.extended},
				{"refused", aggStrings(agg.Refused), tt.refused},
				{"lifted", aggStrings(agg.Lifted), tt.lifted},
			} {
				if !slices.Equal(l.got, l.want) {
					t.Errorf("%s %q, want %q", l.what, l.got, l.want)
				}
			}
			again := tt.jail.Aggregate(js, 400)
			if len(again.Banned)+len(again.Extended)+len(again.Lifted) > 0 || !maps.Equal(js.Bans, want) {
				t.Errorf("a second Aggregate changed something: %+v", again)
			}
		})
	}
}

// TestPrefixLifetime follows a prefix whose members have different ends through the runs of
// a scan (Expire, then Aggregate): it is banned as long as its longest member, alone in the
// rules while it is.
func TestPrefixLifetime(t *testing.T) {
	j := Jail{MaxRetry: 5, FindTime: 600, BanTime: 600, Subnet: Subnet{IPv4: 24, IPv6: 64, MinIPs: 3}}
	js := state.New().Jail("j")
	for i, end := range []int64{60, 600, 3600} { // bans of 1 min, 10 min, 1 h
		j.BanNow(js, nil, netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)}), 100, end)
	}
	j.BanNow(js, nil, netip.MustParseAddr("198.51.100.7"), 100, 0)
	run := func(now int64) ([]string, []string) {
		var lifted []string
		for _, a := range j.Expire(js, now) {
			lifted = append(lifted, a.Key)
		}
		j.Aggregate(js, now)
		return lifted, ActiveKeys(js, now)
	}
	for _, step := range []struct {
		now                int64
		lifted, activeKeys []string
	}{
		{100, nil, []string{"198.51.100.7", "203.0.113.0/24"}},
		{160, []string{"203.0.113.1"}, []string{"198.51.100.7", "203.0.113.0/24"}},
		{700, []string{"198.51.100.7", "203.0.113.2"}, []string{"203.0.113.0/24"}},
		{3699, nil, []string{"203.0.113.0/24"}},
		{3700, []string{"203.0.113.0/24", "203.0.113.3"}, []string{}},
	} {
		lifted, keys := run(step.now)
		if !slices.Equal(lifted, step.lifted) || !slices.Equal(keys, step.activeKeys) {
			t.Errorf("now %d: lifted %q, in force %q; want %q, %q", step.now, lifted, keys, step.lifted, step.activeKeys)
		}
	}
	if js.TotalBanned != 5 {
		t.Errorf("total banned %d, want 5: four addresses and the prefix", js.TotalBanned)
	}
}

func TestIPv6PrefixCounting(t *testing.T) {
	j := Jail{MaxRetry: 5, FindTime: 600, BanTime: 600, IPv6Prefix: 64, IgnoreIP: prefixes("2001:db8:9::1/128")}
	js := state.New().Jail("j")
	// Five failures from five addresses of one /64 ban the /64.
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3", "2001:db8:1:2::4", "2001:db8:1:2:abcd::5"} {
		a := j.Failure(js, nil, netip.MustParseAddr(ip), int64(100+i), 200)
		want := Counted
		if i == 4 {
			want = Banned
		}
		if a.Outcome != want || a.Key != "2001:db8:1:2::/64" || a.Count != i+1 {
			t.Fatalf("failure %d of %s: %v key %s count %d, want %v key 2001:db8:1:2::/64 count %d", i, ip, a.Outcome, a.Key, a.Count, want, i+1)
		}
	}
	if b := js.Bans["2001:db8:1:2::/64"]; b != (state.Ban{Start: 104, End: 704, Count: 1}) || len(js.Bans) != 1 {
		t.Errorf("bans %v, want the /64 from 104 to 704", js.Bans)
	}
	// Another address of the /64 is inside the ban.
	if a := j.Failure(js, nil, netip.MustParseAddr("2001:db8:1:2::99"), 150, 200); a.Outcome != DuringBan {
		t.Errorf("failure inside the banned /64: %v", a.Outcome)
	}
	// A /64 with an address of ignoreip is counted per address; IPv4 is per address always.
	for _, tt := range []struct{ ip, key string }{
		{"2001:db8:9::2", "2001:db8:9::2"},
		{"2001:db8:a::2", "2001:db8:a::/64"},
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.8", "192.0.2.8"},
	} {
		if a := j.Failure(js, nil, netip.MustParseAddr(tt.ip), 150, 200); a.Key != tt.key || a.Outcome != Counted {
			t.Errorf("failure of %s: key %q %v, want %q", tt.ip, a.Key, a.Outcome, tt.key)
		}
	}
	// ipv6_prefix 128 (the default) is per address, as fail2ban.
	j.IPv6Prefix = 128
	if k := j.Key(netip.MustParseAddr("2001:db8:1:2::1")); k != "2001:db8:1:2::1" {
		t.Errorf("key with ipv6_prefix 128: %s", k)
	}
}

func TestLift(t *testing.T) {
	type bans = map[string]state.Ban
	start := bans{
		"203.0.113.0/24": ban(300, 2000), "203.0.113.1": ban(100, 1000), "203.0.113.2": ban(200, 2000), "203.0.113.3": ban(300, 1000),
		"198.51.100.7": ban(100, 1000), "198.51.100.0/24": ban(100, 300), "198.51.100.8": ban(100, 1000), // a prefix that is over
		"2001:db8:1:2::/64": ban(100, -1),
	}
	tests := []struct {
		target     string
		wantLifted []string
		wantErr    string
	}{
		{"203.0.113.2/32", nil, "203.0.113.2 is inside the banned prefix 203.0.113.0/24: unban 203.0.113.0/24 to lift it"},
		{"203.0.113.0/25", nil, "203.0.113.0/25 is inside the banned prefix 203.0.113.0/24"},
		{"203.0.113.0/24", []string{"203.0.113.0/24", "203.0.113.1", "203.0.113.2", "203.0.113.3"}, ""},
		{"203.0.0.0/16", []string{"203.0.113.0/24", "203.0.113.1", "203.0.113.2", "203.0.113.3"}, ""},
		{"198.51.100.7/32", []string{"198.51.100.7"}, ""}, // its prefix's ban is over
		{"::ffff:198.51.100.7/128", []string{"198.51.100.7"}, ""},
		{"2001:db8:1:2::5/128", nil, "2001:db8:1:2::5 is inside the banned prefix 2001:db8:1:2::/64"},
		{"2001:db8:1:2::/64", []string{"2001:db8:1:2::/64"}, ""},
		{"192.0.2.1/32", []string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			js := state.New().Jail("j")
			maps.Copy(js.Bans, start)
			lifted, err := Lift(js, netip.MustParsePrefix(tt.target), 400)
			if tt.wantErr != "" {
				var ie *InsidePrefixError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &ie) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if !maps.Equal(js.Bans, start) {
					t.Errorf("a refused unban changed the bans: %v", js.Bans)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(lifted, tt.wantLifted) && len(lifted)+len(tt.wantLifted) > 0 {
				t.Errorf("lifted %q, want %q", lifted, tt.wantLifted)
			}
			if len(js.Bans) != len(start)-len(tt.wantLifted) {
				t.Errorf("bans left %v", js.Bans)
			}
			for _, k := range lifted {
				if _, ok := js.Bans[k]; ok {
					t.Errorf("%s still banned", k)
				}
			}
		})
	}
	js := state.New().Jail("j")
	maps.Copy(js.Bans, start)
	if got := LiftAll(js); len(got) != len(start) || got[0] != "198.51.100.0/24" || len(js.Bans) != 0 {
		t.Errorf("LiftAll: %q", got)
	}
}

func TestBanTarget(t *testing.T) {
	j := Jail{BanTime: 600, IPv6Prefix: 64}
	js := state.New().Jail("j")
	for _, tt := range []struct {
		target, key string
		already     bool
	}{
		{"203.0.113.0/24", "203.0.113.0/24", false},
		{"203.0.113.0/24", "203.0.113.0/24", true},
		{"192.0.2.7/32", "192.0.2.7", false},
		{"::ffff:192.0.2.8/128", "192.0.2.8", false},
		{"2001:db8:1:2::5/128", "2001:db8:1:2::/64", false},
		{"2001:db8:1:2::6/128", "2001:db8:1:2::/64", true},
	} {
		key, b, _, already := j.BanTarget(js, nil, netip.MustParsePrefix(tt.target), 100, 0)
		if key != tt.key || already != tt.already || b != (state.Ban{Start: 100, End: 700, Count: 1}) || js.Bans[key] != b {
			t.Errorf("BanTarget(%s) = %s %+v %v, want %s already=%v", tt.target, key, b, already, tt.key, tt.already)
		}
	}
	if js.TotalBanned != 4 {
		t.Errorf("total banned %d, want 4", js.TotalBanned)
	}
}

func TestCompareKeys(t *testing.T) {
	keys := []string{"2001:db8::/64", "bogus", "192.0.2.7", "2001:db8::1", "192.0.2.0/24", "10.0.0.1", "192.0.2.0"}
	slices.SortFunc(keys, CompareKeys)
	want := []string{"10.0.0.1", "192.0.2.0/24", "192.0.2.0", "192.0.2.7", "2001:db8::/64", "2001:db8::1", "bogus"}
	if !slices.Equal(keys, want) {
		t.Errorf("sorted %q, want %q", keys, want)
	}
}
