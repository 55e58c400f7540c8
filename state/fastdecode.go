package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"unsafe"
)

// decodeFast decodes a state file as Encode writes it, without passing its big values through
// encoding/json, which reads a document byte by byte twice (its scanner, then its decoder):
// the compact strings of failures, bans and ban_history, and the history's runs and bans. It
// walks the document's structure once, parses those values directly from their bytes, and
// hands what is left (positions, counters, hours, outbox: a few kB) to encoding/json as a
// smaller document of the same shape, so the small parts are read, and their errors worded, as
// before.
//
// It accepts only the form Encode writes: no whitespace between tokens, big strings of plain
// ASCII without escapes, runs of exactly 1+NCounters numbers, history bans with ip, at and end
// in that order, each of these keys once and spelled exactly so. Anything else (a file written
// by hand, schema 1, a damaged file) returns ok false, and Decode reads the whole document with
// encoding/json, as it did before, so what is accepted and every error message stay its own.
// FuzzDecodeFast checks that both ways decode a document to the same state.
func decodeFast(data []byte, lazy bool) (s *State, ok bool) {
	p := &fastParser{d: data, rest: make([]byte, 0, 4096), lazy: lazy}
	if !p.object(p.top) {
		return nil, false
	}
	for _, c := range data[p.i:] {
		if c != ' ' && c != '\n' && c != '\t' && c != '\r' {
			return nil, false
		}
	}
	var st State
	dec := json.NewDecoder(bytes.NewReader(p.rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, false
	}
	kept, checked, ok := decodeJails(p.jails, st.Jails, lazy)
	if !ok {
		return nil, false
	}
	st.kept, st.checked = kept, checked
	for name, ph := range p.hist {
		if st.History == nil || st.History.Jails[name] == nil {
			return nil, false
		}
		j := st.History.Jails[name]
		if ph.runs != nil {
			j.Runs = ph.runs
		}
		if ph.bans != nil {
			j.Bans = ph.bans
		}
		if ph.lazySpans != "" {
			j.lazySpans, j.spansEnd = ph.lazySpans, lazySpansEnd(ph.lazySpans)
		}
		if ph.days != nil {
			j.Days = ph.days
		}
		if ph.ipHours != nil {
			j.IPHours = ph.ipHours
		}
	}
	return &st, true
}

// fastParser walks a state document (d, at i) and writes it to rest without the values it
// parsed itself.
type fastParser struct {
	d     []byte
	i     int
	rest  []byte
	jails map[string]*fastJail
	hist  map[string]*fastHist
	seen  [2]bool // top level: jails, history
	// lazy: the file is sealed, and LoadLazy leaves the bans, the ban history and the spans as
	// text (lazybans.go)
	lazy bool
}

// fastJail holds a jail's compact strings, as JSON strings (nil: absent); they are decoded
// after the walk, concurrently (decodeJails).
type fastJail struct {
	failures, bans, history []byte
}

// decodeJails decodes the compact strings of each jail of fast into the jail of the same name
// in jails, each string by a goroutine of its own when there is more than one big one: at
// 100,000 addresses a string takes tens of milliseconds, and two cores halve the time of a
// state of several. It reports false if a jail is missing or a string does not decode, and
// else the texts of the maps (see keptText; a text with JSON escapes is not kept).
//
// With lazy (a sealed file), a jail's failures, bans and ban history are not decoded but kept
// as text (Jail.lazy, Jail.lb), with what a run must know of them.
func decodeJails(fast map[string]*fastJail, jails map[string]*Jail, lazy bool) (kept map[any]keptText, checked map[any]bool, ok bool) {
	type job struct {
		raw []byte
		dst interface {
			decodeText(string, bool) (uint64, error)
		}
		key  any // the map's address; nil for lazy failures
		kept keptText
		err  error
		// marked: the text is kept only in the form of this schema, which starts with the
		// radixMark (failures in decimal, of schema 2, are written again in base 36)
		marked bool
	}
	var jobs []*job
	big := 0
	for name, pj := range fast {
		j := jails[name]
		if j == nil {
			return nil, nil, false
		}
		if lazy && len(pj.failures) > 2 && pj.failures[1] == radixMark {
			jobs = append(jobs, &job{raw: pj.failures, dst: lazyFailures{j}})
			pj.failures = nil
		}
		if lazy && (pj.bans != nil || pj.history != nil) {
			// Sealed: kept as text, with what a run must know of them (lazybans.go). The
			// two jobs write different fields of j.lb.
			j.lb = &lazyBans{LazyBans: LazyBans{NextEnd: math.MaxInt64, OldestRecord: math.MaxInt64}}
			if pj.bans != nil {
				jobs = append(jobs, &job{raw: pj.bans, dst: lazyText(j.lb.bansText)})
			}
			if pj.history != nil {
				jobs = append(jobs, &job{raw: pj.history, dst: lazyText(j.lb.historyText)})
			}
			pj.bans, pj.history = nil, nil
		}
		for _, jb := range []*job{
			{raw: pj.failures, dst: &j.Failures, key: &j.Failures, marked: true},
			{raw: pj.bans, dst: &j.Bans, key: &j.Bans},
			{raw: pj.history, dst: &j.BanHistory, key: &j.BanHistory},
		} {
			if jb.raw != nil {
				jobs = append(jobs, jb)
			}
		}
	}
	for _, jb := range jobs {
		if len(jb.raw) >= 64<<10 {
			big++
		}
	}
	run := func(jb *job) {
		var text string
		var err error
		if jb.key == nil {
			// Kept as text: a view of the file (which nothing writes to any more) instead of
			// a copy, so that a run does not hold the state twice. str read it without
			// escapes.
			text = unsafe.String(&jb.raw[1], len(jb.raw)-2)
		} else {
			text, err = unquote(jb.raw)
		}
		var sum uint64
		if err == nil {
			sum, err = jb.dst.decodeText(text, true) // a bad key: the slow path says which
		}
		if jb.err = err; err == nil && jb.key != nil && plainJSON(jb.raw[1:len(jb.raw)-1]) && (!jb.marked || strings.HasPrefix(text, string(radixMark))) {
			jb.kept = keptText{text: text, sum: sum}
		}
	}
	if big < 2 {
		for _, jb := range jobs {
			run(jb)
		}
	} else {
		var wg sync.WaitGroup
		for _, jb := range jobs {
			wg.Go(func() { run(jb) })
		}
		wg.Wait()
	}
	kept, checked = make(map[any]keptText, len(jobs)), make(map[any]bool, len(jobs))
	for _, jb := range jobs {
		if jb.err != nil {
			return nil, nil, false
		}
		if jb.kept.text != "" {
			kept[jb.key] = jb.kept
		}
		if jb.key != nil {
			checked[jb.key] = true
		}
	}
	return kept, checked, true
}

// lazyText keeps a text as it is (decodeJails with lazy).
type lazyText func(string)

func (l lazyText) decodeText(text string, _ bool) (uint64, error) { l(text); return 0, nil }

type fastHist struct {
	runs          []Run
	bans          []BanSpan
	lazySpans     string // with lazy, the list of bans as it is (see JailHistory.spans)
	days, ipHours map[int64]*IPCounts
}

// ipCounts reads an object of per-IP counts by bucket, {"86400":"192.0.2.7=3 ..."}, into m:
// each string is checked and kept as it is (IPCounts), without passing megabytes of them
// through encoding/json. Keys must be integers as encoding/json writes them; anything else
// (null, escapes, a key twice) is left to encoding/json.
func (p *fastParser) ipCounts(m map[int64]*IPCounts) bool {
	if !p.eat('{') {
		return false
	}
	if p.eat('}') {
		return true
	}
	for {
		k, ok := p.str()
		if !ok || !p.eat(':') {
			return false
		}
		q := fastParser{d: k[1 : len(k)-1]}
		key, ok := q.int()
		if !ok || q.i != len(q.d) {
			return false
		}
		v, ok := p.str()
		if !ok {
			return false
		}
		if _, dup := m[key]; dup {
			return false
		}
		c := &IPCounts{}
		if p.lazy {
			c.raw = unsafe.String(&v[1], len(v)-2) // sealed: a view, as decodeJails keeps its texts
		} else if c.UnmarshalText(v[1:len(v)-1]) != nil {
			return false
		}
		m[key] = c
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}

// object reads an object, calling field for each key with the key (unquoted) and its raw form
// (quoted); field reads the value, and writes the key and value to rest when it keeps them.
// The object's braces and commas are written to rest as needed.
func (p *fastParser) object(field func(key string, raw []byte) bool) bool {
	if !p.eat('{') {
		return false
	}
	p.rest = append(p.rest, '{')
	mark := len(p.rest)
	if p.eat('}') {
		p.rest = append(p.rest, '}')
		return true
	}
	for {
		raw, ok := p.str()
		if !ok || !p.eat(':') {
			return false
		}
		if len(p.rest) > mark {
			p.rest = append(p.rest, ',')
		}
		n := len(p.rest)
		if !field(string(raw[1:len(raw)-1]), raw) {
			return false
		}
		if len(p.rest) == n && n > mark && p.rest[n-1] == ',' {
			p.rest = p.rest[:n-1] // the field was parsed here, not kept: no comma for it
		}
		if p.eat(',') {
			continue
		}
		if !p.eat('}') {
			return false
		}
		p.rest = append(p.rest, '}')
		return true
	}
}

// keep copies the key and the value at i to rest.
func (p *fastParser) keep(raw []byte) bool {
	start := p.i
	if !p.skip() {
		return false
	}
	p.rest = append(p.rest, raw...)
	p.rest = append(p.rest, ':')
	p.rest = append(p.rest, p.d[start:p.i]...)
	return true
}

// keepObject copies the key to rest and reads its value with object.
func (p *fastParser) keepObject(raw []byte, field func(key string, raw []byte) bool) bool {
	p.rest = append(p.rest, raw...)
	p.rest = append(p.rest, ':')
	return p.object(field)
}

// unlike reports whether key is one of names but for case, which encoding/json would match
// to the same field: such a document is left to encoding/json.
func unlike(key string, names ...string) bool {
	for _, n := range names {
		if key != n && strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

func (p *fastParser) top(key string, raw []byte) bool {
	if unlike(key, "jails", "history") {
		return false
	}
	switch key {
	case "jails", "history":
		k := 0
		if key == "history" {
			k = 1
		}
		if p.seen[k] || p.peek() != '{' {
			return false
		}
		p.seen[k] = true
		if key == "jails" {
			p.jails = map[string]*fastJail{}
			return p.keepObject(raw, p.jail)
		}
		return p.keepObject(raw, p.history)
	}
	return p.keep(raw)
}

// jail reads one jail of "jails".
func (p *fastParser) jail(name string, raw []byte) bool {
	if _, dup := p.jails[name]; dup || p.peek() != '{' {
		return false
	}
	pj := &fastJail{}
	p.jails[name] = pj
	return p.keepObject(raw, func(key string, raw []byte) bool {
		if unlike(key, "failures", "bans", "ban_history") {
			return false
		}
		if p.peek() != '"' || key != "failures" && key != "bans" && key != "ban_history" {
			return p.keep(raw)
		}
		v, ok := p.str()
		if !ok {
			return false
		}
		field := &pj.failures
		switch key {
		case "bans":
			field = &pj.bans
		case "ban_history":
			field = &pj.history
		}
		if *field != nil {
			return false // twice
		}
		*field = v
		return true
	})
}

// history reads the history object: its jails are read by histJail.
func (p *fastParser) history(key string, raw []byte) bool {
	if unlike(key, "jails") {
		return false
	}
	if key != "jails" {
		return p.keep(raw)
	}
	if p.hist != nil || p.peek() != '{' {
		return false
	}
	p.hist = map[string]*fastHist{}
	return p.keepObject(raw, func(name string, raw []byte) bool {
		if _, dup := p.hist[name]; dup || p.peek() != '{' {
			return false
		}
		ph := &fastHist{}
		p.hist[name] = ph
		return p.keepObject(raw, func(key string, raw []byte) bool {
			if unlike(key, "runs", "bans", "days", "ip_hours") {
				return false
			}
			switch {
			case (key == "days" || key == "ip_hours") && p.peek() == '{':
				field := &ph.days
				if key == "ip_hours" {
					field = &ph.ipHours
				}
				if *field != nil {
					return false
				}
				*field = map[int64]*IPCounts{}
				return p.ipCounts(*field)
			case key == "runs" && p.peek() == '[':
				if ph.runs != nil {
					return false
				}
				ph.runs = []Run{}
				return p.array(func() bool {
					var r Run
					if !p.eat('[') {
						return false
					}
					for k := range r {
						if k > 0 && !p.eat(',') {
							return false
						}
						var ok bool
						if r[k], ok = p.int(); !ok {
							return false
						}
					}
					ph.runs = append(ph.runs, r)
					return p.eat(']')
				})
			case key == "bans" && p.peek() == '[':
				if ph.bans != nil || ph.lazySpans != "" {
					return false
				}
				if p.lazy {
					// Sealed: a list of {"ip":"...","at":N,"end":N}, whose first ']' ends it.
					n := bytes.IndexByte(p.d[p.i:], ']')
					if n < 0 {
						return false
					}
					ph.lazySpans = unsafe.String(&p.d[p.i], n+1) // a view, as decodeJails keeps its texts
					p.i += n + 1
					return true
				}
				var ok bool
				ph.bans, ok = p.spans()
				return ok
			}
			return p.keep(raw)
		})
	})
}

// spans reads the history's list of ban spans.
func (p *fastParser) spans() ([]BanSpan, bool) {
	spans := []BanSpan{}
	ok := p.array(func() bool {
		var b BanSpan
		if !p.lit(`{"ip":`) {
			return false
		}
		ip, ok := p.str()
		if !ok || !p.lit(`,"at":`) {
			return false
		}
		if b.At, ok = p.int(); !ok || !p.lit(`,"end":`) {
			return false
		}
		if b.End, ok = p.int(); !ok || !p.eat('}') {
			return false
		}
		b.IP = string(ip[1 : len(ip)-1])
		spans = append(spans, b)
		return true
	})
	return spans, ok
}

// array reads an array, calling elem for each element.
func (p *fastParser) array(elem func() bool) bool {
	if !p.eat('[') {
		return false
	}
	if p.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if p.eat(',') {
			continue
		}
		return p.eat(']')
	}
}

func (p *fastParser) peek() byte {
	if p.i < len(p.d) {
		return p.d[p.i]
	}
	return 0
}

func (p *fastParser) eat(c byte) bool {
	if p.i < len(p.d) && p.d[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *fastParser) lit(s string) bool {
	if !bytes.HasPrefix(p.d[p.i:], []byte(s)) {
		return false
	}
	p.i += len(s)
	return true
}

// str reads a string of printable ASCII without escapes and returns it with its quotes.
func (p *fastParser) str() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start := p.i - 1
	for p.i < len(p.d) {
		if p.i+8 <= len(p.d) && plainWord(binary.LittleEndian.Uint64(p.d[p.i:])) {
			p.i += 8 // a state's strings are megabytes: 8 bytes at a time while all are plain
			continue
		}
		switch jsonByte[p.d[p.i]] {
		case quoteByte:
			p.i++
			return p.d[start:p.i], true
		case escapedByte:
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// plainWord reports whether the 8 bytes of w may all be passed over in a JSON string: none is
// '"', '\\', a control byte, DEL or not ASCII (jsonByte's quoteByte and escapedByte). It may say no
// for plain bytes (a borrow between bytes), never yes for others: the caller then looks at
// the bytes one by one.
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(x uint64) uint64 { return (x - ones) & ^x & highs } // high bit: a byte of x may be 0
	return (w&highs | (w-0x20*ones)&^w&highs | zero(w^'"'*ones) | zero(w^'\\'*ones) | zero(w^0x7f*ones)) == 0
}

// int reads an integer as JSON writes it (no leading zeros, no fraction or exponent) of at
// most 18 digits.
func (p *fastParser) int() (int64, bool) {
	neg := p.eat('-')
	start := p.i
	var v int64
	for p.i < len(p.d) && p.d[p.i] >= '0' && p.d[p.i] <= '9' {
		v = v*10 + int64(p.d[p.i]-'0')
		p.i++
	}
	n := p.i - start
	if n == 0 || n > 18 || n > 1 && p.d[start] == '0' {
		return 0, false
	}
	if c := p.peek(); c == '.' || c == 'e' || c == 'E' {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// skip passes over one value, which encoding/json checks later (it is copied to rest): it
// only has to find where the value ends.
func (p *fastParser) skip() bool {
	switch p.peek() {
	case '"':
		return p.skipString()
	case '{', '[':
		depth := 0
		for p.i < len(p.d) {
			switch p.d[p.i] {
			case '"':
				if !p.skipString() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					p.i++
					return true
				}
			}
			p.i++
		}
		return false
	}
	start := p.i
	for p.i < len(p.d) {
		switch p.d[p.i] {
		case ',', '}', ']', ' ', '\n', '\t', '\r':
			return p.i > start
		}
		p.i++
	}
	return false
}

func (p *fastParser) skipString() bool {
	p.i++
	for p.i < len(p.d) {
		switch p.d[p.i] {
		case '\\':
			p.i += 2
			continue
		case '"':
			p.i++
			return true
		}
		p.i++
	}
	return false
}
