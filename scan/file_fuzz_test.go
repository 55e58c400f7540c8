package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// FuzzReadLog drives a real log through random sequences of appends, partial lines, rename
// and copytruncate rotations, compression, late writes to the renamed file, deletion of the
// oldest rotated file and runs of ReadLog, and checks: no line is delivered twice, only
// whole lines that were written are delivered, offsets never go backwards for a file, and
// at the end every line was delivered except those that could not be: lost with a deleted
// file, or in a rotated file that predates the first run.
func FuzzReadLog(f *testing.F) {
	f.Add([]byte{0, 7, 0, 2, 0, 7, 5, 0, 7, 3, 7})
	f.Add([]byte{0, 1, 7, 0, 4, 0, 7, 0x13, 7, 4, 7, 3, 0x13, 7})
	f.Add([]byte{0x20, 7, 2, 5, 3, 0, 7, 2, 2, 0, 6, 7, 0, 4, 4, 7})
	f.Add([]byte{7, 0, 2, 7, 0, 7, 1, 7, 0, 2, 3, 0, 7, 6, 6, 6, 7})
	f.Add([]byte{4, 0, 7, 4, 0, 4, 0, 7, 0x13, 0x23, 7})
	f.Add([]byte{0, 7, 2, 3, 0, 2, 0, 2, 0, 2, 5, 7, 0, 2, 6, 6, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 200 {
			ops = ops[:200]
		}
		m := newFuzzLog(t)
		for _, b := range ops {
			m.op(b)
		}
		m.finish()
	})
}

// fuzzFile is one file on disk of the fuzzed log: its identity (a logical file, kept
// through renames, compression and copies) and whether it is compressed.
type fuzzFile struct {
	id int
	gz bool
}

type fuzzLog struct {
	t       *testing.T
	dir     string
	path    string
	files   map[string]*fuzzFile // by suffix: "" for the log itself, ".N"
	content map[int][]byte       // by identity: the longest content it had
	lineID  map[string]int       // written line -> identity it was written to
	status  map[string]int       // line -> lineWritten, lineDelivered, lineOptional
	order   []string             // lines in the order written
	optID   map[int]bool         // identities whose lines need not be delivered
	maxOff  map[int]int64        // highest offset stored per identity
	pending string               // second half of a partial line at the end of the log
	pendID  string               // the whole partial line
	pos     []state.FilePos
	nextID  int
	nline   int
	// late: .1 is the file a rename rotation moved away and the writer has written nothing
	// to the new log since, so it may still write to .1 (it holds it open until it reopens
	// the log). A copy made by copytruncate is written by nobody, and one writer never goes
	// back to the old file once it writes to the new one.
	late bool
}

const (
	lineWritten = iota + 1
	lineDelivered
)

func newFuzzLog(t *testing.T) *fuzzLog {
	dir := t.TempDir()
	return &fuzzLog{
		t: t, dir: dir, path: filepath.Join(dir, "mail.log"),
		files: map[string]*fuzzFile{}, content: map[int][]byte{}, lineID: map[string]int{},
		status: map[string]int{}, optID: map[int]bool{}, maxOff: map[int]int64{},
	}
}

func (m *fuzzLog) appendTo(suffix, s string) {
	m.t.Helper()
	if suffix == "" {
		m.late = false
	}
	ff := m.files[suffix]
	if ff == nil {
		m.nextID++
		ff = &fuzzFile{id: m.nextID}
		m.files[suffix] = ff
	}
	if ff.gz {
		m.t.Fatalf("append to compressed %s", suffix)
	}
	fh, err := os.OpenFile(m.path+suffix, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		m.t.Fatal(err)
	}
	if _, err := fh.WriteString(s); err != nil {
		m.t.Fatal(err)
	}
	fh.Close()
	m.content[ff.id] = append(m.content[ff.id], s...)
}

func (m *fuzzLog) newLine(suffix string) string {
	m.nline++
	l := fmt.Sprintf("L%06d %s %s", m.nline, suffix, strings.Repeat("x", m.nline*37%300))
	m.lineID[l] = m.fileID(suffix)
	m.status[l] = lineWritten
	m.order = append(m.order, l)
	return l
}

func (m *fuzzLog) fileID(suffix string) int {
	if ff := m.files[suffix]; ff != nil {
		return ff.id
	}
	return m.nextID + 1 // the identity appendTo is about to create
}

func (m *fuzzLog) completePending() {
	if m.pending != "" {
		m.appendTo("", m.pending)
		m.pending = ""
	}
}

