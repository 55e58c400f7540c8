package state

import (
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// TestEncodeAsJSON: Encode writes the bytes json.Marshal writes for the state (and a newline).
func TestEncodeAsJSON(t *testing.T) {
	odd := sample()
	odd.Jails["a<b>&\"c\\"] = &Jail{Cursor: "s=\x01é<"}
	odd.Jails["lt<"] = &Jail{Cursor: "gt>", TotalLines: 3}
	odd.Jails["amp&"] = &Jail{Cursor: "del\x7f", QuietSince: 9, Unmatched: 2}
	odd.Jails["nil"] = nil
	odd.History.Jails["nil"] = nil
	oddRec := odd.History.Recorder("j", 5000)
	oddRec.Failure("192.0.2.1")
	oddRec.Flush()
	odd.History.Jails["j"].Hours[-3600] = nil
	odd.LastSuccess = 7
	// Big enough for the maps to be written ahead, in parallel (writeAhead), with the
	// history's counts of the day and the hour decoded and touched.
	big := botnet(2*aheadMin, 2, 0)
	rec := big.History.Recorder("postfix-sasl", 1786838400)
	bj := big.Jails["postfix-sasl"]
	for ip, ts := range bj.Failures {
		rec.Failure(ip)
		bj.Bans[ip] = Ban{Start: ts[0], End: ts[0] + 600, Count: 2}
		bj.BanHistory[ip] = BanRecord{Count: 2, Last: ts[0]}
	}
	rec.Flush()
	if pre := writeAhead(big, true); len(pre) < 5 {
		t.Fatalf("writeAhead wrote %d maps of the big state, want 5", len(pre))
	}
	for i, s := range append(fastSamples(), odd, &State{}, big) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want)+"\n" {
			t.Errorf("sample %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// FuzzEncode: for every state Decode reads, Encode writes what json.Marshal writes.
func FuzzEncode(f *testing.F) {
	for _, s := range fastSamples() {
		data, _ := Encode(s)
		f.Add(data)
	}
	f.Add([]byte(`{"version":1,"jails":{"j\u003c":{"cursor":"\u00e9"}},"history":{"jails":{"j":{"days":{"86400":"192.0.2.1=3"},"hours":{"3600":[1,2,3,4,5,6]}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			return
		}
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want)+"\n" {
			t.Fatalf("Encode differs from json.Marshal:\n got %s\nwant %s", got, want)
		}
	})
}

// TestDocStreamed: the document Save hashes and streams (glue and pieces: texts written ahead,
// kept from Load, a lazy jail's failures, ban spans streamed) is the bytes json.Marshal writes,
// its streamed sum is sumFile of those bytes, the file Save writes holds them, and a state
// loaded from it and saved unchanged is not written again; written one map at a time
// (SaveBeside), the document is the same.
func TestDocStreamed(t *testing.T) {
	s := botnet(2*aheadMin, 3, 2*aheadMin)
	d, err := encodeDoc(s, true)
	if err != nil {
		t.Fatal(err)
	}
	gens := 0
	for _, p := range d.pieces {
		if p.gen != nil {
			gens++
		}
	}
	if len(d.pieces) < 4 || gens != 1 {
		t.Fatalf("%d pieces, %d streamed, want failures, bans, ban history written ahead and the spans streamed", len(d.pieces), gens)
	}
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	data := d.bytes()
	if string(data) != string(want)+"\n" {
		t.Fatalf("the document differs from json.Marshal (%d and %d bytes)", len(data), len(want)+1)
	}
	if got, want := d.sum(), sumFile(data); got != want {
		t.Errorf("streamed sum %+v, want sumFile %+v", got, want)
	}
	// Written one map at a time (SaveBeside), the same document.
	if serial, err := encodeDoc(s, false); err != nil || string(serial.bytes()) != string(data) {
		t.Fatalf("the document written one map at a time differs (%v)", err)
	}

	path := filepath.Join(t.TempDir(), "state.json")
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	body := data[:len(data)-2] // the document without its closing "}\n", which the seal ends
	if want := string(body) + sealSuffix(crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))); string(file) != want {
		t.Fatalf("Save wrote %d bytes, not the document's %d and its seal: %q", len(file), len(want), file[max(0, len(file)-40):])
	}
	loaded, err := LoadLazy(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err = encodeDoc(loaded, true)
	if err != nil {
		t.Fatal(err)
	}
	texts := 0
	for _, p := range d.pieces {
		if p.text != "" {
			texts++
		}
	}
	if texts < 3 {
		t.Errorf("%d pieces kept as read, want the lazy failures, the bans and the ban history", texts)
	}
	if string(d.bytes()) != string(data) {
		t.Errorf("the loaded state's document differs from the file it was read from")
	}
	if got, want := d.sum(), sumFile(data); got != want {
		t.Errorf("the loaded state's streamed sum %+v, want %+v", got, want)
	}
	before, _ := os.Stat(path)
	if err := Save(path, loaded); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(path); !os.SameFile(before, after) {
		t.Errorf("a state saved unchanged was written again")
	}
}
