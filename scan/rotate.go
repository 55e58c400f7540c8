package scan

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rotKind says how a candidate file relates to the configured path P.
type rotKind int

const (
	rotDate    rotKind = iota // P-YYYYMMDD[...][.gz]: oldest group, by date ascending
	rotNumeric                // P.N[.gz]: by N descending
	rotCurrent                // P itself: newest
)

// compressExts are extensions of compressed files. Expand never returns such a file as a
// current log; of them only gzip (".gz") is read, and it is recognised by its magic bytes.
var compressExts = []string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".Z"}

// candidate is one file that may hold lines of the log at P: P or a rotated sibling. Its
// device, inode and size come from os.Stat when listed and are refreshed by load from the
// opened file.
type candidate struct {
	name  string
	kind  rotKind
	num   uint64 // rotNumeric: N
	date  string // rotDate: the digits of the date suffix
	gzExt bool   // the name ends in .gz (ordering only; gzip is detected by magic bytes)

	dev, ino uint64
	size     int64     // on disk (compressed for gzip)
	mtime    time.Time // modification time (see orderSchemes)

	f      *os.File
	head   []byte // the first min(fpMax, size) uncompressed bytes
	gz     bool   // starts with the gzip magic bytes
	loaded bool
	gone   bool  // vanished after it was listed
	err    error // opening or reading its head failed
}

// listCandidates returns P (if it exists) and its rotated siblings in its directory, oldest
// first: date suffixes ascending, then numeric suffixes descending, then P. Of the same
// suffix the .gz name comes first (it is the copy being made of the plain one, or left
// over from it). When both date and numeric suffixes exist (the scheme was changed) the
// date-suffixed files come first here; ReadLog then puts the group that is newer by what
// the state knows last (see orderSchemes).
func listCandidates(path string) ([]*candidate, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list rotated files of %s: %w", path, err)
	}
	var cs []*candidate
	for _, de := range entries {
		name := de.Name()
		if len(name) <= len(base) || !strings.HasPrefix(name, base) {
			continue
		}
		c, ok := parseSuffix(name[len(base):])
		if !ok {
			continue
		}
		c.name = filepath.Join(dir, name)
		fi, err := os.Stat(c.name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list rotated files of %s: %w", path, err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		c.dev, c.ino = fileID(fi)
		c.size, c.mtime = fi.Size(), fi.ModTime()
		cs = append(cs, c)
	}
	slices.SortFunc(cs, compareCandidates)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read log: %w", err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("read log %s: not a regular file", path)
	default:
		c := &candidate{name: path, kind: rotCurrent, size: fi.Size(), mtime: fi.ModTime()}
		c.dev, c.ino = fileID(fi)
		cs = append(cs, c)
	}
	return cs, nil
}

// orderSchemes handles a change of rotation scheme: when both date-suffixed and numbered
// files are listed (cands in listCandidates' order, owner as match returns it), the files of
// the old scheme are all older than those of the new one, whatever their names. The order
// within each group (by name) is kept; the group found newer is put last before P, moving
// the date-suffixed group after the numbered one when it is the newer. Newer is, in this
// order: the group of the file whose stored position is the most recent, when both groups
// hold a known file (positions are stored oldest first); else the group with the latest
// modification time; else (the same time) the group holding a known file. It reports
// whether it moved anything (the caller then matches again: ties between candidates go to
// the newest).
func orderSchemes(cands []*candidate, owner []int) bool {
	nDate, nNum := 0, 0
	known := [2]int{-1, -1} // by kind (rotDate, rotNumeric): the latest position matched
	var latest [2]time.Time
	for ci, c := range cands {
		if c.kind == rotCurrent {
			continue
		}
		if c.kind == rotDate {
			nDate++
		} else {
			nNum++
		}
		known[c.kind] = max(known[c.kind], owner[ci])
		if c.mtime.After(latest[c.kind]) {
			latest[c.kind] = c.mtime
		}
	}
	if nDate == 0 || nNum == 0 {
		return false
	}
	var datedNewer bool
	switch {
	case known[rotDate] >= 0 && known[rotNumeric] >= 0:
		datedNewer = known[rotDate] > known[rotNumeric]
	case !latest[rotDate].Equal(latest[rotNumeric]):
		datedNewer = latest[rotDate].After(latest[rotNumeric])
	default:
		datedNewer = known[rotDate] >= 0
	}
	if !datedNewer {
		return false
	}
	// cands is [dated..., numbered..., P?]: rotate the first nDate+nNum.
	dated := slices.Clone(cands[:nDate])
	copy(cands, cands[nDate:nDate+nNum])
	copy(cands[nNum:], dated)
	return true
}

