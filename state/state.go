// Package state holds the types every package shares (positions, failures, bans) and loads
// and saves them as one JSON file, atomically and under an exclusive lock.
package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Version is the schema version written to the state file. Load reads it and the versions
// before it (migrated in memory, written back as Version by the next Save), and refuses a
// newer one, leaving the file as it is.
//
//	1  failures, bans and ban_history as JSON objects
//	2  the same as compact strings (compact.go)
//	3  the failures' times in base 36 (compact.go)
//	4  the file ends with a seal, a checksum of itself (seal.go)
const Version = 4

// FilePos is where reading of one log file stopped. A file is known by device and inode and by
// a fingerprint of its first bytes (uncompressed), so it is recognised after it was renamed,
// copied or compressed.
type FilePos struct {
	Path   string `json:"path"`   // name under which the file was last read (informational)
	Dev    uint64 `json:"dev"`    // device of the file when last read
	Ino    uint64 `json:"ino"`    // inode of the file when last read
	Offset int64  `json:"offset"` // uncompressed bytes consumed: the end of the last complete line
	FPLen  int    `json:"fp_len"` // how many leading bytes the fingerprint covers
	FP     string `json:"fp"`     // hex SHA-256 of the first FPLen bytes
}

// Ban is an active ban. End is the unix second the ban is lifted at, or -1 for never.
type Ban struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	// Count is which ban of the IP this is (1 for the first), as the policy counted it when
	// it decided the ban's length; 0 for a ban made before bans were counted.
	Count int `json:"count,omitempty"`
}

// BanRecord is what a jail remembers of the past bans of one IP: how many, and the start of
// the last one. The policy counts it while Last is within the jail's forget_after.
type BanRecord struct {
	Count int   `json:"count"`
	Last  int64 `json:"last"`
}

// Permanent reports whether the ban never expires.
func (b Ban) Permanent() bool { return b.End < 0 }

// Covers reports whether t (unix seconds) falls inside the ban: Start <= t < End.
func (b Ban) Covers(t int64) bool { return t >= b.Start && (b.End < 0 || t < b.End) }

// Jail is the state of one jail.
type Jail struct {
	// Files maps each current log file (as configured, globs expanded) to the files of it that
	// are still tracked: the current one and rotated ones that may still get late writes.
	Files map[string][]FilePos `json:"files,omitempty"`
	// Cursor is the journal cursor of the last entry handled (journal backend).
	Cursor string `json:"cursor,omitempty"`
	// Failures maps an IP to the unix seconds of its counted failures, ascending.
	Failures Failures `json:"failures,omitempty"`
	// Bans maps an IP to its active ban.
	Bans Bans `json:"bans,omitempty"`
	// BanHistory maps an IP to its past bans in this jail (the ban count of repeat offenders;
	// not the history of report, which is History).
	BanHistory BanHistory `json:"ban_history,omitempty"`
	// TotalFailed counts failures counted since the state was created.
	TotalFailed int64 `json:"total_failed"`
	// TotalBanned counts bans ever applied.
	TotalBanned int64 `json:"total_banned"`
	// TotalUnbanned counts bans lifted (expired, unbanned, or a prefix ban lifted by ignoreip).
	TotalUnbanned int64 `json:"total_unbanned,omitempty"`
	// TotalLines counts the log lines and journal entries read.
	TotalLines int64 `json:"total_lines,omitempty"`
	// TotalReadErrors counts the runs in which reading the jail's logs failed.
	TotalReadErrors int64 `json:"total_read_errors,omitempty"`
	// QuietSince is the time of the first run that read lines of which none matched the
	// filter, since the last run that had a match (0: the last lines read had a match).
	QuietSince int64 `json:"quiet_since,omitempty"`
	// Unmatched counts the lines read since QuietSince.
	Unmatched int64 `json:"unmatched,omitempty"`

	// lazy holds Failures as their compact text while they are not decoded (LoadLazy), with
	// the earliest time in it and the number of keys; "" when Failures holds them.
	lazy       string
	lazyOldest int64
	lazyKeys   int
	// While lazy holds the failures, Failures holds those of the keys set since (SetFailures)
	// and gone the keys deleted (DeleteFailures): the text is read key by key (FailuresOf)
	// and written back merged with them (lazy.go).
	gone map[string]bool
	// lb holds Bans and BanHistory as their text while they are not decoded (LoadLazy of a
	// sealed file, see lazybans.go); nil when the maps hold them.
	lb *lazyBans
}

// NoteMatches records that a run at now read lines, of which matched matched the filter: a
// jail that reads lines but never matches one (a wrong journalmatch or filter) shows in status.
func (j *Jail) NoteMatches(lines, matched, now int64) {
	switch {
	case matched > 0:
		j.QuietSince, j.Unmatched = 0, 0
	case lines > 0:
		if j.QuietSince == 0 {
			j.QuietSince = now
		}
		j.Unmatched += lines
	}
}

