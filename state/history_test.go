package state

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// a UTC midnight (2026-08-18)
const day0 = 1787011200

func TestBucketKeys(t *testing.T) {
	for _, tt := range []struct{ now, hour, day int64 }{
		{day0 + 1, day0, day0},
		{day0 + 3600, day0, day0}, // the end of a bucket belongs to it
		{day0 + 3601, day0 + 3600, day0},
		{day0 + 86400, day0 + 82800, day0}, // midnight: the run read the day before
		{day0 + 86401, day0 + 86400, day0 + 86400},
	} {
		if h, d := HourKey(tt.now), DayKey(tt.now); h != tt.hour || d != tt.day {
			t.Errorf("now %d: hour %d day %d, want %d %d", tt.now, h, d, tt.hour, tt.day)
		}
	}
}

func TestRecorder(t *testing.T) {
	h := NewHistory()
	now := int64(day0 + 10*3600 + 60)
	r := h.Recorder("j", now)
	r.Lines(100)
	r.Failure("192.0.2.7")
	r.Failure("192.0.2.7")
	r.Failure("198.51.100.1")
	r.Flush()
	r.Ban("192.0.2.7", now+600, false)
	r.Ban("203.0.113.5", -1, true)
	r.Unban("198.51.100.9", false)
	h.Recorder("other", now) // nothing happened: no record
	h.Prune(now, 31)

	// A later run lifts the permanent ban by hand.
	now2 := now + 7200
	h.Recorder("j", now2).Unban("203.0.113.5", true)
	h.Prune(now2, 31)

	j := h.Jail("j")
	want := &JailHistory{
		Hours: map[int64]*Counts{
			day0 + 10*3600: {3, 2, 1, 1, 1, 100},
			day0 + 12*3600: {0, 0, 1, 0, 0, 0},
		},
		Runs: []Run{{now, 3, 2, 1, 1, 1, 100}, {now2, 0, 0, 1, 0, 0, 0}},
		Days: map[int64]*IPCounts{day0: NewIPCounts(map[string]int64{"192.0.2.7": 2, "198.51.100.1": 1})},
		IPHours: map[int64]*IPCounts{
			day0 + 10*3600: NewIPCounts(map[string]int64{"192.0.2.7": 2, "198.51.100.1": 1}),
		},
		Bans: []BanSpan{{"192.0.2.7", now, now + 600}, {"203.0.113.5", now, now2}},
	}
	decodeCounts(&History{Jails: map[string]*JailHistory{"j": j}})
	if !reflect.DeepEqual(j, want) {
		t.Errorf("history\n got %+v\nwant %+v", j, want)
	}
	if o := h.Jail("other"); len(o.Runs) != 0 || len(o.Hours) != 0 {
		t.Errorf("a jail without events has records: %+v", o)
	}
	if h.Start != now-1 || h.Last != now2 {
		t.Errorf("start %d last %d, want %d %d", h.Start, h.Last, now-1, now2)
	}
	if !j.Bans[0].ActiveAt(now) || j.Bans[0].ActiveAt(now+600) || j.Bans[1].ActiveAt(now2) || !j.Bans[1].ActiveAt(now2-1) {
		t.Errorf("ActiveAt wrong for %+v", j.Bans)
	}
}

