// Package scan reads new log lines since a stored position: files through rotation and compression, and the systemd journal.
package scan

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/klauspost/compress/gzip"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// MaxLine is the longest line delivered: a longer line is cut to MaxLine bytes, delivered
// once, and counted in Stats.LongLines.
const MaxLine = 64 << 10

const (
	// fpMax is the most leading bytes a fingerprint covers.
	fpMax = 1024
	// maxPositions bounds the positions kept for one log (see ReadLog).
	maxPositions = 8
)

// Stats of one read.
type Stats struct {
	Files     []string // files read from, in order (for logs and `status`)
	Lines     int64    // complete lines delivered
	Bytes     int64    // uncompressed bytes consumed: how far the stored offsets moved
	LongLines int64    // lines longer than MaxLine, cut to MaxLine
	// Gap is set when positions were stored but none of them matched a file that exists
	// now (everything known was rotated away and deleted, or the log was replaced): every
	// file of the log was then read from its start, and lines written to the files that
	// are gone after the last run may have been missed. The caller should warn.
	Gap bool
}

// ReadFile delivers every line of one file from its start (gzip detected by magic bytes, not
// name), for the `regex` command. A last line without '\n' is delivered too.
func ReadFile(path string, fn func(line []byte)) (Stats, error) {
	var st Stats
	f, err := os.Open(path)
	if err != nil {
		return st, fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	var magic [2]byte
	n, err := f.ReadAt(magic[:], 0)
	if err != nil && err != io.EOF {
		return st, fmt.Errorf("read %s at offset 0: %w", path, err)
	}
	c := &candidate{name: path, f: f, gz: isGzip(magic[:n]), loaded: true}
	st.Files = []string{path}
	r := newLineReader(fn, &st)
	end, _, err := r.read(c, 0, true)
	st.Bytes = end
	return st, err
}

// ReadLog delivers each complete line of the log at path (and of its rotated siblings) that
// is new since prev, in order, to fn (without the '\n'; the slice is valid only during the
// call). It returns the positions to store next time. On an error part-way it returns the
// positions of what was delivered so far together with the error, so the caller can save them
// consistently with what fn saw. A missing current file returns an error wrapping
// fs.ErrNotExist (but still finishes rotated files it knows).
//
// The files of the log are path itself and its rotated siblings in the same directory:
// path.N, path-DATE, each with or without .gz (see listCandidates for their order; when
// both naming schemes are present, orderSchemes puts the group of the newer scheme last,
// by what the positions and modification times say). A stored
// position matches a file when the SHA-256 of the file's first FPLen uncompressed bytes is
// FP (a position with FPLen 0 needs the same device and inode) and, for an uncompressed
// file with the same device and inode, the file is at least Offset long; otherwise it was
// truncated (copytruncate) or replaced and is read as a new file. A position prefers the
// file with its own device and inode, then an uncompressed one, then the newest; each
// position matches at most one file and each file at most one position.
//
// Matched files are read from their offset; files newer than the oldest matched one are
// new and read from 0; older ones were read before (or predate the first run) and are
// skipped. A gzip copy of a file that is itself matched or read (compression in progress)
// is skipped. With no stored positions (first run) only path is read, from its start. With
// stored positions of which none matches, every file is read from its start and Stats.Gap is
// set.
//
// Uncompressed files keep a last line without '\n' for later (the offset stays before it);
// gzip files deliver it, since they cannot grow. A truncated or corrupt gzip file delivers
// what decompressed cleanly, then reading goes on with the newer files and the error
// (naming the file and the uncompressed offset) is returned at the end; such a file counts
// as finished. Any other read error stops reading at that file.
//
// The positions returned are one per file read (or matched), oldest first. Uncompressed
// files are kept, as a renamed log may still be written to for a while. Leading gzip files
// that were read to their end are dropped, as they can no longer change and, being older
// than the files kept, are skipped next time anyway; at most maxPositions positions are
// kept, dropping the oldest. Positions of empty files (FPLen 0, known by device and
// inode alone) are kept only when no file with content is: then the newest of them is the
// anchor, and the files older than it are read too (copytruncate may have made one of
// them from it). A gzip file kept (the newest file known while path is
// missing) is not decompressed again when its trailer's size equals the stored offset.
// Offsets never go backwards for the same file, with one exception: an uncompressed copy
// shorter than the stored offset (a copytruncate that raced with the last run, which read
// bytes the copy never got) is stored at its own size, as there is nothing more to read
// from it.
func ReadLog(path string, prev []state.FilePos, fn func(line []byte)) (next []state.FilePos, st Stats, err error) {
	cands, err := listCandidates(path)
	if err != nil {
		return prev, st, err
	}
	defer func() {
		for _, c := range cands {
			if c.f != nil {
				c.f.Close()
			}
		}
	}()
	if len(cands) == 0 {
		return prev, st, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}

	owner := match(cands, prev)
	if orderSchemes(cands, owner) {
		owner = match(cands, prev)
	}
	oldest := -1
	for ci := range cands {
		if owner[ci] >= 0 {
			oldest = ci
			break
		}
	}
	// When the oldest file known was empty, a file older than it may be a copy made of it
	// since (copytruncate) as well as one that predates the first run: either way one that
	// was never read, so it is read. (Positions of empty files are kept only when no file
	// read had content; see below.)
	weak := oldest >= 0 && prev[owner[oldest]].FPLen == 0
	st.Gap = oldest < 0 && len(prev) > 0

	// Decide which files to read.
	read := make([]bool, len(cands))
	for ci, c := range cands {
		switch {
		case owner[ci] >= 0:
			read[ci] = true
		case oldest >= 0:
			read[ci] = ci > oldest || weak
		case len(prev) == 0:
			read[ci] = c.kind == rotCurrent
		default:
			read[ci] = true
		}
	}
	for ci, c := range cands {
		if read[ci] && owner[ci] < 0 {
			c.load()
			if c.gone {
				read[ci] = false
			}
		}
	}
	for ci, c := range cands {
		if read[ci] && owner[ci] < 0 && c.gz && isCopy(c, cands, read) {
			read[ci] = false
		}
	}

	type record struct {
		pos   state.FilePos
		final bool // gzip read to its end (or as far as it decompresses)
	}
	var (
		recs    []record
		errs    []error
		stopped bool
		current bool
	)
	r := newLineReader(fn, &st)
	for ci, c := range cands {
		if !read[ci] {
			continue
		}
		var e *state.FilePos
		if owner[ci] >= 0 {
			e = &prev[owner[ci]]
		}
		if stopped {
			if e != nil {
				recs = append(recs, record{pos: *e})
			}
			continue
		}
		if c.err != nil {
			errs = append(errs, c.err)
			stopped = true
			if e != nil {
				recs = append(recs, record{pos: *e})
			}
			continue
		}
		if c.kind == rotCurrent {
			current = true
		}
		pos := state.FilePos{Path: c.name, Dev: c.dev, Ino: c.ino, FPLen: len(c.head), FP: fingerprint(c.head)}
		var from int64
		if e != nil {
			from = e.Offset
		}
		switch {
		case e != nil && !c.gz && c.size < from:
			// A copy lacking bytes already read: nothing more to read from it.
			pos.Offset = c.size
			recs = append(recs, record{pos: pos})
			continue
		case e != nil && !c.gz && c.size == from:
			// Nothing new when it was opened (what comes later is read next time).
			st.Files = append(st.Files, c.name)
			pos.Offset = from
			recs = append(recs, record{pos: pos})
			continue
		case e != nil && c.gz && from > 0 && gzipSizeIs(c, from):
			pos.Offset = from
			recs = append(recs, record{pos: pos, final: true})
			continue
		}
		st.Files = append(st.Files, c.name)
		end, corrupt, err := r.read(c, from, c.gz)
		end = max(end, from)
		st.Bytes += end - from
		pos.Offset = end
		// A gzip file with nothing decompressed yet (being written) would be known by its
		// inode alone: leave it unknown, so that when complete it is matched by the
		// fingerprint of the file it was made from, if that one was read.
		if !c.gz || len(c.head) > 0 || e != nil || (err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF)) {
			recs = append(recs, record{pos: pos, final: c.gz})
		}
		if err != nil {
			errs = append(errs, err)
			stopped = !corrupt
		}
	}
	// Leading gzip files read to their end are dropped, but not where an empty file
	// follows: that one would become the oldest known (see weak above).
	for !stopped && len(recs) > 1 && recs[0].final && recs[1].pos.FPLen > 0 {
		recs = recs[1:]
	}
	// The position of an empty file tells something only when no file with content is
	// known before it. After one with content, an empty file is newer than that one, so it
	// is read from 0 next time anyway. With no file with content, the newest empty one is
	// the anchor.
	kept, content := recs[:0], false
	for _, rec := range recs {
		if rec.pos.FPLen > 0 || !content {
			kept = append(kept, rec)
		}
		content = content || rec.pos.FPLen > 0
	}
	recs = kept
	if !content && len(recs) > 1 {
		recs = recs[len(recs)-1:]
	}
	if !stopped && len(recs) > maxPositions {
		recs = recs[len(recs)-maxPositions:]
	}
	if len(recs) == 0 {
		next = prev
	} else {
		next = make([]state.FilePos, len(recs))
		for i, rec := range recs {
			next[i] = rec.pos
		}
	}
	if !current && !stopped {
		errs = append(errs, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist})
	}
	return next, st, errors.Join(errs...)
}

