package state

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestLoadLazy: LoadLazy leaves the failures as text, checked as Load checks them; Save writes
// them back as read while nobody asked for them (the file is not rewritten), FailureTimes
// gives the map Load gives, and a change through it is saved.
func TestLoadLazy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	s := botnet(3000, 5, 10)
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	eager, lazy := loadBoth(t, path)
	j := lazy.Jails["postfix-sasl"]
	if !j.Lazy() || len(j.Failures) != 0 {
		t.Fatalf("LoadLazy decoded the failures (%d keys)", len(j.Failures))
	}
	var want int64 = -1
	for _, ts := range eager.Jails["postfix-sasl"].Failures {
		if want < 0 || ts[0] < want {
			want = ts[0]
		}
	}
	if got, ok := j.OldestFailure(); !ok || got != want || !j.Lazy() {
		t.Errorf("OldestFailure = %d, %v (lazy still: %v); want %d without decoding", got, ok, j.Lazy(), want)
	}
	fi, _ := os.Stat(path)
	os.Chtimes(path, fi.ModTime().Add(-3600e9), fi.ModTime().Add(-3600e9))
	fi, _ = os.Stat(path)
	if err := Save(path, lazy); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(path); !after.ModTime().Equal(fi.ModTime()) {
		t.Error("a lazy state with no change was written again")
	}
	if got := j.FailureTimes(); !reflect.DeepEqual(got, eager.Jails["postfix-sasl"].Failures) || j.Lazy() {
		t.Fatalf("FailureTimes differs from what Load decodes (%d keys, want %d)", len(got), len(eager.Jails["postfix-sasl"].Failures))
	}
	j.FailureTimes()["192.0.2.200"] = []int64{1786838000}
	if err := Save(path, lazy); err != nil {
		t.Fatal(err)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Jails["postfix-sasl"].Failures; len(got) != 3001 || got["192.0.2.200"][0] != 1786838000 {
		t.Errorf("after a change through FailureTimes: %d keys, 192.0.2.200 %v", len(got), got["192.0.2.200"])
	}

	// A bad failures string is refused by LoadLazy with Load's message.
	bad := `{"version":3,"jails":{"j":{"failures":"~192.0.2.7=5,-1"}}}`
	os.WriteFile(path, []byte(bad), 0o600)
	_, errEager := Load(path)
	_, errLazy := LoadLazy(path)
	if errEager == nil || errLazy == nil || errEager.Error() != errLazy.Error() || !strings.Contains(errLazy.Error(), "ascending") {
		t.Errorf("bad failures: Load says %v, LoadLazy says %v", errEager, errLazy)
	}
}

// FuzzLazyFailures: for failures as Save writes them (any text the eager decoder and check
// accept, written again), the lazy reading (which checks nothing: the file is sealed) finds
// the earliest time and the number of keys the decoded map has.
func FuzzLazyFailures(f *testing.F) {
	f.Add("~192.0.2.7=5,0,3 2001:db8::1=7")
	f.Add("~192.0.2.7=tju5c0,2s0,zzzzzzzz")
	f.Add("192.0.2.7=5,-1")
	f.Add("") // no key: no oldest either
	f.Add("192.0.2.7=999999999999,999999999999,999999999999")
	f.Fuzz(func(t *testing.T, s string) {
		var m Failures
		if m.fromText(s) != nil || (&Jail{Failures: m}).check("j", nil) != nil || len(m) == 0 {
			return
		}
		text := string(m.appendText(nil))
		j := &Jail{}
		if _, err := (lazyFailures{j}).decodeText(text, false); err != nil {
			t.Fatalf("%q: lazy refuses what Save writes: %v", text, err)
		}
		oldest, ok := (&Jail{Failures: m}).OldestFailure()
		if !ok || oldest != j.lazyOldest || len(m) != j.lazyKeys {
			t.Fatalf("%q: lazy oldest %d, %d keys; eager %d (%v), %d keys", text, j.lazyOldest, j.lazyKeys, oldest, ok, len(m))
		}
	})
}

// TestEachFailure: EachFailure gives, from the text LoadLazy left, the keys and times the
// decoded map holds, and leaves the text undecoded.
func TestEachFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := Save(path, botnet(500, 4, 0)); err != nil {
		t.Fatal(err)
	}
	eager, lazy := loadBoth(t, path)
	for _, s := range []*State{eager, lazy} {
		got := Failures{}
		s.Jails["postfix-sasl"].EachFailure(func(k string, ts []int64) { got[k] = slices.Clone(ts) })
		if !reflect.DeepEqual(got, eager.Jails["postfix-sasl"].Failures) {
			t.Errorf("EachFailure gave %d keys, differing from the %d decoded", len(got), len(eager.Jails["postfix-sasl"].Failures))
		}
	}
	if !lazy.Jails["postfix-sasl"].Lazy() {
		t.Error("EachFailure decoded the failures")
	}
}

// TestFailuresByKey: on failures LoadLazy left as text, FailuresOf, SetFailures and
// DeleteFailures (random keys, present or not, set and deleted again) read and change what
// the same calls on the decoded map do, leave the text undecoded, and Save writes the text
// merged with them as Encode writes the map; EachFailure, OldestFailure and FailureTimes agree.
func TestFailuresByKey(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		path := filepath.Join(t.TempDir(), "state.json")
		if err := Save(path, botnet(300+int(seed)*10, 3, 0)); err != nil {
			t.Fatal(err)
		}
		eager, lazy := loadBoth(t, path)
		ej, lj := eager.Jails["postfix-sasl"], lazy.Jails["postfix-sasl"]
		key := func() string {
			if rng.IntN(4) == 0 {
				return netip.AddrFrom4([4]byte{192, 0, 2, byte(rng.IntN(256))}).String() // new
			}
			return netip.AddrFrom4([4]byte{11, 0, byte(rng.IntN(2)), byte(rng.IntN(256))}).String()
		}
		for range 200 {
			k := key()
			if got, want := lj.FailuresOf(k), ej.Failures[k]; !slices.Equal(got, want) {
				t.Fatalf("seed %d: FailuresOf(%s) = %v, want %v", seed, k, got, want)
			}
			switch rng.IntN(3) {
			case 0:
				ts := append(slices.Clone(ej.Failures[k]), 1786838400+rng.Int64N(1000))
				slices.Sort(ts)
				lj.SetFailures(k, slices.Clone(ts))
				ej.Failures[k] = ts
			case 1:
				lj.DeleteFailures(k)
				delete(ej.Failures, k)
			}
		}
		if !lj.Lazy() {
			t.Fatalf("seed %d: the calls decoded the failures", seed)
		}
		got := Failures{}
		lj.EachFailure(func(k string, ts []int64) { got[k] = slices.Clone(ts) })
		if !reflect.DeepEqual(got, ej.Failures) {
			t.Errorf("seed %d: EachFailure gives %d keys, the map %d", seed, len(got), len(ej.Failures))
		}
		o, ok := lj.OldestFailure()
		if want, _ := ej.OldestFailure(); !ok || o > want {
			t.Errorf("seed %d: OldestFailure %d, later than %d", seed, o, want)
		}
		a, _ := Encode(eager)
		b, _ := Encode(lazy)
		if !bytes.Equal(a, b) {
			t.Fatalf("seed %d: the merged text differs from the map's:\n%s\n%s", seed, b, a)
		}
		if !reflect.DeepEqual(lj.FailureTimes(), ej.Failures) {
			t.Errorf("seed %d: FailureTimes differs from the map", seed)
		}
	}
}
