package state

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// encodeDoc makes the JSON of s (see doc), the same bytes as json.Marshal(s) for a state that
// Decode or New made (TestEncodeAsJSON, TestDocStreamed and FuzzEncode check it; a map that
// Load or LoadLazy read and that did not change is written as the text it was read from, see
// ahead), written directly: the compact strings of failures, bans and ban_history, the
// history's runs, bans and per-IP counts go into the document without an intermediate copy,
// without encoding/json escaping strings that need no escape, and without its reflection per
// record. The small parts (files, outbox, crowdsec, whose fleet marshals itself compactly) are
// written by encoding/json.
func encodeDoc(s *State, parallel bool) (*doc, error) {
	for _, j := range s.Jails {
		if j != nil && j.lb != nil && len(j.Bans)+len(j.BanHistory) > 0 {
			s.DecodeBans() // likewise for bans set without DecodeBans
		}
	}
	e := &encoder{pre: writeAhead(s, parallel)}
	glue, err := e.appendState(make([]byte, 0, 64<<10), s)
	if err != nil {
		return nil, err
	}
	return &doc{glue: append(glue, '\n'), pieces: e.pieces}, nil
}

// encoder writes a state's glue and collects its pieces (see doc).
type encoder struct {
	pre    ahead
	pieces []piece
}

func (e *encoder) appendState(b []byte, s *State) ([]byte, error) {
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, int64(s.Version), 10)
	b = append(b, `,"jails":`...)
	if s.Jails == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, name := range slices.Sorted(mapKeys(s.Jails)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, name)
			b = append(b, ':')
			var err error
			if b, err = e.appendJail(b, s.Jails[name]); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	b = append(b, `,"history":`...)
	b = e.appendHistory(b, s.History)
	if s.LastSuccess != 0 {
		b = append(b, `,"last_success":`...)
		b = strconv.AppendInt(b, s.LastSuccess, 10)
	}
	if len(s.Outbox) > 0 {
		out, err := json.Marshal(s.Outbox)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"outbox":`...)
		b = append(b, out...)
	}
	if s.Crowdsec != nil {
		cs, err := json.Marshal(s.Crowdsec)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"crowdsec":`...)
		b = append(b, cs...)
	}
	return append(b, '}'), nil
}

func (e *encoder) appendJail(b []byte, j *Jail) ([]byte, error) {
	if j == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	if len(j.Files) > 0 {
		files, err := json.Marshal(j.Files)
		if err != nil {
			return nil, err
		}
		b = append(b, `"files":`...)
		b = append(b, files...)
		b = append(b, ',')
	}
	if j.Cursor != "" {
		b = append(b, `"cursor":`...)
		b = appendJSONString(b, j.Cursor)
		b = append(b, ',')
	}
	if j.lazy != "" {
		if text := j.lazyText(); text != "" {
			b = append(b, `"failures":`...)
			b = e.plainString(b, text) // as read (plainJSON, see decodeJails), and the keys set since
			b = append(b, ',')
		}
	} else if len(j.Failures) > 0 {
		b = append(b, `"failures":`...)
		b = e.quoted(b, &j.Failures, j.Failures.appendText)
		b = append(b, ',')
	}
	if j.lb != nil {
		if text := j.lb.bansMerged(); text != "" {
			b = append(b, `"bans":`...)
			b = e.plainString(b, text) // as read from a sealed file, and the bans set since
			b = append(b, ',')
		}
	} else if len(j.Bans) > 0 {
		b = append(b, `"bans":`...)
		b = e.quoted(b, &j.Bans, j.Bans.appendText)
		b = append(b, ',')
	}
	if j.lb != nil {
		if text := j.lb.historyMerged(); text != "" {
			b = append(b, `"ban_history":`...)
			b = e.plainString(b, text)
			b = append(b, ',')
		}
	} else if len(j.BanHistory) > 0 {
		b = append(b, `"ban_history":`...)
		b = e.quoted(b, &j.BanHistory, j.BanHistory.appendText)
		b = append(b, ',')
	}
	b = appendField(b, `"total_failed":`, j.TotalFailed, false)
	b = appendField(b, `,"total_banned":`, j.TotalBanned, false)
	b = appendField(b, `,"total_unbanned":`, j.TotalUnbanned, true)
	b = appendField(b, `,"total_lines":`, j.TotalLines, true)
	b = appendField(b, `,"total_read_errors":`, j.TotalReadErrors, true)
	b = appendField(b, `,"quiet_since":`, j.QuietSince, true)
	b = appendField(b, `,"unmatched":`, j.Unmatched, true)
	return append(b, '}'), nil
}

