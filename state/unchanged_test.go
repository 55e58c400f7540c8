package state

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestUnchangedMapsWrittenAsRead: a map that did not change since Load is written as the text
// it was read from (here, unsorted as a hand edit left it: the proof that it was not written
// again), and one that changed, by a key or by a value only, is written anew, sorted.
func TestUnchangedMapsWrittenAsRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	doc := `{"version":3,"jails":{"j":{"failures":"~192.0.2.9=5 192.0.2.1=7","bans":"192.0.2.9=10,600,1 192.0.2.1=10,-1,2",` +
		`"ban_history":"192.0.2.9=1,10 192.0.2.1=2,10","total_failed":2,"total_banned":2}}}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"failures":"~192.0.2.9=5 192.0.2.1=7"`, `"bans":"192.0.2.9=10,600,1 192.0.2.1=10,-1,2"`, `"ban_history":"192.0.2.9=1,10 192.0.2.1=2,10"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("unchanged, Encode should write %s as read:\n%s", want, data)
		}
	}

	j := s.Jails["j"]
	b := j.Bans["192.0.2.9"]
	b.End += 60 // a value only
	j.Bans["192.0.2.9"] = b
	j.Failures["192.0.2.5"] = []int64{8} // a key
	data, err = Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"failures":"~192.0.2.1=7 192.0.2.5=8 192.0.2.9=5"`, `"bans":"192.0.2.1=10,-1,2 192.0.2.9=10,660,1"`, `"ban_history":"192.0.2.9=1,10 192.0.2.1=2,10"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("after the change, Encode should write %s:\n%s", want, data)
		}
	}
	s.kept = nil
	want, _ := json.Marshal(s)
	got, _ := Encode(s)
	if string(got) != string(want)+"\n" {
		t.Errorf("without kept texts, Encode differs from json.Marshal:\n got %s\nwant %s", got, want)
	}
}

// TestFailuresSchema2: failures in decimal (schema 2) are read, by Load and LoadLazy, and
// written back in base 36, though nothing changed.
func TestFailuresSchema2(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	doc := `{"version":2,"jails":{"j":{"failures":"192.0.2.1=1786838400,3600,36","total_failed":3,"total_banned":0}}}`
	for _, load := range []func(string) (*State, error){Load, LoadLazy} {
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Jails["j"].FailureTimes()["192.0.2.1"]; !slices.Equal(got, []int64{1786838400, 1786842000, 1786842036}) {
			t.Errorf("schema 2 failures read as %v", got)
		}
		data, err := Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		if want := `"failures":"~192.0.2.1=tju5c0,2s0,10"`; !strings.Contains(string(data), want) || !strings.HasPrefix(string(data), `{"version":4,`) {
			t.Errorf("written back as\n%s\nwant schema 4 and %s", data, want)
		}
	}
}