// match pairs stored positions with candidates and returns, for each candidate, the index of
// its position in prev or -1. Positions with a fingerprint are tried first on the file with
// their device and inode, then on the others by fingerprint. Positions of an empty file
// (FPLen 0) come last, on an uncompressed file with their device and inode that no
// fingerprint claimed: an inode is reused once its file is deleted, so it alone must not
// take a file from the position it belongs to.
func match(cands []*candidate, prev []state.FilePos) []int {
	owner := make([]int, len(cands))
	for i := range owner {
		owner[i] = -1
	}
	matched := make([]bool, len(prev))
	byInode := func(ei int) {
		e := &prev[ei]
		for ci, c := range cands {
			if owner[ci] >= 0 || c.dev != e.Dev || c.ino != e.Ino {
				continue
			}
			if c.load(); fits(c, e) {
				owner[ci], matched[ei] = ei, true
				return
			}
		}
	}
	for ei := range prev {
		if prev[ei].FPLen > 0 {
			byInode(ei)
		}
	}
	for ei := range prev {
		e := &prev[ei]
		if matched[ei] || e.FPLen == 0 {
			continue
		}
		best, bestRank := -1, 0
		for ci, c := range cands {
			if owner[ci] >= 0 {
				continue
			}
			if c.load(); !fits(c, e) {
				continue
			}
			rank := 1 // an uncompressed copy shorter than the offset
			switch {
			case c.gz:
				rank = 2
			case c.size >= e.Offset:
				rank = 3
			}
			if rank >= bestRank {
				best, bestRank = ci, rank
			}
		}
		if best >= 0 {
			owner[best], matched[ei] = ei, true
		}
	}
	for ei := range prev {
		if prev[ei].FPLen == 0 {
			byInode(ei)
		}
	}
	return owner
}