// appendField appends key and v, unless omitEmpty and v is 0.
func appendField(b []byte, key string, v int64, omitEmpty bool) []byte {
	if omitEmpty && v == 0 {
		return b
	}
	b = append(b, key...)
	return strconv.AppendInt(b, v, 10)
}

func (e *encoder) appendHistory(b []byte, h *History) []byte {
	if h == nil {
		return append(b, "null"...)
	}
	b = appendField(b, `{"start":`, h.Start, false)
	b = appendField(b, `,"last":`, h.Last, false)
	b = appendField(b, `,"runs_since":`, h.RunsSince, false)
	b = appendField(b, `,"ip_hours_since":`, h.IPHoursSince, false)
	b = append(b, `,"jails":`...)
	if h.Jails == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, name := range slices.Sorted(mapKeys(h.Jails)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, name)
			b = append(b, ':')
			b = e.appendJailHistory(b, h.Jails[name])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func (e *encoder) appendJailHistory(b []byte, j *JailHistory) []byte {
	if j == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"hours":`...)
	b = appendIntMap(b, j.Hours, func(b []byte, c *Counts) []byte {
		if c == nil {
			return append(b, "null"...)
		}
		return appendInts(b, c[:])
	})
	b = append(b, `,"runs":`...)
	if j.Runs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range j.Runs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendInts(b, j.Runs[i][:])
		}
		b = append(b, ']')
	}
	b = append(b, `,"days":`...)
	b = appendIntMap(b, j.Days, e.ipCounts)
	b = append(b, `,"ip_hours":`...)
	b = appendIntMap(b, j.IPHours, e.ipCounts)
	b = append(b, `,"bans":`...)
	switch spans := j.Bans; {
	case j.lazySpans != "" && len(j.tail) == 0:
		b = e.raw(b, j.lazySpans) // as read from a sealed file
	case j.lazySpans != "":
		b = e.raw(b, strings.TrimSuffix(j.lazySpans, "]")) // as read, and the spans appended since
		if j.lazySpans != "[]" {
			b = append(b, ',')
		}
		b = append(b, appendSpans(nil, j.tail, nil)[1:]...) // "a,b]" of "[a,b]"
	case spans == nil:
		b = append(b, "null"...)
	case len(spans) < aheadMin:
		b = appendSpans(b, spans, nil)
	default:
		// Streamed 64 kB at a time: at 100,000 bans the list is 5 MB of text.
		b = e.piece(b, piece{gen: func(w sink) {
			w.Write(appendSpans(make([]byte, 0, 72<<10), spans, func(chunk []byte) []byte {
				if len(chunk) < 64<<10 {
					return chunk
				}
				w.Write(chunk)
				return chunk[:0]
			}))
		}})
	}
	return append(b, '}')
}

// appendSpans appends the history's ban spans as a JSON list; flush, when not nil, is given
// the text so far after each span and returns what to go on appending to.
func appendSpans(b []byte, spans []BanSpan, flush func([]byte) []byte) []byte {
	b = append(b, '[')
	for i, s := range spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"ip":`...)
		b = appendJSONString(b, s.IP)
		b = appendField(b, `,"at":`, s.At, false)
		b = appendField(b, `,"end":`, s.End, false)
		b = append(b, '}')
		if flush != nil {
			b = flush(b)
		}
	}
	return append(b, ']')
}

func (e *encoder) ipCounts(b []byte, c *IPCounts) []byte {
	if c == nil {
		return append(b, "null"...)
	}
	if c.m == nil {
		if plainJSON([]byte(c.raw)) {
			return e.plainString(b, c.raw)
		}
		return appendJSONString(b, c.raw)
	}
	return e.quoted(b, c, c.appendText)
}

func (c *IPCounts) appendText(b []byte) []byte { return c.appendTextIn(b, nil) }

func (c *IPCounts) appendTextIn(b []byte, o *keyOrder) []byte {
	return appendSorted(b, c.m, func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }, o)
}

// ahead holds texts of the big per-address maps of a state, made before appendState
// assembles the document, by the maps' addresses (&jail.Bans, an *IPCounts):
//   - a jail's map that is the same as when Load read it: the text it was read from (see
//     State.kept), so that a minute run with nothing new does not sort and format it again;
//   - the others of 4,096 entries or more, each written by a goroutine of its own: at 100,000
//     addresses sorting and writing a map takes tens of milliseconds, and a state has several
//     (a jail's failures, bans and ban history, the history's counts of the day and the
//     hour), so that two cores write them in about half the time.
type ahead map[any]aheadText

type aheadText struct {
	kept    string // the text Load read, or
	written []byte // the text written ahead
}

// aheadMin is the size from which a map is written ahead: below it, a goroutine costs more
// than it saves.
const aheadMin = 4096

