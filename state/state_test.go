package state

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sample() *State {
	s := New()
	j := s.Jail("postfix-sasl")
	j.Files["/var/log/mail.log"] = []FilePos{{Path: "/var/log/mail.log.1", Dev: 2049, Ino: 77, Offset: 81920, FPLen: 1024, FP: strings.Repeat("ab", 32)}}
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
	checkKept(t, got)
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

// TestSaveRemovesStaleTemp: a run killed between creating its temporary file and the rename
// leaves the file behind; the next Save removes it, and nothing but it.
func TestSaveRemovesStaleTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	stale := []string{".state.json.tmp123456", ".state.json.tmp9"}
	kept := []string{".state.json.tmp", ".state.json.tmpx1", ".state.json.tmp12.bak", ".other.json.tmp5", "state.json.tmp7", ".state.json.tmp77"}
	for _, n := range append(stale, kept[:len(kept)-1]...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(`{"version": 1, "jails": {}}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".state.json.tmp77"), 0o700); err != nil { // not a regular file
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, ".state.json.tmp"), filepath.Join(dir, ".state.json.tmp88")); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, ".state.json.tmp88")
	if err := Save(path, sample()); err != nil {
		t.Fatal(err)
	}
	for _, n := range stale {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s left", n)
		}
	}
	for _, n := range kept {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
}

// TestSaveFails: a Save that fails says that the state was not saved and leaves the previous
// one and no temporary file.
func TestSaveFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := Save(path, sample()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	// A directory where the temporary file would go: its name is taken by one the
	// rename cannot replace.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "x"), before, 0o600); err != nil {
		t.Fatal(err)
	}
	err := Save(path, New())
	if err == nil || !strings.Contains(err.Error(), "state "+path+" not saved (the previous one is kept): rename ") {
		t.Errorf("Save over a directory: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	err = Save(filepath.Join(path, "x", "state.json"), New())
	if err == nil || !strings.Contains(err.Error(), "not saved") {
		t.Errorf("Save under a file: %v", err)
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
		{"newer version", `{"version": 99, "jails": {}, "new_field": 1}`, "written by a newer fail2ban-scan (schema 99); this one reads up to 4"},
		{"newer version, compact", `{"version":5,"jails":{"a":{"failures":{"x":{}}}}}`, "written by a newer fail2ban-scan (schema 5); this one reads up to 4"},
		{"version 0", `{"version": 0, "jails": {}}`, "schema version 0"},
		{"v2: failures not ascending", `{"version":2,"jails":{"a":{"failures":"192.0.2.1=5,-2"}}}`, `failures: "192.0.2.1": timestamps not ascending`},
		{"v2: negative failure time", `{"version":2,"jails":{"a":{"failures":"192.0.2.1=-5,8"}}}`, `jails.a.failures."192.0.2.1": negative timestamp -5`},
		{"v2: failure key not an address", `{"version":2,"jails":{"a":{"failures":"x=3"}}}`, `jails.a.failures."x": not an address`},
		{"v3: failures not ascending", `{"version":3,"jails":{"a":{"failures":"~192.0.2.1=5,-2"}}}`, `failures: "192.0.2.1": timestamps not ascending`},
		{"v3: ban key not an address", `{"version":3,"jails":{"a":{"bans":"192.0.2.1=5,-1,0 x=5,-1,0"}}}`, `jails.a.bans."x": not an address`},
		{"v3: ban key not as netip writes it", `{"version":3,"jails":{"a":{"bans":"192.0.2.01=5,-1,0"}}}`, `jails.a.bans."192.0.2.01": not an address`},
		{"v3: ban history key a bad prefix", `{"version":3,"jails":{"a":{"ban_history":"192.0.2.1/24=1,5"}}}`, `jails.a.ban_history."192.0.2.1/24": prefix with bits set after its length`},
		{"v3: failure key not an address", `{"version":3,"jails":{"a":{"failures":"~x=5"}}}`, `jails.a.failures."x": not an address`},
		{"v3: not base 36", `{"version":3,"jails":{"a":{"failures":"~192.0.2.1=5,A"}}}`, `bad number "A"`},
		{"v2: failure time too far", `{"version":2,"jails":{"a":{"failures":"192.0.2.1=170000000000000000"}}}`, `jails.a.failures."192.0.2.1": timestamp 170000000000000000 out of range`},
		{"v3: negative failure time", `{"version":3,"jails":{"a":{"failures":"~192.0.2.1=-5,8"}}}`, `jails.a.failures."192.0.2.1": negative timestamp -5`},
		{"v2: failures not pairs", `{"version":2,"jails":{"a":{"failures":"192.0.2.1"}}}`, `failures: want key=value, got "192.0.2.1"`},
		{"v2: failure time not a number", `{"version":2,"jails":{"a":{"failures":"192.0.2.1=5,x"}}}`, `failures: "192.0.2.1": bad number "x"`},
		{"v2: ban fields", `{"version":2,"jails":{"a":{"bans":"192.0.2.1=5,6"}}}`, `bans: "192.0.2.1": want 3 comma-separated numbers`},
		{"v2: ban length", `{"version":2,"jails":{"a":{"bans":"192.0.2.1=5,-6,1"}}}`, `bans: "192.0.2.1": length -6`},
		{"v2: ban key not canonical", `{"version":2,"jails":{"a":{"bans":"2001:DB8::1=5,-1,1"}}}`, `jails.a.bans."2001:DB8::1": address not written as 2001:db8::1`},
		{"v2: empty ban record", `{"version":2,"jails":{"a":{"ban_history":"192.0.2.1=0,5"}}}`, `jails.a.ban_history."192.0.2.1": count must be >= 1, got 0`},
		{"v2: ban history not a string or object", `{"version":2,"jails":{"a":{"ban_history":[1]}}}`, `decode`},
		{"unknown field", `{"version": 1, "jails": {}, "extra": 1}`, "unknown field"},
		{"unsorted failures", `{"version": 1, "jails": {"a": {"failures": {"192.0.2.1": [5, 3]}}}}`, `jails.a.failures."192.0.2.1": timestamps not ascending`},
		{"negative failure time", `{"version": 1, "jails": {"a": {"failures": {"192.0.2.1": [-5, 3]}}}}`, `jails.a.failures."192.0.2.1": negative timestamp -5`},
		{"failure key not an address", `{"version": 1, "jails": {"a": {"failures": {"x": [3]}}}}`, `jails.a.failures."x": not an address`},
		{"ban key not an address", `{"version": 1, "jails": {"postfix-sasl": {"bans": {"x": {"start": 5, "end": -1}}}}}`, `jails.postfix-sasl.bans."x": not an address`},
		{"ban key empty", `{"version": 1, "jails": {"a": {"bans": {"": {"start": 5, "end": -1}}}}}`, `jails.a.bans."": not an address`},
		{"ban key mapped", `{"version": 1, "jails": {"a": {"bans": {"::ffff:192.0.2.1": {"start": 5, "end": -1}}}}}`, `jails.a.bans."::ffff:192.0.2.1": IPv4-mapped IPv6 address (want 192.0.2.1)`},
		{"ban key zoned", `{"version": 1, "jails": {"a": {"bans": {"fe80::1%eth0": {"start": 5, "end": -1}}}}}`, `jails.a.bans."fe80::1%eth0": address with an IPv6 zone`},
		{"ban key not canonical", `{"version": 1, "jails": {"a": {"bans": {"2001:DB8::1": {"start": 5, "end": -1}}}}}`, `jails.a.bans."2001:DB8::1": address not written as 2001:db8::1`},
		{"ban key prefix not masked", `{"version": 1, "jails": {"a": {"bans": {"203.0.113.7/24": {"start": 5, "end": -1}}}}}`, `jails.a.bans."203.0.113.7/24": prefix with bits set after its length (want 203.0.113.0/24)`},
		{"ban key mapped prefix", `{"version": 1, "jails": {"a": {"bans": {"::ffff:198.18.0.0/111": {"start": 5, "end": -1}}}}}`, `jails.a.bans."::ffff:198.18.0.0/111": IPv4-mapped IPv6 prefix`},
		{"ban key bad prefix", `{"version": 1, "jails": {"a": {"bans": {"203.0.113.0/33": {"start": 5, "end": -1}}}}}`, `jails.a.bans."203.0.113.0/33": not an address or prefix`},
		{"negative ban start", `{"version": 1, "jails": {"a": {"bans": {"192.0.2.1": {"start": -5, "end": -1}}}}}`, `jails.a.bans."192.0.2.1": negative start -5`},
		{"ban end below -1", `{"version": 1, "jails": {"a": {"bans": {"192.0.2.1": {"start": 5, "end": -7}}}}}`, `jails.a.bans."192.0.2.1": end -7`},
		{"negative total_failed", `{"version": 1, "jails": {"a": {"total_failed": -1}}}`, "jails.a.total_failed: negative (-1)"},
		{"negative total_banned", `{"version": 1, "jails": {"a": {"total_banned": -1}}}`, "jails.a.total_banned: negative (-1)"},
		{"negative unmatched", `{"version": 1, "jails": {"a": {"unmatched": -3}}}`, "jails.a.unmatched: negative (-3)"},
		{"negative total_unbanned", `{"version": 1, "jails": {"a": {"total_unbanned": -1}}}`, "jails.a.total_unbanned: negative (-1)"},
		{"negative total_lines", `{"version": 1, "jails": {"a": {"total_lines": -1}}}`, "jails.a.total_lines: negative (-1)"},
		{"negative total_read_errors", `{"version": 1, "jails": {"a": {"total_read_errors": -1}}}`, "jails.a.total_read_errors: negative (-1)"},
		{"negative last_success", `{"version": 1, "jails": {}, "last_success": -1}`, "last_success: negative (-1)"},
		{"negative offset", `{"version": 1, "jails": {"a": {"files": {"/l": [{"path": "/l", "offset": -1}]}}}}`, `jails.a.files."/l"[0]: negative offset -1`},
		{"bad fingerprint", `{"version": 1, "jails": {"a": {"files": {"/l": [{"path": "/l", "fp_len": 10, "fp": "zz"}]}}}}`, `jails.a.files."/l"[0]: fingerprint "zz" is not a hex SHA-256`},
		{"history: negative counter", `{"version": 1, "jails": {}, "history": {"jails": {"a": {"hours": {"3600": [1, -2, 0, 0, 0, 0]}}}}}`, "history.jails.a.hours.3600[1]: negative counter -2"},
		{"history: negative run counter", `{"version": 1, "jails": {}, "history": {"jails": {"a": {"runs": [[3600, 1, 0, -1, 0, 0, 0]]}}}}`, "history.jails.a.runs[0][3]: negative -1"},
		{"history: ban not an address", `{"version": 1, "jails": {}, "history": {"jails": {"a": {"bans": [{"ip": "x", "at": 5, "end": -1}]}}}}`, `history.jails.a.bans[0].ip "x": not an address`},
		{"ban ends before start", `{"version": 1, "jails": {"a": {"bans": {"192.0.2.1": {"start": 5, "end": 3}}}}}`, "end 3 before start 5"},
		{"negative ban count", `{"version": 1, "jails": {"a": {"bans": {"192.0.2.1": {"start": 5, "end": 9, "count": -1}}}}}`, `jails.a.bans."192.0.2.1": negative count -1`},
		{"empty ban record", `{"version": 1, "jails": {"a": {"ban_history": {"192.0.2.1": {"count": 0, "last": 5}}}}}`, `jails.a.ban_history."192.0.2.1": count must be >= 1, got 0`},
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

// TestLoadGoodKeys: the keys a jail may have: addresses, and prefixes (ban escalation to a
// network, IPv6 failures counted per /64).
func TestLoadGoodKeys(t *testing.T) {
	for _, key := range []string{"192.0.2.1", "2001:db8::1", "203.0.113.0/24", "2001:db8:1:2::/64", "::/0", "0.0.0.0/0"} {
		data := `{"version": 1, "jails": {"a": {"failures": {"` + key + `": [1, 2]}, "bans": {"` + key + `": {"start": 0, "end": -1}}}}}`
		if _, err := Decode([]byte(data)); err != nil {
			t.Errorf("%s: %v", key, err)
		}
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
	data, _ = Encode(withCrowdsec())
	f.Add(data)
	f.Add([]byte(`{"version":1,"jails":{}}`))
	f.Add([]byte(`{"version":2,"jails":{},"crowdsec":{"pending":[],"pushed":[],"hours":{},"fleet":{"sources":[],"bans":""}}}`))
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

// TestSaveUnchanged: a state that did not change since Load is not written again (the file
// keeps its inode and its bytes), even though the run's now moved the history's last; a change
// of a position, of the cursor or of a failure is written.
func TestSaveUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := New()
	s.Jail("j").Failures["192.0.2.7"] = []int64{100, 160}
	s.History.Last = 1000
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	ino := func() uint64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	changes := []struct {
		name   string
		change func(j *Jail)
	}{
		{"position", func(j *Jail) { j.Files["/var/log/mail.log"] = []FilePos{{Path: "/var/log/mail.log", Offset: 10}} }},
		{"offset", func(j *Jail) { j.Files["/var/log/mail.log"][0].Offset = 20 }},
		{"cursor", func(j *Jail) { j.Cursor = "s=1" }},
		{"failure", func(j *Jail) { j.Failures["192.0.2.7"] = append(j.Failures["192.0.2.7"], 170) }},
		{"ban", func(j *Jail) { j.Bans["192.0.2.8"] = Ban{Start: 5, End: -1, Count: 1} }},
		{"counter", func(j *Jail) { j.TotalLines++ }},
	}
	for i, c := range changes {
		s, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		s.History.Last += 60 // a run with nothing new
		before := ino()
		if err := Save(path, s); err != nil {
			t.Fatal(err)
		}
		if ino() != before {
			t.Fatalf("step %d: an unchanged state was written again", i)
		}
		c.change(s.Jail("j"))
		if err := Save(path, s); err != nil {
			t.Fatal(err)
		}
		if ino() == before {
			t.Fatalf("%s: a changed state was not written", c.name)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.History.Last != s.History.Last {
			t.Errorf("%s: last %d, want %d", c.name, got.History.Last, s.History.Last)
		}
	}
}