// TestNewBan: NewBan (the state held no ban of the IP) ends a span left open before the run,
// as Ban does, and needs no index of the spans by IP for the others; a Ban after NewBans
// still finds the span a NewBan opened in the same run, and ends it.
func TestNewBan(t *testing.T) {
	h := NewHistory()
	now := int64(day0 + 3600)
	r := h.Recorder("j", now)
	r.Ban("192.0.2.1", now+600, false) // open at the next run
	r.Ban("192.0.2.2", now+60, false)  // ended by then
	r.Ban("192.0.2.3", now+600, false) // lifted by hand before then
	h.Recorder("j", now+30).Unban("192.0.2.3", true)
	now2 := now + 120
	r = h.Recorder("j", now2)
	r.NewBan("192.0.2.2", now2+600)
	r.NewBan("192.0.2.3", now2+600)
	r.NewBan("192.0.2.4", -1)
	if r.last != nil {
		t.Errorf("NewBans of IPs without an open span built the index of spans by IP (%d)", len(r.last))
	}
	r.NewBan("192.0.2.1", now2+600)     // the state lost it (edited by hand): its span ends now
	r.Ban("192.0.2.4", now2+900, false) // replaces this run's permanent one
	r.NewBan("192.0.2.5", -1)           // after the index was built: indexed too
	r.Ban("192.0.2.5", now2+60, false)
	want := []BanSpan{
		{"192.0.2.1", now, now2}, {"192.0.2.2", now, now + 60}, {"192.0.2.3", now, now + 30},
		{"192.0.2.2", now2, now2 + 600}, {"192.0.2.3", now2, now2 + 600}, {"192.0.2.4", now2, now2},
		{"192.0.2.1", now2, now2 + 600}, {"192.0.2.4", now2, now2 + 900}, {"192.0.2.5", now2, now2},
		{"192.0.2.5", now2, now2 + 60},
	}
	if got := h.Jail("j").Bans; !reflect.DeepEqual(got, want) {
		t.Errorf("spans\n got %v\nwant %v", got, want)
	}
}

func TestPrune(t *testing.T) {
	h := NewHistory()
	// A run every 6 hours for 40 days, each with one failure and a 1 h ban.
	var last int64
	for now := int64(day0 + 60); now < day0+40*86400; now += 6 * 3600 {
		r := h.Recorder("j", now)
		r.Failure("192.0.2.7")
		r.Flush()
		r.Ban("192.0.2.7", now+3600, false)
		h.Prune(now, 3)
		last = now
	}
	j := h.Jail("j")
	// last is day 39, 18:01; kept: days 37, 38, 39.
	start := int64(day0 + 37*86400)
	if h.Start != start || h.Last != last {
		t.Fatalf("start %d last %d, want %d %d", h.Start, h.Last, start, last)
	}
	if len(j.Days) != 3 || len(j.Hours) != 12 || len(j.Bans) != 12 {
		t.Errorf("days %d hours %d bans %d, want 3 12 12", len(j.Days), len(j.Hours), len(j.Bans))
	}
	for k := range j.Hours {
		if k < start {
			t.Errorf("hour %d before start %d kept", k, start)
		}
	}
	// Runs after the hour that holds last-48h (day 37, 18:00): 18:01 that day, then 4 a day.
	if h.RunsSince != HourKey(last-RunsKept) || len(j.Runs) != 9 {
		t.Errorf("runs since %d (%d runs), want %d (9 runs)", h.RunsSince, len(j.Runs), HourKey(last-RunsKept))
	}
	// ip_hours from the start of yesterday: days 38 and 39, 4 runs each.
	if h.IPHoursSince != day0+38*86400 || len(j.IPHours) != 8 {
		t.Errorf("ip_hours since %d (%d buckets), want %d (8)", h.IPHoursSince, len(j.IPHours), day0+38*86400)
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := sample()
	r := s.History.Recorder("postfix-sasl", day0+100)
	r.Failure("2001:db8::1")
	r.Flush()
	r.Ban("2001:db8::1", -1, true)
	r.Lines(7)
	s.History.Prune(day0+100, 31)
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// Per-IP counts come back undecoded; decode them all to compare (and part the twins).
	decodeCounts(got.History)
	decodeCounts(s.History)
	checkKept(t, got)
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got.History, s.History)
	}
	// Saved again without being decoded, the counts are written back as they were read.
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	if err := Save(path, again); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(path); string(second) != string(first) {
		t.Errorf("a load and save changed the file:\n%s\n%s", first, second)
	}
}

func TestHistoryCorrupt(t *testing.T) {
	for _, tt := range []struct{ name, history, wantErr string }{
		{"not an object", `"x"`, "cannot unmarshal string"},
		{"null jail", `{"jails": {"j": null}}`, "history.jails.j: null"},
		{"hour key", `{"jails": {"j": {"hours": {"100": [1,0,0,0,0,0]}}}}`, "history.jails.j.hours.100: not the start of an hour"},
		{"unknown key", `{"jails": {"j": {"minutes": {}}}}`, `unknown field "minutes"`},
		{"ban ends before", `{"jails": {"j": {"bans": [{"ip": "192.0.2.1", "at": 100, "end": 50}]}}}`, "history.jails.j.bans[0]: end 50 before 100"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(`{"version": 1, "jails": {}, "history": `+tt.history+`}`), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want %q naming %s", err, tt.wantErr, path)
			}
		})
	}
}

