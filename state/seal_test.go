package state

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// saved writes s to a new state file and returns its path and bytes.
func saved(t *testing.T, s *State) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.json")
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// loadBoth loads the state at path with Load and with LoadLazy.
func loadBoth(t *testing.T, path string) (eager, lazy *State) {
	t.Helper()
	eager, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if lazy, err = LoadLazy(path); err != nil {
		t.Fatal(err)
	}
	return eager, lazy
}

// TestSeal: Save ends the file with the CRC-32C of what precedes the seal; a file whose seal
// matches is left lazy by LoadLazy, one edited by hand (the seal no longer matches, or is
// gone) is decoded and checked as before, gives the same state, and is written again, sealed,
// by the next Save even when nothing changed.
func TestSeal(t *testing.T) {
	s := botnet(50, 3, 20)
	path, data := saved(t, s)
	i := bytes.LastIndex(data, []byte(sealKey))
	if i < 0 || len(data)-i != sealLen {
		t.Fatalf("no seal at the end: %q", data[max(0, len(data)-40):])
	}
	if want := sealSuffix(crc32Castagnoli(data[:i])); string(data[i:]) != want {
		t.Fatalf("seal %q, want %q", data[i:], want)
	}
	eager, lazy := loadBoth(t, path)
	if _, ok := lazy.Jails["postfix-sasl"].LazyBans(); !ok {
		t.Fatal("LoadLazy decoded the bans of a sealed file")
	}

	edits := map[string]func([]byte) []byte{
		// A ban's start one second later, the seal left as it was.
		"edited": func(d []byte) []byte {
			k := bytes.Index(d, []byte(`"bans":"`)) + len(`"bans":"`)
			k += bytes.IndexByte(d[k:], '=') + 1
			d[k+9]++ // the last digit of a 10-digit start (ending in 0-8 here)
			return d
		},
		// Formatted by hand or jq: no seal at all.
		"no seal": func(d []byte) []byte {
			return append(append(d[:bytes.LastIndex(d, []byte(sealKey))], '}'), '\n')
		},
		// The seal's digits changed.
		"wrong seal": func(d []byte) []byte { d[len(d)-5] ^= 1; return d },
		// Not even hex.
		"seal not hex": func(d []byte) []byte { d[len(d)-5] = 'x'; return d },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			d := edit(bytes.Clone(data))
			p := filepath.Join(t.TempDir(), "state.json")
			os.WriteFile(p, d, 0o600)
			got, err := LoadLazy(p)
			if err != nil {
				t.Fatal(err)
			}
			j := got.Jails["postfix-sasl"]
			if _, ok := j.LazyBans(); ok || j.Lazy() {
				t.Fatal("a file that does not match its seal was left as text")
			}
			want := eager.Jails["postfix-sasl"].Bans
			if name == "edited" {
				if reflect.DeepEqual(j.Bans, want) {
					t.Fatal("the edit was not read")
				}
			} else if !reflect.DeepEqual(j.Bans, want) {
				t.Fatal("the bans differ from the sealed file's")
			}
			if err := Save(p, got); err != nil {
				t.Fatal(err)
			}
			again, _ := os.ReadFile(p)
			k := bytes.LastIndex(again, []byte(sealKey))
			if k < 0 || string(again[k:]) != sealSuffix(crc32Castagnoli(again[:k])) {
				t.Errorf("not written again with its seal: %q", again[max(0, len(again)-40):])
			}
		})
	}

	// An edit that breaks a check is refused as before: the seal spares no check then.
	bad := bytes.Replace(bytes.Clone(data), []byte(`"bans":"`), []byte(`"bans":"x=1,2,3 `), 1)
	os.WriteFile(path, bad, 0o600)
	if _, err := LoadLazy(path); err == nil || !strings.Contains(err.Error(), `jails.postfix-sasl.bans."x": not an address`) {
		t.Errorf("a bad key in a file whose seal no longer matches: %v", err)
	}
}