// State is the whole state file.
type State struct {
	Version int              `json:"version"`
	Jails   map[string]*Jail `json:"jails"`
	// History is what every run did, for reports (history.go); saved with the rest, so a
	// report never disagrees with the counters.
	History *History `json:"history"`
	// LastSuccess is the start (unix seconds) of the last scan that succeeded, kept for the
	// metrics file (0: none known).
	LastSuccess int64 `json:"last_success,omitempty"`
	// Outbox holds the notification events not yet delivered, by target id (outbox.go).
	Outbox map[string][]Event `json:"outbox,omitempty"`
	// Crowdsec is the fleet's sharing of bans through a CrowdSec LAPI (crowdsec.go); nil: none.
	Crowdsec *Crowdsec `json:"crowdsec,omitempty"`

	// onDisk stands for the file as Load read it or Save wrote it (n 0: not known), so that
	// Save does not rewrite a state that did not change.
	onDisk fileSum
	// kept holds the texts Load read the jails' per-address maps from, by the map's address
	// (&jail.Bans): Encode writes a map that did not change as its text (unchanged.go).
	kept map[any]keptText
	// checked holds, by address, the per-address maps whose keys were checked as they were
	// decoded (Jail.check need not walk them again); Load clears it.
	checked map[any]bool
}

// New returns an empty state.
func New() *State { return &State{Version: Version, Jails: map[string]*Jail{}, History: NewHistory()} }

// Jail returns the state of the named jail, creating it when absent.
func (s *State) Jail(name string) *Jail {
	j := s.Jails[name]
	if j == nil {
		j = &Jail{}
		s.Jails[name] = j
	}
	j.init()
	return j
}

// init makes the maps of j non-nil.
func (j *Jail) init() {
	if j.Files == nil {
		j.Files = map[string][]FilePos{}
	}
	if j.Failures == nil {
		j.Failures = Failures{}
	}
	if j.Bans == nil {
		j.Bans = Bans{}
	}
	if j.BanHistory == nil {
		j.BanHistory = BanHistory{}
	}
}

// Load reads the state file at path. A missing file is an empty state; a file that cannot be
// read or decoded is an error naming the path (the file is left as it is).
func Load(path string) (*State, error) { return load(path, false) }

// LoadLazy is Load for scan. Of a sealed file (seal.go), each jail's failures stay the text they
// were read from until FailureTimes is called, its bans and ban history until DecodeBans is,
// and the history's ban spans until they change (lazybans.go); what is not asked for is
// written back as it was read. A minute run with nothing new over 100,000 failing and banned
// addresses need not build maps of a million times and 100,000 bans to write the same text
// back. A file that is not sealed is loaded as Load loads it.
func LoadLazy(path string) (*State, error) { return load(path, true) }

func load(path string, lazy bool) (*State, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	data, sealed := unseal(data)
	s, err := decode(data, lazy && sealed)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	if sealed {
		s.onDisk = sumFile(data) // else written again, sealed, even if nothing changed
	}
	return s, nil
}

// Decode parses the JSON of a state file and checks it.
func Decode(data []byte) (*State, error) {
	data, _ = unseal(bytes.Clone(data))
	s, err := decode(data, false)
	if s != nil {
		s.kept = nil // a State as the caller would make it: Encode sorts and formats every map
	}
	return s, err
}

// decode is Decode, keeping the texts of the maps for Encode (see State.kept), and with lazy
// the failures undecoded (see LoadLazy).
func decode(data []byte, lazy bool) (*State, error) {
	v, err := peekVersion(data)
	if err != nil {
		return nil, err
	}
	if v > Version {
		return nil, fmt.Errorf("written by a newer fail2ban-scan (schema %d); this one reads up to %d", v, Version)
	}
	if v < 1 {
		return nil, fmt.Errorf("schema version %d, this program reads versions 1 to %d", v, Version)
	}
	s, ok := decodeFast(data, lazy)
	if !ok {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		s = &State{}
		if err := dec.Decode(s); err != nil {
			return nil, fmt.Errorf("decode: %w", err)
		}
		if dec.More() {
			return nil, errors.New("decode: trailing data after the JSON object")
		}
	}
	s.Version = Version // migrated: the next Save writes the current schema
	if s.Jails == nil {
		s.Jails = map[string]*Jail{}
	}
	if s.History == nil {
		s.History = NewHistory() // a state written before the history existed
	} else if err := s.History.check(); err != nil {
		return nil, err
	}
	if s.LastSuccess < 0 {
		return nil, fmt.Errorf("last_success: negative (%d)", s.LastSuccess)
	}
	if err := checkOutbox(s.Outbox); err != nil {
		return nil, err
	}
	if err := checkCrowdsec(s.Crowdsec); err != nil {
		return nil, err
	}
	for name, j := range s.Jails {
		if j == nil {
			return nil, fmt.Errorf("jails.%s: null", name)
		}
		if err := j.check(name, s.checked); err != nil {
			return nil, err
		}
	}
	s.checked = nil
	return s, nil
}