// compareCandidates orders candidates oldest first.
func compareCandidates(a, b *candidate) int {
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	switch a.kind {
	case rotDate:
		if c := cmp.Compare(a.date, b.date); c != 0 {
			return c
		}
	case rotNumeric:
		if c := cmp.Compare(b.num, a.num); c != 0 {
			return c
		}
	}
	if a.gzExt != b.gzExt {
		if a.gzExt {
			return -1
		}
		return 1
	}
	return strings.Compare(a.name, b.name)
}

// parseSuffix recognises what follows P in a rotated sibling's name: ".N" or "-DATE", either
// optionally followed by ".gz". DATE starts with a digit, holds digits, '-' and '_', and at
// least 8 digits (logrotate's dateext: -20260815, -2026081522, -20260815-1755290000,
// -2026-08-15).
func parseSuffix(rest string) (*candidate, bool) {
	c := &candidate{}
	if r, ok := strings.CutSuffix(rest, ".gz"); ok {
		c.gzExt, rest = true, r
	}
	switch {
	case len(rest) >= 2 && rest[0] == '.':
		n, err := strconv.ParseUint(rest[1:], 10, 64)
		if err != nil || !allDigits(rest[1:]) {
			return nil, false
		}
		c.kind, c.num = rotNumeric, n
		return c, true
	case len(rest) >= 2 && rest[0] == '-':
		d, ok := dateDigits(rest[1:])
		if !ok {
			return nil, false
		}
		c.kind, c.date = rotDate, d
		return c, true
	}
	return nil, false
}

// dateDigits returns the digits of s when s looks like a date suffix (see parseSuffix).
func dateDigits(s string) (string, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch >= '0' && ch <= '9':
			b.WriteByte(ch)
		case ch == '-' || ch == '_':
		default:
			return "", false
		}
	}
	if b.Len() < 8 {
		return "", false
	}
	return b.String(), true
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

// looksRotated reports whether a file name is that of a rotated or compressed log (x.1,
// x.2.gz, x-20260815, x-2026081522.gz, x.gz, x.xz ...), judged by the name alone.
func looksRotated(name string) bool {
	for _, ext := range compressExts {
		if len(name) > len(ext) && strings.HasSuffix(name, ext) {
			return true
		}
	}
	if i := strings.LastIndexByte(name, '.'); i > 0 && allDigits(name[i+1:]) {
		return true
	}
	for i := 1; i < len(name); i++ {
		if name[i] == '-' {
			if _, ok := dateDigits(name[i+1:]); ok {
				return true
			}
		}
	}
	return false
}

// Expand resolves configured logpaths (plain paths or globs) to the current log files,
// sorted, without rotated siblings (x.1, x.2.gz, x-20260815, x-2026081522.gz ...). A plain
// path that does not exist is still returned (ReadLog reports it). A glob that matches
// nothing contributes nothing; directories and other non-regular files are left out of glob
// results. Rotated and compressed names are recognised by their shape alone (see
// looksRotated), so a glob never makes a rotated file a log of its own.
func Expand(patterns []string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		if p == "" {
			return nil, errors.New("expand logpath: empty path")
		}
		if !strings.ContainsAny(p, `*?[\`) {
			out = append(out, filepath.Clean(p))
			continue
		}
		ms, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("expand logpath %q: %w", p, err)
		}
		for _, m := range ms {
			if looksRotated(filepath.Base(m)) {
				continue
			}
			if fi, err := os.Stat(m); err != nil || !fi.Mode().IsRegular() {
				continue
			}
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