// TestLazyBans: LoadLazy of a sealed file leaves the bans, the ban history and the history's
// spans as text, knows what a run must know of them, writes them back as read while nothing
// asks for them, and decodes them (DecodeBans, the spans by themselves) to what Load gives.
func TestLazyBans(t *testing.T) {
	s := botnet(30, 2, 300)
	j := s.Jails["postfix-sasl"]
	j.Bans["192.0.2.0/24"] = Ban{Start: 1786838000, End: -1, Count: 1}
	j.Bans["198.51.100.1"] = Ban{Start: 1786838000, End: 1786838001, Count: 2} // the earliest end
	j.BanHistory["198.51.100.1"] = BanRecord{Count: 2, Last: 1700000000}       // the oldest record
	path, _ := saved(t, s)
	eager, lazy := loadBoth(t, path)
	lj, ej := lazy.Jails["postfix-sasl"], eager.Jails["postfix-sasl"]
	info, ok := lj.LazyBans()
	if want := (LazyBans{N: 302, NextEnd: 1786838001, Prefixes: true, OldestRecord: 1700000000}); !ok || info != want {
		t.Fatalf("LazyBans = %+v, %v; want %+v", info, ok, want)
	}
	if len(lj.Bans) != 0 || len(lj.BanHistory) != 0 || lazy.History.Jails["postfix-sasl"].lazySpans == "" {
		t.Fatal("the bans, their history or the spans were decoded")
	}
	if !reflect.DeepEqual(lj.DecodedBans(), ej.Bans) || lj.Bans == nil || len(lj.Bans) != 0 {
		t.Fatal("DecodedBans differs from Load's bans, or changed the jail")
	}
	sum := lj.BansSum()
	if again, _ := LoadLazy(path); sum == "" || again.Jails["postfix-sasl"].BansSum() != sum {
		t.Fatalf("BansSum %q is not the same for the same file", sum)
	}

	// Nothing asked: the file is not written again.
	before, _ := os.Stat(path)
	if err := Save(path, lazy); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(path); !os.SameFile(before, after) {
		t.Fatal("a lazy state with no change was written again")
	}

	// Pruning that drops no span leaves them as text; recording a ban decodes them.
	h := lazy.History
	h.Prune(1786838400, 30)
	if h.Jails["postfix-sasl"].lazySpans == "" {
		t.Error("Prune decoded spans of which none ends before the history's start")
	}
	lazy.DecodeBans()
	if _, ok := lj.LazyBans(); ok || !reflect.DeepEqual(lj.Bans, ej.Bans) || !reflect.DeepEqual(lj.BanHistory, ej.BanHistory) {
		t.Fatal("DecodeBans does not give Load's bans and ban history")
	}
	if lj.BansSum() != "" {
		t.Error("BansSum of decoded bans")
	}
	if none := New().Jail("x").BansSum(); none == "" || none == sum {
		t.Errorf("BansSum of a jail without bans: %q", none)
	}
	// A ban of an address with no open span is appended to the spans left as text; one of an
	// address whose span is open (it must be ended now) decodes them.
	jh := h.Jails["postfix-sasl"]
	rec := h.Recorder("postfix-sasl", 1786838460)
	rec.Ban("203.0.113.5", 1786924860, false)
	if jh.lazySpans == "" || len(jh.tail) != 1 {
		t.Fatalf("a new address's ban decoded the spans (%d appended)", len(jh.tail))
	}
	want := eager.History.Jails["postfix-sasl"].Bans
	open := want[len(want)-1] // banned at the last minute, for a day
	if !open.ActiveAt(1786838460) {
		t.Fatalf("the sample's last span %+v is not open", open)
	}
	rec.Ban(open.IP, 1786924860, false)
	spans := jh.Bans
	if jh.lazySpans != "" || len(spans) != len(want)+2 || !reflect.DeepEqual(spans[:len(want)-1], want[:len(want)-1]) ||
		spans[len(want)-1].End != 1786838460 || spans[len(want)].IP != "203.0.113.5" || spans[len(want)+1].IP != open.IP {
		t.Fatalf("the spans after two bans: %d, want Load's %d (the last ended now) and the two", len(spans), len(want))
	}

	// A changed ban is saved, and the rest as it was.
	delete(lj.Bans, "198.51.100.1")
	if err := Save(path, lazy); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	delete(ej.Bans, "198.51.100.1")
	if !reflect.DeepEqual(got.Jails["postfix-sasl"].Bans, ej.Bans) || len(got.History.Jails["postfix-sasl"].Bans) != len(spans) {
		t.Error("the state saved after the changes differs")
	}
	if l, _ := LoadLazy(path); l.Jails["postfix-sasl"].BansSum() == sum {
		t.Error("BansSum did not change with the bans")
	}

	// Without bans there is nothing lazy, and no end.
	empty, _ := saved(t, New())
	e, _ := LoadLazy(empty)
	if _, ok := e.Jail("x").LazyBans(); ok {
		t.Error("LazyBans of a jail without bans")
	}
	if next := lazySpansEnd(`[{"ip":"192.0.2.1","at":5,"end":-1}]`); next != math.MaxInt64 {
		t.Errorf("a permanent span's end counted: %d", next)
	}
}