// TestRecorderFlush: failures count in the per-IP buckets once flushed, and two runs of the
// same hour (the second finding the buckets there) add up; the first run's map is not shared
// between the day's and the hour's bucket.
func TestRecorderFlush(t *testing.T) {
	h := NewHistory()
	now := int64(day0 + 3600 + 60)
	r := h.Recorder("j", now)
	r.Failure("192.0.2.7")
	r.Failure("192.0.2.8")
	if len(h.Jail("j").Days) != 0 {
		t.Fatal("counted in the buckets before Flush")
	}
	r.Flush()
	r2 := h.Recorder("j", now+60)
	r2.Failure("192.0.2.7")
	r2.Failure("192.0.2.9")
	r2.Flush()
	want := map[string]int64{"192.0.2.7": 2, "192.0.2.8": 1, "192.0.2.9": 1}
	j := h.Jail("j")
	if got := j.Days[DayKey(now)].Map(); !reflect.DeepEqual(got, want) {
		t.Errorf("day: %v, want %v", got, want)
	}
	if got := j.IPHours[HourKey(now)].Map(); !reflect.DeepEqual(got, want) {
		t.Errorf("hour: %v, want %v", got, want)
	}
}

// decodeCounts decodes every per-IP count of h, and parts the twins (one map for a day and an
// hour, see IPCounts.twin), as reflect.DeepEqual would tell them from decoded counts.
func decodeCounts(h *History) {
	for _, j := range h.Jails {
		for _, m := range []map[int64]*IPCounts{j.Days, j.IPHours} {
			for _, c := range m {
				c.Map()
			}
		}
	}
}

// TestCountTwins: a first run's day and hour buckets hold the same counts in one map, whose
// text Save makes once for both; a later change of one bucket leaves the other as it was.
func TestCountTwins(t *testing.T) {
	const now = 1786838400 + 1800 // the next minute is in the same hour and day
	s := New()
	rec := s.History.Recorder("j", now)
	for i := range aheadMin * 2 {
		rec.Failure(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String())
	}
	rec.Flush()
	for i := range aheadMin { // a second big map: writeAhead makes texts ahead for two or more
		s.Jail("j").Failures[netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String()] = []int64{now}
	}
	jh := s.History.Jail("j")
	day, hour := jh.Days[DayKey(now)], jh.IPHours[HourKey(now)]
	if day == nil || hour == nil || reflect.ValueOf(day.m).UnsafePointer() != reflect.ValueOf(hour.m).UnsafePointer() {
		t.Fatal("the day and the hour do not share their map")
	}
	pre := writeAhead(s, true)
	d, h := pre[day].written, pre[hour].written
	if len(d) == 0 || len(h) != len(d) || &d[0] != &h[0] {
		t.Fatalf("the twins' text is not made once for both (%d and %d bytes)", len(d), len(h))
	}
	want, _ := Encode(s)

	// The next run, in the same hour of the same day: the hour changes, the day too, apart.
	rec = s.History.Recorder("j", now+60)
	rec.Failure("192.0.2.1")
	rec.Flush()
	if day.Map()["192.0.2.1"] != 1 || hour.Map()["192.0.2.1"] != 1 || day.Map()["10.0.0.1"] != 1 {
		t.Errorf("after a second run: day %d, hour %d for the new address", day.Map()["192.0.2.1"], hour.Map()["192.0.2.1"])
	}
	hour.Map()["10.0.0.1"] = 5
	if day.Map()["10.0.0.1"] != 1 {
		t.Error("a change of the hour changed the day")
	}
	// What the twins were encoded as is what decoded counts encode as.
	got, err := Decode(want)
	if err != nil {
		t.Fatal(err)
	}
	decodeCounts(got.History)
	if n := len(got.History.Jail("j").IPHours[HourKey(now)].Map()); n != aheadMin*2 {
		t.Errorf("the hour saved with %d addresses, want %d", n, aheadMin*2)
	}
}