// rotated returns the numbers of the rotated files, ascending.
func (m *fuzzLog) rotated() []int {
	var ns []int
	for s := range m.files {
		if s != "" {
			n, _ := strconv.Atoi(strings.TrimPrefix(s, "."))
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	return ns
}

func (m *fuzzLog) name(n int) string {
	if n == 0 {
		return ""
	}
	return "." + strconv.Itoa(n)
}

func (m *fuzzLog) disk(suffix string) string {
	p := m.path + suffix
	if ff := m.files[suffix]; ff != nil && ff.gz {
		p += ".gz"
	}
	return p
}

// shift renames .N to .N+1, newest last, as logrotate does.
func (m *fuzzLog) shift() {
	ns := m.rotated()
	for i := len(ns) - 1; i >= 0; i-- {
		from, to := m.name(ns[i]), m.name(ns[i]+1)
		ff := m.files[from]
		src := m.disk(from)
		delete(m.files, from)
		m.files[to] = ff
		if err := os.Rename(src, m.disk(to)); err != nil {
			m.t.Fatal(err)
		}
	}
}

func (m *fuzzLog) op(b byte) {
	arg := int(b >> 4)
	switch b % 9 {
	case 0: // append whole lines
		m.completePending()
		for range arg%3 + 1 {
			m.appendTo("", m.newLine("")+"\n")
		}
	case 1: // append half a line
		if m.pending == "" {
			l := m.newLine("")
			cut := 8 + arg%(len(l)-8)
			m.appendTo("", l[:cut])
			m.pending, m.pendID = l[cut:]+"\n", l
		}
	case 2: // rename rotation
		m.completePending()
		if m.files[""] == nil {
			return
		}
		m.shift()
		if err := os.Rename(m.path, m.path+".1"); err != nil {
			m.t.Fatal(err)
		}
		m.files[".1"] = m.files[""]
		delete(m.files, "")
		m.late = true
	case 3: // compress a rotated file
		var plain []int
		for _, n := range m.rotated() {
			if !m.files[m.name(n)].gz {
				plain = append(plain, n)
			}
		}
		if len(plain) == 0 {
			return
		}
		s := m.name(plain[arg%len(plain)])
		data, err := os.ReadFile(m.path + s)
		if err != nil {
			m.t.Fatal(err)
		}
		writeGzip(m.t, m.path+s+".gz", data)
		if err := os.Remove(m.path + s); err != nil {
			m.t.Fatal(err)
		}
		m.files[s].gz = true
	case 4: // copytruncate
		m.completePending()
		if m.files[""] == nil {
			return
		}
		m.shift()
		data, err := os.ReadFile(m.path)
		if err != nil {
			m.t.Fatal(err)
		}
		if err := os.WriteFile(m.path+".1", data, 0o644); err != nil {
			m.t.Fatal(err)
		}
		if err := os.Truncate(m.path, 0); err != nil {
			m.t.Fatal(err)
		}
		m.files[".1"] = m.files[""]
		m.nextID++
		m.files[""] = &fuzzFile{id: m.nextID}
		m.late = false
	case 5: // late write to the renamed file
		if ff := m.files[".1"]; ff != nil && !ff.gz && m.late {
			m.appendTo(".1", m.newLine(".1")+"\n")
		}
	case 6: // delete the oldest rotated file
		ns := m.rotated()
		if len(ns) == 0 {
			return
		}
		s := m.name(ns[len(ns)-1])
		if err := os.Remove(m.disk(s)); err != nil {
			m.t.Fatal(err)
		}
		m.optID[m.files[s].id] = true
		delete(m.files, s)
	default:
		m.run()
	}
}

func (m *fuzzLog) run() {
	m.t.Helper()
	if len(m.pos) == 0 {
		// First run: rotated files predate it.
		for s, ff := range m.files {
			if s != "" {
				m.optID[ff.id] = true
			}
		}
	}
	next, _, err := ReadLog(m.path, m.pos, func(line []byte) {
		l := string(line)
		switch m.status[l] {
		case 0:
			m.t.Fatalf("delivered %.60q, which was never written as a whole line", l)
		case lineDelivered:
			m.t.Fatalf("delivered %.60q twice", l)
		}
		m.status[l] = lineDelivered
	})
	if err != nil && !(m.files[""] == nil && os.IsNotExist(unwrapAll(err))) {
		m.t.Fatalf("ReadLog: %v", err)
	}
	if len(next) > maxPositions {
		m.t.Fatalf("%d positions", len(next))
	}
	for _, p := range next {
		if p.FPLen == 0 {
			continue
		}
		id := m.identify(p)
		if p.Offset < m.maxOff[id] {
			m.t.Fatalf("offset of file %d (%s) went back from %d to %d", id, p.Path, m.maxOff[id], p.Offset)
		}
		if p.Offset > int64(len(m.content[id])) {
			m.t.Fatalf("offset %d of file %d beyond its %d bytes", p.Offset, id, len(m.content[id]))
		}
		m.maxOff[id] = p.Offset
	}
	m.pos = next
}

// identify returns the identity whose content has the position's fingerprint. Every
// identity starts with a line of its own, so at most one can.
func (m *fuzzLog) identify(p state.FilePos) int {
	m.t.Helper()
	for id, c := range m.content {
		if len(c) >= p.FPLen {
			sum := sha256.Sum256(c[:p.FPLen])
			if hex.EncodeToString(sum[:]) == p.FP {
				return id
			}
		}
	}
	m.t.Fatalf("position %+v matches no file written", p)
	return 0
}

func (m *fuzzLog) finish() {
	m.completePending()
	m.run()
	m.run()
	for _, l := range m.order {
		if m.status[l] != lineDelivered && !m.optID[m.lineID[l]] {
			m.t.Fatalf("line %.60q (file %d) never delivered", l, m.lineID[l])
		}
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() []error })
		if !ok {
			return err
		}
		es := u.Unwrap()
		if len(es) != 1 {
			return err
		}
		err = es[0]
	}
}