func crc32Castagnoli(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// FuzzLazyRoundTrip: whatever state Decode accepts, saved (sealed) and loaded by LoadLazy,
// gives Load's state once its bans, failures and spans are decoded, and where LazyBans tells
// of bans left as text, it tells of Load's bans and ban history what a run must know.
func FuzzLazyRoundTrip(f *testing.F) {
	for _, s := range fastSamples() {
		data, err := Encode(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"version":3,"jails":{"j":{"bans":"192.0.2.1=5,-1,0 2001:db8::/64=7,3,1","ban_history":"192.0.2.1=1,5"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			return
		}
		// What Save would write, read as load reads it (no file: fsync is slow for a fuzzer).
		doc, err := Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		body := doc[:len(doc)-2]
		file := append(bytes.Clone(body), sealSuffix(crc32Castagnoli(body))...)
		read := func(lazy bool) *State {
			data, sealed := unseal(bytes.Clone(file))
			if !sealed {
				t.Fatalf("the seal does not match: %q", file[max(0, len(file)-40):])
			}
			s, err := decode(data, lazy)
			if err != nil {
				t.Fatalf("decode (lazy %v) of what Save writes: %v", lazy, err)
			}
			return s
		}
		eager, lazy := read(false), read(true)
		for name, j := range eager.Jails {
			lj := lazy.Jails[name]
			info, ok := lj.LazyBans()
			if !ok {
				continue // decoded: none, or a document decodeFast leaves to encoding/json
			}
			want := LazyBans{N: len(j.Bans), NextEnd: math.MaxInt64, OldestRecord: math.MaxInt64}
			for k, b := range j.Bans {
				if b.End >= 0 {
					want.NextEnd = min(want.NextEnd, b.End)
				}
				want.Prefixes = want.Prefixes || strings.Contains(k, "/")
			}
			for _, r := range j.BanHistory {
				want.OldestRecord = min(want.OldestRecord, r.Last)
			}
			if info != want {
				t.Fatalf("jail %q: LazyBans %+v, want %+v", name, info, want)
			}
		}
		lazy.DecodeBans()
		for _, j := range lazy.Jails {
			j.FailureTimes()
		}
		for _, h := range lazy.History.Jails {
			h.spans()
		}
		a, _ := Encode(eager)
		b, _ := Encode(lazy)
		if !bytes.Equal(a, b) {
			t.Fatalf("decoded lazily:\n%s\nLoad:\n%s", b, a)
		}
	})
}

// TestBansByKey: on bans and a ban history left as text, BanOf, SetBan, BanRecordOf,
// SetBanRecord, ExpireText and ForgetText (random keys, present or not, bans that end at
// random) read and change what the same on the decoded maps does, leave the text undecoded,
// and Save writes the text merged with them as Encode writes the maps; BansChange names the
// keys banned and lifted, and BansSum the merged bans.
func TestBansByKey(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 9))
		path := filepath.Join(t.TempDir(), "state.json")
		if err := Save(path, botnet(10, 1, 300+int(seed)*10)); err != nil {
			t.Fatal(err)
		}
		eager, lazy := loadBoth(t, path)
		ej, lj := eager.Jails["postfix-sasl"], lazy.Jails["postfix-sasl"]
		base := lj.BansSum()
		orig := &Jail{Bans: maps.Clone(ej.Bans)}
		key := func() string {
			if rng.IntN(4) == 0 {
				return netip.AddrFrom4([4]byte{192, 0, 2, byte(rng.IntN(256))}).String() // new
			}
			return netip.AddrFrom4([4]byte{21, 0, byte(rng.IntN(2)), byte(rng.IntN(256))}).String()
		}
		now := int64(1786838400)
		for round := range 100 {
			k := key()
			if got, ok := lj.BanOf(k); got != ej.Bans[k] || ok != (ej.Bans[k] != Ban{}) {
				t.Fatalf("seed %d: BanOf(%s) = %v %v, want %v", seed, k, got, ok, ej.Bans[k])
			}
			if got, _ := lj.BanRecordOf(k); got != ej.BanHistory[k] {
				t.Fatalf("seed %d: BanRecordOf(%s) = %v, want %v", seed, k, got, ej.BanHistory[k])
			}
			switch rng.IntN(4) {
			case 0:
				b := Ban{Start: now, End: now + rng.Int64N(3600), Count: 1 + rng.IntN(3)}
				lj.SetBan(k, b)
				ej.Bans[k] = b
				r := BanRecord{Count: b.Count, Last: now}
				lj.SetBanRecord(k, r)
				ej.BanHistory[k] = r
			case 1:
				now += rng.Int64N(600)
				for _, e := range lj.ExpireText(now) {
					if b, ok := ej.Bans[e.Key]; !ok || b != e.Ban || b.End > now || b.End < 0 {
						t.Fatalf("seed %d: ExpireText lifted %s %v, the map holds %v", seed, e.Key, e.Ban, b)
					}
					delete(ej.Bans, e.Key)
				}
				for k, b := range ej.Bans {
					if b.End >= 0 && b.End <= now {
						t.Fatalf("seed %d, round %d: ExpireText left %s, which ended at %d", seed, round, k, b.End)
					}
				}
			case 2:
				before := now - rng.Int64N(86400)
				lj.ForgetText(before)
				maps.DeleteFunc(ej.BanHistory, func(_ string, r BanRecord) bool { return r.Last <= before })
			}
		}
		if _, ok := lj.LazyBans(); !ok {
			t.Fatalf("seed %d: the calls decoded the bans", seed)
		}
		if got := lj.DecodedBans(); !reflect.DeepEqual(got, ej.Bans) {
			for k, b := range got {
				if ej.Bans[k] != b {
					t.Logf("%s: lazy %v, map %v", k, b, ej.Bans[k])
				}
			}
			for k, b := range ej.Bans {
				if _, ok := got[k]; !ok {
					t.Logf("%s: lazy none, map %v", k, b)
				}
			}
			t.Errorf("seed %d: DecodedBans differs from the map", seed)
		}
		each, eachMap := Bans{}, Bans{}
		lj.EachBan(func(k string, b Ban) {
			if _, twice := each[k]; twice {
				t.Errorf("seed %d: EachBan gave %s twice", seed, k)
			}
			each[k] = b
		})
		ej.EachBan(func(k string, b Ban) { eachMap[k] = b })
		if !reflect.DeepEqual(each, ej.Bans) || !reflect.DeepEqual(eachMap, ej.Bans) {
			t.Errorf("seed %d: EachBan differs from the map: %d and %d bans, want %d", seed, len(each), len(eachMap), len(ej.Bans))
		}
		a, _ := Encode(eager)
		b, _ := Encode(lazy)
		if !bytes.Equal(a, b) {
			t.Fatalf("seed %d: the merged texts differ from the maps'", seed)
		}
		// What changed since the load: the keys banned now and not then, and the reverse.
		gotBase, gotAdded, gotLifted, ok := lj.BansChange()
		var wantAdded, wantLifted []string
		for k := range ej.Bans {
			if _, before := orig.Bans[k]; !before {
				wantAdded = append(wantAdded, k)
			}
		}
		for k := range orig.Bans {
			if _, now := ej.Bans[k]; !now {
				wantLifted = append(wantLifted, k)
			}
		}
		slices.Sort(wantAdded)
		slices.Sort(wantLifted)
		if !ok || gotBase != base || !slices.Equal(slices.Sorted(slices.Values(gotAdded)), wantAdded) || !slices.Equal(slices.Sorted(slices.Values(gotLifted)), wantLifted) {
			t.Errorf("seed %d: BansChange %q %d added %d lifted, want %q %d %d", seed, gotBase, len(gotAdded), len(gotLifted), base, len(wantAdded), len(wantLifted))
		}
		if err := Save(path, lazy); err != nil {
			t.Fatal(err)
		}
		if _, again := loadBoth(t, path); again.Jails["postfix-sasl"].BansSum() != lj.BansSum() {
			t.Errorf("seed %d: BansSum of the merged bans differs from that of the file saved", seed)
		}
	}
}

