package state

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sample() *State {
	s := New()
	j := s.Jail("postfix-sasl")
	j.Files["/var/log/mail.log"] = []FilePos{{Path: "/var/log/mail.log.1", Dev: 2049, Ino: 77, Offset: 81920, FPLen: 1024, FP: "ab"}}
	j.Failures["192.0.2.7"] = []int64{100, 200}
	j.Bans["198.51.100.7"] = Ban{Start: 10, End: -1}
	j.Bans["2001:db8::1"] = Ban{Start: 10, End: 610, Count: 3}
	j.BanHistory["2001:db8::1"] = BanRecord{Count: 3, Last: 10}
	j.TotalFailed, j.TotalBanned = 439, 2
	s.Jail("journal").Cursor = "s=abc;i=1"
	return s
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	want := sample()
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestLoadMissingIsEmpty(t *testing.T) {
	s, err := Load(filepath.Join(t.TempDir(), "none.json"))
	if err != nil || len(s.Jails) != 0 || s.Version != Version {
		t.Fatalf("got %+v, %v", s, err)
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		name, content, wantErr string
	}{
		{"garbage", "\x00\x01binary", "decode"},
		{"truncated", `{"version": 1, "jails": {`, "decode"},
		{"wrong version", `{"version": 99, "jails": {}}`, "schema version 99"},
		{"unknown field", `{"version": 1, "jails": {}, "extra": 1}`, "unknown field"},
		{"unsorted failures", `{"version": 1, "jails": {"a": {"failures": {"192.0.2.1": [5, 3]}}}}`, "jails.a.failures.192.0.2.1: timestamps not ascending"},
		{"ban ends before start", `{"version": 1, "jails": {"a": {"bans": {"192.0.2.1": {"start": 5, "end": 3}}}}}`, "end 3 before start 5"},
		{"negative ban count", `{"version": 1, "jails": {"a": {"bans": {"192.0.2.1": {"start": 5, "end": 9, "count": -1}}}}}`, "jails.a.bans.192.0.2.1: negative count -1"},
		{"empty ban record", `{"version": 1, "jails": {"a": {"ban_history": {"192.0.2.1": {"count": 0, "last": 5}}}}}`, "jails.a.ban_history.192.0.2.1: count must be >= 1, got 0"},
		{"trailing", `{"version": 1, "jails": {}} {}`, "trailing data"},
		{"null jail", `{"version": 1, "jails": {"a": null}}`, "jails.a: null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want it to name %s and contain %q", err, path, tt.wantErr)
			}
			after, _ := os.ReadFile(path)
			if string(after) != tt.content {
				t.Errorf("Load changed the bad file")
			}
		})
	}
}

// TestDecodeBeforeBanCounts: a state written before bans were counted loads, its bans with
// count 0 and an empty ban history.
func TestDecodeBeforeBanCounts(t *testing.T) {
	s, err := Decode([]byte(`{"version": 1, "jails": {"a": {"bans": {"192.0.2.1": {"start": 5, "end": -1}}, "total_failed": 3, "total_banned": 1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	j := s.Jails["a"]
	if b := j.Bans["192.0.2.1"]; b != (Ban{Start: 5, End: -1}) || j.BanHistory == nil || len(j.BanHistory) != 0 {
		t.Fatalf("got ban %+v, history %v", b, j.BanHistory)
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	unlock, err := Lock(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description: a second open in the same process
	// conflicts like another process would.
	if _, err := Lock(path, 200*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	unlock()
	unlock2, err := Lock(path, 0)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func FuzzDecode(f *testing.F) {
	data, _ := Encode(sample())
	f.Add(data)
	f.Add([]byte(`{"version":1,"jails":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-decode of encoded state: %v", err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("Encode/Decode not stable")
		}
	})
}