// peekVersion returns the schema version of a state file before it is decoded, so that a file
// of a newer schema is refused for what it is, not for a field this program does not know.
// Encode writes the version first; other files are parsed for it.
func peekVersion(data []byte) (int, error) {
	const prefix = `{"version":`
	if rest, ok := bytes.CutPrefix(data, []byte(prefix)); ok {
		if i := bytes.IndexByte(rest, ','); i > 0 && i < 10 {
			if v, err := strconv.Atoi(string(rest[:i])); err == nil {
				return v, nil
			}
		}
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&head); err != nil { // trailing data: Decode says
		return 0, fmt.Errorf("decode: %w", err)
	}
	return head.Version, nil
}

// Encode returns the JSON of s, compact (the file is written every minute), with a final newline.
func Encode(s *State) ([]byte, error) {
	d, err := encodeDoc(s, true)
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return d.bytes(), nil
}

// Save writes s to path atomically: a temporary file in the same directory, fsync, rename over
// path, fsync of the directory. The file has mode 0600. Either the old or the new state is on
// disk after a crash, never a mix. The caller holds the lock (Lock): Save first removes the
// temporary files that runs killed before their rename left (see removeStale). When Save fails
// before the rename, the previous state file is untouched and no temporary file is left; the
// error says "not saved".
//
// A state that did not change since Load read it (or Save wrote it) is not written again: a
// minute run with nothing new costs no write and no fsync. The history's last (the now of the
// latest run) does not count as a change by itself: with nothing else changed, no ban ended and
// nothing was recorded between the two runs, so a report reads the same from either.
func Save(path string, s *State) error {
	return save(path, s, true)
}

// SaveBeside is Save for a save that runs beside other heavy work, as scan saves while the
// firewall loads 100,000 bans: the maps that changed are written one at a time rather than
// each in a goroutine of its own, which would only add their memory (a sorted copy of 100,000
// keys each, 3 MB) while the cores are busy anyway.
func SaveBeside(path string, s *State) error {
	return save(path, s, false)
}

func save(path string, s *State, parallel bool) error {
	d, err := encodeDoc(s, parallel)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	sum := d.sum() // the document is streamed, never one buffer (see doc)
	if sameButLast(sum, s.onDisk) {
		return nil
	}
	notSaved := func(err error) error {
		return fmt.Errorf("state %s not saved (the previous one is kept): %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return notSaved(err)
	}
	removeStale(path)
	f, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return notSaved(err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return notSaved(err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	d.writeSealed(w)
	if err := w.Flush(); err != nil { // the first write error, kept by w
		f.Close()
		return notSaved(err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return notSaved(fmt.Errorf("fsync %s: %w", tmp, err))
	}
	if err := f.Close(); err != nil {
		return notSaved(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return notSaved(err)
	}
	s.onDisk = sum
	dirf, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state %s saved, but not made durable: fsync directory: %w", path, err)
	}
	defer dirf.Close()
	if err := dirf.Sync(); err != nil {
		return fmt.Errorf("state %s saved, but not made durable: fsync directory %s: %w", path, dir, err)
	}
	return nil
}

// sameButLast reports whether two encoded states (as sumFile sums them) are the same but for
// the value of the history's "last". Encode writes the history's start and last first in it,
// and no other place of the JSON holds `"history":{"start":` (quotes inside strings are
// escaped).
func sameButLast(a, b fileSum) bool {
	return b.n > 0 && a.split == b.split && a.head == b.head && a.tail == b.tail
}

// lastValue returns where the digits of the history's last are in data ({-1, -1}: not found).
func lastValue(data []byte) [2]int {
	const key = `"history":{"start":`
	// Looked for from its 'h': the search skips ahead by the first byte, and in a state
	// a '"' is every few bytes, an 'h' rare (10 ms -> 1 ms in a 7 MB state).
	i := bytes.Index(data, []byte(key[1:])) - 1
	if i < 0 || data[i] != '"' {
		return [2]int{-1, -1}
	}
	j := bytes.Index(data[i:], []byte(`,"last":`))
	if j < 0 || j > len(key)+21 {
		return [2]int{-1, -1}
	}
	start := i + j + len(`,"last":`)
	end := start
	for end < len(data) && (data[end] == '-' || data[end] >= '0' && data[end] <= '9') {
		end++
	}
	return [2]int{start, end}
}

// tempPrefix is the name, without its random digits, of Save's temporary files of the state
// at path: ".state.json.tmp" for state.json.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp" }

// removeStale removes the temporary files of Save (tempPrefix followed by the digits that
// os.CreateTemp puts for its "*") that a run killed between their creation and the rename left
// in the state's directory. Only regular files of that name are removed. The caller holds the
// lock, so no other run is writing one. Failures are ignored: Save reports its own.
func removeStale(path string) {
	dir, prefix := filepath.Dir(path), tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range entries {
		rest, ok := strings.CutPrefix(de.Name(), prefix)
		if !ok || !allDigits(rest) || !de.Type().IsRegular() {
			continue
		}
		os.Remove(filepath.Join(dir, de.Name()))
	}
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