// TestSpansAppended: spans appended to those left as text are saved after them, as the same
// bans recorded on the decoded spans are, and the rest of the file is the same.
func TestSpansAppended(t *testing.T) {
	for _, n := range []int{0, 1, 300} {
		s := botnet(10, 1, n)
		s.History.Jail("j") // a history with no span: "[]"
		s.History.Recorder("j", 1786838400).Lines(1)
		path, _ := saved(t, s)
		eager, lazy := loadBoth(t, path)
		for _, st := range []*State{eager, lazy} {
			for i, jail := range []string{"postfix-sasl", "j"} {
				rec := st.History.Recorder(jail, 1786838460)
				rec.Ban("203.0.113.5", 1786924860, false)
				rec.Ban(fmt.Sprintf("198.51.100.%d", i), -1, false)
			}
		}
		if jh := lazy.History.Jails["j"]; jh.lazySpans != "[]" || len(jh.tail) != 2 {
			t.Fatalf("the bans decoded an empty list of spans (%q, %d appended)", jh.lazySpans, len(jh.tail))
		}
		if jh := lazy.History.Jails["postfix-sasl"]; n > 0 && (jh.lazySpans == "" || len(jh.tail) != 2) {
			t.Fatalf("%d spans: the bans decoded the spans", n)
		}
		a, _ := Encode(eager)
		b, _ := Encode(lazy)
		if !bytes.Equal(a, b) {
			t.Fatalf("%d spans: appended to the text:\n%s\ndecoded:\n%s", n, b, a)
		}
		if _, err := Decode(b); err != nil {
			t.Fatalf("%d spans: %v", n, err)
		}
	}
}