func writeAhead(s *State, parallel bool) ahead {
	type job struct {
		key  any
		text func([]byte, *keyOrder) []byte
		size int // the text's size, about
	}
	var jobs []job
	pre := ahead{}
	sameAsLoaded := func(key any, n int, sum func() uint64) bool {
		k, ok := s.kept[key]
		if ok && n > 0 && k.sum == sum() {
			pre[key] = aheadText{kept: k.text}
			return true
		}
		return false
	}
	for _, j := range s.Jails {
		if j == nil {
			continue
		}
		if j.lazy == "" && !sameAsLoaded(&j.Failures, len(j.Failures), j.Failures.sum) && len(j.Failures) >= aheadMin {
			jobs = append(jobs, job{&j.Failures, j.Failures.appendTextIn, 72 * len(j.Failures)})
		}
		if !sameAsLoaded(&j.Bans, len(j.Bans), j.Bans.sum) && len(j.Bans) >= aheadMin {
			jobs = append(jobs, job{&j.Bans, j.Bans.appendTextIn, 32 * len(j.Bans)})
		}
		if !sameAsLoaded(&j.BanHistory, len(j.BanHistory), j.BanHistory.sum) && len(j.BanHistory) >= aheadMin {
			jobs = append(jobs, job{&j.BanHistory, j.BanHistory.appendTextIn, 28 * len(j.BanHistory)})
		}
	}
	if s.History != nil {
		for _, j := range s.History.Jails {
			if j == nil {
				continue
			}
			for _, m := range []map[int64]*IPCounts{j.Days, j.IPHours} {
				for _, c := range m {
					if c != nil && len(c.m) >= aheadMin && (c.twin == nil || pre[c.twin].written == nil) {
						jobs = append(jobs, job{c, c.appendTextIn, 20 * len(c.m)})
						pre[c] = aheadText{written: []byte{}} // a job: its twin is not one (see below)
					}
				}
			}
		}
	}
	if len(jobs) < 2 {
		for _, jb := range jobs {
			delete(pre, jb.key) // nothing to do at once: written as the document is made
		}
		return pre
	}
	texts := make([][]byte, len(jobs))
	var wg sync.WaitGroup
	order := &keyOrder{} // one at a time, the maps share their sorted keys
	for i, jb := range jobs {
		if !parallel {
			texts[i] = jb.text(make([]byte, 0, jb.size), order) // one at a time (SaveBeside)
			continue
		}
		wg.Go(func() { texts[i] = jb.text(make([]byte, 0, jb.size), nil) })
	}
	wg.Wait()
	for i, jb := range jobs {
		pre[jb.key] = aheadText{written: texts[i]}
		if c, ok := jb.key.(*IPCounts); ok && c.twin != nil {
			pre[c.twin] = aheadText{written: texts[i]} // the same map: the same text
		}
	}
	return pre
}

// quoted appends the map at key as a JSON string: its text written ahead or kept, as a
// piece, or else written now by text.
func (e *encoder) quoted(b []byte, key any, text func([]byte) []byte) []byte {
	if t, ok := e.pre[key]; ok && t.written != nil {
		if !plainJSON(t.written) {
			return appendQuoted(b, func(b []byte) []byte { return append(b, t.written...) })
		}
		b = append(b, '"')
		b = e.piece(b, piece{b: t.written})
		return append(b, '"')
	} else if ok {
		return e.plainString(b, t.kept) // plainJSON when kept
	}
	return appendQuoted(b, text)
}

// plainString appends s, which is plainJSON, as a JSON string; a long one as a piece.
func (e *encoder) plainString(b []byte, s string) []byte {
	b = append(b, '"')
	b = e.raw(b, s)
	return append(b, '"')
}

// raw appends s, JSON text without a NUL; a long one as a piece.
func (e *encoder) raw(b []byte, s string) []byte {
	if len(s) >= 64<<10 {
		return e.piece(b, piece{text: s})
	}
	return append(b, s...)
}

// piece appends to b the NUL that stands for p.
func (e *encoder) piece(b []byte, p piece) []byte {
	e.pieces = append(e.pieces, p)
	return append(b, 0)
}

// doc is the JSON of a state in two parts: the glue, which is the document with a NUL byte
// where each piece goes (JSON text holds no raw NUL: appendJSONString and encoding/json escape
// it, and the texts made pieces are plainJSON), and the pieces in the order of their NULs: the
// big texts (a map's text kept from Load or written ahead, a lazy jail's failures, the per-IP
// counts) and the history's ban spans, written as they are streamed. Save hashes the document
// and writes it streaming it: at 100,000 bans it is 14 MB that are never one buffer.
type doc struct {
	glue   []byte
	pieces []piece
}

type piece struct {
	text string
	b    []byte
	gen  func(sink) // writes the piece
}