// fits reports whether candidate c (loaded) holds the file of position e.
func fits(c *candidate, e *state.FilePos) bool {
	if c.gone || c.err != nil {
		return false
	}
	same := c.dev == e.Dev && c.ino == e.Ino
	if e.FPLen == 0 {
		// Compressing makes a new inode: a gzip file with this one reused it.
		if !same || c.gz {
			return false
		}
	} else if e.FPLen > len(c.head) || !strings.EqualFold(fingerprint(c.head[:e.FPLen]), e.FP) {
		return false
	}
	// The same uncompressed file, shorter than what was read: truncated in place.
	return c.gz || !same || c.size >= e.Offset
}

// isCopy reports whether gzip candidate c is a copy of an uncompressed file that is being
// read: their heads agree on their common length, which is not 0 (gzip writing the .gz
// while the plain file is still there; the .gz may hold only part of it yet).
func isCopy(c *candidate, cands []*candidate, read []bool) bool {
	for oi, o := range cands {
		if o == c || !read[oi] || o.gz || o.err != nil || o.gone {
			continue
		}
		k := min(len(c.head), len(o.head))
		if k > 0 && string(c.head[:k]) == string(o.head[:k]) {
			return true
		}
	}
	return false
}

// load opens c and reads its head, once. A file that vanished is marked gone; other
// failures are kept in c.err.
func (c *candidate) load() {
	if c.loaded {
		return
	}
	c.loaded = true
	f, err := os.Open(c.name)
	if errors.Is(err, fs.ErrNotExist) {
		c.gone = true
		return
	}
	if err != nil {
		c.err = fmt.Errorf("read log: %w", err)
		return
	}
	c.f = f
	fi, err := f.Stat()
	if err != nil {
		c.err = fmt.Errorf("read log: %w", err)
		return
	}
	c.dev, c.ino = fileID(fi)
	c.size, c.mtime = fi.Size(), fi.ModTime()
	raw := make([]byte, fpMax)
	n, err := f.ReadAt(raw, 0)
	if err != nil && err != io.EOF {
		c.err = fmt.Errorf("read %s at offset 0: %w", c.name, err)
		return
	}
	raw = raw[:n]
	if c.gz = isGzip(raw); !c.gz {
		c.head = raw
		return
	}
	// A gzip file whose head does not decompress gets a short (or empty) head: it then
	// matches no position, and reading it reports the error.
	zr, err := gzip.NewReader(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return
	}
	n, _ = io.ReadFull(zr, raw[:cap(raw)])
	zr.Close()
	c.head = raw[:n]
}

