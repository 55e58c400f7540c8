package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// slowDecode decodes data with encoding/json alone, as Decode did before decodeFast.
func slowDecode(data []byte) (*State, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s State
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// fastSamples are states whose encoding decodeFast must read itself (not fall back).
func fastSamples() []*State {
	withHistory := sample()
	r := withHistory.History.Recorder("postfix-sasl", 1000)
	r.Failure("192.0.2.7")
	r.Flush()
	r.Ban("192.0.2.7", 1600, false)
	r.Ban("2001:db8::/64", -1, true)
	r.Lines(12)
	withHistory.Outbox = map[string][]Event{"mail": {{Kind: EventBan, Jail: "postfix-sasl", IP: "192.0.2.7", Time: 1000, Start: 1000, End: 1600, BanTime: 600}}}
	return []*State{New(), sample(), withHistory, botnet(50, 3, 20), withCrowdsec()}
}

// TestDecodeFast: what Encode writes is read by decodeFast, to the state encoding/json reads
// from it; other forms are left to encoding/json.
func TestDecodeFast(t *testing.T) {
	for i, s := range fastSamples() {
		data, err := Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		fast, ok := decodeFast(data, false)
		if !ok {
			t.Fatalf("sample %d: decodeFast refused what Encode wrote:\n%s", i, data)
		}
		slow, err := slowDecode(data)
		if err != nil {
			t.Fatal(err)
		}
		checkKept(t, fast)
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("sample %d: decodeFast\n%+v\nencoding/json\n%+v", i, fast, slow)
		}
	}
	for _, doc := range []string{
		`{"version": 2, "jails": {}}`,                                          // whitespace
		`{"version":2,"jails":{"j":{"failures":"192.0.2.7=1,x"}}}`,             // bad number
		`{"version":2,"jails":{"j":{"failures":"192.0.2.7=1","Failures":""}}}`, // same field, other case
		`{"version":2,"jails":{"j":{"failures":"192.0.2.7=1","failures":""}}}`, // twice
		`{"version":2,"jails":{},"history":{"jails":{"j":{"runs":[[1,2]]}}}}`,  // short run
		`{"version":2,"jails":{},"history":{"jails":{"j":{"bans":[{"at":1,"ip":"192.0.2.7","end":2}]}}}}`,
		`{"version":2,"jails":{}} x`,
	} {
		if _, ok := decodeFast([]byte(doc), false); ok {
			t.Errorf("decodeFast read %s", doc)
		}
	}
}

// checkKept fails t unless each text s kept is that of its map as decoded (the same sum),
// then forgets them, as the slow decoder keeps none.
func checkKept(t *testing.T, s *State) {
	t.Helper()
	for name, j := range s.Jails {
		for _, m := range []struct {
			key any
			sum func() uint64
		}{{&j.Failures, j.Failures.sum}, {&j.Bans, j.Bans.sum}, {&j.BanHistory, j.BanHistory.sum}} {
			if k, ok := s.kept[m.key]; ok && k.sum != m.sum() {
				t.Errorf("jail %s: the text kept %q is not that of its map", name, k.text)
			}
		}
	}
	s.kept, s.checked = nil, nil
}

// FuzzDecodeFast: wherever decodeFast reads a document, encoding/json reads it to the same
// state.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSamples() {
		data, _ := Encode(s)
		f.Add(data)
	}
	f.Add([]byte(`{"version":2,"jails":{"j":{"failures":"192.0.2.7=1,2","cursor":"x"}},"history":{"jails":{"j":{"runs":[[1,2,3,4,5,6,7]],"bans":[]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeFast(data, false)
		if !ok {
			return
		}
		slow, err := slowDecode(data)
		if err != nil {
			t.Fatalf("decodeFast read a document encoding/json refuses (%v):\n%s", err, data)
		}
		checkKept(t, fast)
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decodeFast and encoding/json differ on\n%s\nfast %+v\nslow %+v", data, fast, slow)
		}
	})
}

// TestPlainWord: plainWord says yes to 8 bytes only when str may pass over all of them (no
// quote, backslash, control byte, DEL or byte outside ASCII): every byte value at every place
// among plain bytes, and random words; and it says yes to plain text, as most of a state is.
func TestPlainWord(t *testing.T) {
	plain := func(c byte) bool { return jsonByte[c] == plainByte || jsonByte[c] == htmlByte }
	check := func(b [8]byte) {
		all := true
		for _, c := range b {
			all = all && plain(c)
		}
		if plainWord(binary.LittleEndian.Uint64(b[:])) && !all {
			t.Fatalf("plainWord(%q) = true", b)
		}
	}
	for c := range 256 {
		for k := range 8 {
			b := [8]byte([]byte("10.0.0.1"))
			b[k] = byte(c)
			check(b)
			for i := range b { // and among the plain bytes nearest the edges of the classes
				if i != k {
					b[i] = []byte{0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7e}[(i+c)%6]
				}
			}
			check(b)
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 1_000_000 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], rng.Uint64()&0x7f7f7f7f7f7f7f7f) // mostly ASCII
		check(b)
	}
	for _, s := range []string{"10.0.0.1", "=tju5am ", "2001:db8", "~198.51."} {
		if !plainWord(binary.LittleEndian.Uint64([]byte(s))) {
			t.Errorf("plainWord(%q) = false", s)
		}
	}
}