// sink takes the document's bytes: a hash, a file's buffer, a buffer.
type sink interface {
	io.Writer
	io.StringWriter
}

// writeTo writes glue, in which the first NUL stands for d.pieces[k], to w, and returns the
// index of the piece after the last it wrote.
func (d *doc) writeTo(w sink, glue []byte, k int) int {
	for {
		i := bytes.IndexByte(glue, 0)
		if i < 0 {
			w.Write(glue)
			return k
		}
		w.Write(glue[:i])
		switch p := d.pieces[k]; {
		case p.gen != nil:
			p.gen(w)
		case p.b != nil:
			w.Write(p.b)
		default:
			w.WriteString(p.text)
		}
		k++
		glue = glue[i+1:]
	}
}

// bytes returns the whole document.
func (d *doc) bytes() []byte {
	var b bytes.Buffer
	n := len(d.glue)
	for _, p := range d.pieces {
		n += len(p.text) + len(p.b)
	}
	b.Grow(n + 4096)
	d.writeTo(&b, d.glue, 0)
	return b.Bytes()
}

// sum is sumFile of the document, hashed as it is streamed. The history's last is found in
// the glue: no piece holds a quote, so none holds the key lastValue looks for.
func (d *doc) sum() fileSum {
	var head, tail maphash.Hash
	head.SetSeed(seed)
	tail.SetSeed(seed)
	count := &countingSink{h: &head}
	i := lastValue(d.glue)
	if i[0] < 0 {
		d.writeTo(count, d.glue, 0)
		return fileSum{n: count.n, head: head.Sum64()}
	}
	k := d.writeTo(count, d.glue[:i[0]], 0)
	count.n += i[1] - i[0]
	count.h = &tail
	d.writeTo(count, d.glue[i[1]:], k)
	return fileSum{n: count.n, split: true, head: head.Sum64(), tail: tail.Sum64()}
}

// countingSink hashes what it is given into h and counts it.
type countingSink struct {
	h *maphash.Hash
	n int
}

func (c *countingSink) Write(p []byte) (int, error) {
	c.n += len(p)
	return c.h.Write(p)
}

func (c *countingSink) WriteString(s string) (int, error) {
	c.n += len(s)
	return c.h.WriteString(s)
}

// appendIntMap appends m as encoding/json writes a map with integer keys: the keys as strings,
// in the order of those strings.
func appendIntMap[V any](b []byte, m map[int64]V, val func([]byte, V) []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	type kv struct {
		k string
		v V
	}
	kvs := make([]kv, 0, len(m))
	for k, v := range m {
		kvs = append(kvs, kv{strconv.FormatInt(k, 10), v})
	}
	slices.SortFunc(kvs, func(a, b kv) int {
		if a.k < b.k {
			return -1
		}
		if a.k > b.k {
			return 1
		}
		return 0
	})
	b = append(b, '{')
	for i, e := range kvs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, e.k...)
		b = append(b, '"', ':')
		b = val(b, e.v)
	}
	return append(b, '}')
}

func appendInts(b []byte, v []int64) []byte {
	b = append(b, '[')
	for i, n := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return append(b, ']')
}

// appendQuoted appends the text that text appends, as a JSON string. The compact strings need
// no escape (addresses, digits, '=', ',', ' '); one that does is escaped by encoding/json.
func appendQuoted(b []byte, text func([]byte) []byte) []byte {
	b = append(b, '"')
	start := len(b)
	b = text(b)
	if !plainJSON(b[start:]) {
		s := string(b[start:])
		b = appendJSONString(b[:start-1], s)
		return b
	}
	return append(b, '"')
}

// appendJSONString appends s as json.Marshal writes it.
func appendJSONString(b []byte, s string) []byte {
	if plainJSON([]byte(s)) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// plainJSON reports whether s goes into a JSON string as it is: printable ASCII that
// encoding/json does not escape (it escapes '"', '\\', and '<', '>', '&' for HTML).
func plainJSON(s []byte) bool {
	for _, c := range s {
		if jsonByte[c] != plainByte {
			return false
		}
	}
	return true
}

// jsonByte classifies the bytes of a JSON string (one table look-up per byte: a state's
// strings are megabytes, and a row of comparisons per byte was a tenth of a minute run).
var jsonByte = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c == '"':
			t[c] = quoteByte
		case c < 0x20 || c >= 0x7f || c == '\\':
			t[c] = escapedByte
		case c == '<' || c == '>' || c == '&':
			t[c] = htmlByte
		}
	}
	return t
}()

const (
	plainByte   = iota // as it is
	quoteByte          // '"'
	escapedByte        // a control byte, '\\' or not ASCII: JSON escapes it
	htmlByte           // '<', '>', '&': valid as it is, but encoding/json escapes it
)

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