// read delivers the lines of c from uncompressed offset from. final makes a last line
// without '\n' count (gzip files). corrupt reports an error of the compressed data, not of
// reading the file: the file is finished as far as it can be read.
func (r *lineReader) read(c *candidate, from int64, final bool) (end int64, corrupt bool, err error) {
	if !c.gz {
		if _, err := c.f.Seek(from, io.SeekStart); err != nil {
			return from, false, fmt.Errorf("read %s at offset %d: %w", c.name, from, err)
		}
		end, reached, err := r.lines(c.f, from, final)
		if err != nil {
			return end, false, fmt.Errorf("read %s at offset %d: %w", c.name, reached, err)
		}
		return end, false, nil
	}
	src := &errRecorder{r: io.NewSectionReader(c.f, 0, 1<<62)}
	zr, err := gzip.NewReader(bufio.NewReaderSize(src, 64<<10))
	if err != nil {
		return from, src.err == nil, fmt.Errorf("read %s at offset 0: %w", c.name, err)
	}
	defer zr.Close()
	if n, err := r.discard(zr, from); err != nil {
		if err == io.EOF {
			// Shorter than what was read before: nothing new.
			return from, false, nil
		}
		return from, src.err == nil, fmt.Errorf("read %s at offset %d: %w", c.name, n, err)
	}
	end, reached, err := r.lines(zr, from, final)
	if err != nil {
		return end, src.err == nil, fmt.Errorf("read %s at offset %d: %w", c.name, reached, err)
	}
	return end, false, nil
}

// errRecorder keeps the error, other than io.EOF, of the reader under a decompressor, to
// tell a failing file from corrupt data.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// gzipSizeIs reports whether the size in the trailer of gzip file c (ISIZE: the
// uncompressed size modulo 2^32 of its last member) is off modulo 2^32, that is whether a
// file read up to off has nothing more.
func gzipSizeIs(c *candidate, off int64) bool {
	if c.size < 18 {
		return false
	}
	var b [4]byte
	if _, err := c.f.ReadAt(b[:], c.size-4); err != nil {
		return false
	}
	return binary.LittleEndian.Uint32(b[:]) == uint32(off)
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// fingerprint returns the hex SHA-256 of b.
func fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fileID returns the device and inode of a file.
func fileID(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}
