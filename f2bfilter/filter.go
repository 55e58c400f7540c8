package f2bfilter

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Filter is a compiled filter.d filter. It is immutable and safe for concurrent use; the
// state of multi-line matching lives in a Matcher.
type Filter struct {
	Def      *Definition
	pref     *compiled
	fail     []*compiled
	ignore   []*compiled
	dates    *dateDetector
	maxLines int
}

// Pattern is one regex of a filter as `check` and `regex` show it.
type Pattern struct {
	Role   string // "prefregex", "failregex", "ignoreregex"
	Source Source // as resolved, tags not expanded
	Engine string // EngineRE2 or EngineBacktrack
	// Literal is an RE2 regex that matches wherever this one does (the regex itself when it
	// is RE2; with lookarounds dropped otherwise; "" when there is none): to find literals
	// a line must contain.
	Literal string
}

// Load reads a filter.d file (see ReadDefinition) and compiles it. A regex that neither
// engine compiles is an error naming the file, the line and the regex.
func Load(file string, opts map[string]string, readFile func(string) ([]byte, error)) (*Filter, error) {
	def, err := ReadDefinition(file, opts, readFile)
	if err != nil {
		return nil, err
	}
	return Compile(def)
}

// Compile compiles a Definition.
func Compile(def *Definition) (*Filter, error) {
	f := &Filter{Def: def, maxLines: def.MaxLines}
	at := func(s Source, role string, err error) error {
		if s.Line > 0 {
			return fmt.Errorf("%s:%d: %s %q: %w", s.File, s.Line, role, s.Text, err)
		}
		return fmt.Errorf("%s: %s %q: %w", s.File, role, s.Text, err)
	}
	if def.PrefRegex != nil {
		c, err := compileRegex(expandTags(def.PrefRegex.Text))
		if err != nil {
			return nil, at(*def.PrefRegex, "prefregex", err)
		}
		f.pref = c
	}
	for _, s := range def.FailRegex {
		c, err := compileRegex(expandTags(s.Text))
		if err != nil {
			return nil, at(s, "failregex", err)
		}
		if !hasFailureID(c) && (f.pref == nil || !hasFailureID(f.pref)) {
			return nil, at(s, "failregex", errors.New("no failure-id group (<HOST>, <ADDR>, <F-ID>, <F-MLFID>, ...)"))
		}
		f.fail = append(f.fail, c)
	}
	if len(f.fail) == 0 {
		return nil, fmt.Errorf("%s: no failregex", def.File)
	}
	for _, s := range def.IgnoreRegex {
		c, err := compileRegex(expandTags(s.Text))
		if err != nil {
			return nil, at(s, "ignoreregex", err)
		}
		f.ignore = append(f.ignore, c)
	}
	d, err := newDateDetector(def.DatePattern)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", def.File, err)
	}
	f.dates = d
	return f, nil
}

func hasFailureID(c *compiled) bool {
	for _, n := range c.names {
		switch n {
		case "fid", "ip4", "ip6", "dns", "mlfid":
			return true
		}
	}
	return false
}

// Patterns lists the prefregex, failregexes and ignoreregexes with their engines.
func (f *Filter) Patterns() []Pattern {
	var out []Pattern
	if f.pref != nil {
		out = append(out, Pattern{"prefregex", *f.Def.PrefRegex, f.pref.engine, f.pref.literal()})
	}
	for i, c := range f.fail {
		out = append(out, Pattern{"failregex", f.Def.FailRegex[i], c.engine, c.literal()})
	}
	for i, c := range f.ignore {
		out = append(out, Pattern{"ignoreregex", f.Def.IgnoreRegex[i], c.engine, c.literal()})
	}
	return out
}

// MaxLines is the filter's maxlines (1: every line on its own).
func (f *Filter) MaxLines() int { return f.maxLines }

// Failure is one failure a line (with the lines before it, for multi-line filters) shows.
type Failure struct {
	Pattern int        // index into the failregexes
	Host    string     // the failure id as written: the address, host name or <F-ID>
	Addr    netip.Addr // Host as an address; invalid when Host is not one
	Time    time.Time  // zero when the line has no date the datepattern reads
	Groups  map[string]string
}

// Result is what one line yields.
type Result struct {
	Failures []Failure
	Ignored  bool // a failregex matched, and an ignoreregex too
	Pattern  int  // on Ignored: the failregex the ignoreregex overrode
	NoFail   bool // a failregex matched without a failure (<F-NOFAIL>, or waiting for <F-MLFID>'s host)
}

// tupleLine is a line split around its date, as fail2ban keeps it.
type tupleLine struct{ pre, date, post string }

func (t tupleLine) text() string { return t.pre + t.post }

// Matcher matches lines one after the other, keeping what multi-line filters need: the last
// maxlines lines and the <F-MLFID> groups. It is not safe for concurrent use.
type Matcher struct {
	f        *Filter
	checkAll bool
	buf      []tupleLine
	lastDate time.Time
	lastText string
	mlfid    map[string]map[string]string
	pre      func([]byte) bool // see SetPrefilter
	noTime   bool              // see SkipTime
	dateHint int               // the date template that matched last (-1: none)
	one      [1]tupleLine      // the buffer of a filter with maxlines 1
}

// NewMatcher returns a Matcher. checkAll tries every failregex on a line, as fail2ban's test
// suite does, instead of stopping at the first match.
func (f *Filter) NewMatcher(checkAll bool) *Matcher {
	return &Matcher{f: f, checkAll: checkAll, mlfid: map[string]map[string]string{}, dateHint: -1}
}

// SetPrefilter gives m a quick test that a line (less its date) must pass to possibly match,
// built from the Literal of the patterns; it is used only when the filter reads one line at
// a time (maxlines 1), where skipping a line changes nothing for the next. pre must not keep
// the bytes it is given: they may be the caller's buffer (see LineBytes).
func (m *Matcher) SetPrefilter(pre func([]byte) bool) {
	if m.f.maxLines == 1 {
		m.pre = pre
	}
}

// SkipTime makes Line find only where the date is, leaving Failure.Time zero, for callers
// that read the time of a matched line with Filter.Time: parsing every line's date is most of
// the cost of a line that does not match.
func (m *Matcher) SkipTime() { m.noTime = true }

// Line matches one line (without its newline) read at now; loc is the zone of dates without one.
func (m *Matcher) Line(line string, now time.Time, loc *time.Location) Result {
	d, found := m.f.dates.detect(line, now, loc, &m.dateHint, m.noTime)
	return m.line(line, d, found, now)
}

// LineBytes is Line for a line in a buffer of the caller's: with a prefilter set, the lines it
// turns away (most of them) are not copied. Nothing of line is kept after it returns.
func (m *Matcher) LineBytes(line []byte, now time.Time, loc *time.Location) Result {
	if m.pre == nil {
		return m.Line(string(line), now, loc)
	}
	view := bytesString(line) // not kept: see below
	d, found := m.f.dates.detect(view, now, loc, &m.dateHint, m.noTime)
	text := line
	if found {
		switch {
		case d.start == 0:
			text = line[d.end:]
		case d.start < d.end:
			text = append(append([]byte(nil), line[:d.start]...), line[d.end:]...)
		}
	}
	if !m.pre(text) {
		// what Line keeps of a line process turns away: its date, copied
		if found && d.start != d.end && d.ok {
			m.lastDate, m.lastText = d.time, strings.Clone(view[d.start:d.end])
		}
		m.buf = nil
		return Result{}
	}
	return m.line(string(line), d, found, now)
}

// line matches line, whose date detect found (or not).
func (m *Matcher) line(line string, d date, found bool, now time.Time) Result {
	var (
		tl   = tupleLine{post: line}
		when time.Time
	)
	if found {
		tl = tupleLine{line[:d.start], line[d.start:d.end], line[d.end:]}
		switch {
		case d.start == d.end: // {NONE}
			if !m.lastDate.IsZero() && m.lastDate.After(now.Add(-time.Minute)) {
				tl.date, when = m.lastText, m.lastDate
			} else {
				when = now
			}
		case d.ok:
			when = d.time
			m.lastDate, m.lastText = d.time, tl.date
		}
	}
	if when.IsZero() && !m.lastDate.IsZero() && m.lastDate.After(now.Add(-time.Minute)) {
		when = m.lastDate
	}
	return m.process(tl, when)
}

// Entry matches a journal entry's message: the journal gives the time, no date is looked for.
func (m *Matcher) Entry(line string, when time.Time) Result {
	return m.process(tupleLine{post: line}, when)
}

func (m *Matcher) process(tl tupleLine, when time.Time) Result {
	f := m.f
	var org []tupleLine
	if f.maxLines > 1 {
		m.buf = append(m.buf, tl)
		if len(m.buf) > f.maxLines {
			m.buf = append([]tupleLine(nil), m.buf[len(m.buf)-f.maxLines:]...)
		}
		org = m.buf
	} else {
		m.one[0] = tl
		org = m.one[:]
		m.buf = org
	}
	buf := joinLines(org)
	var res Result
	if m.pre != nil && !m.pre(stringBytes(buf)) {
		return res
	}
	var pre map[string]string
	if f.pref != nil {
		pm, err := f.pref.find(buf)
		if err != nil || pm == nil {
			return res
		}
		pre = pm.groups
		if c := pre["content"]; c != "" {
			m.buf = []tupleLine{{post: c}}
			buf = c
		}
		delete(pre, "content")
	}
	for i, re := range f.fail {
		if buf == "" && i > 0 {
			buf = joinLines(m.buf)
		}
		fm, err := re.find(buf)
		if err != nil || fm == nil {
			continue
		}
		fail := fm.groups
		if fail == nil {
			fail = map[string]string{}
		}
		applyAlt(fail)
		if m.ignored(buf) {
			res.Ignored, res.Pattern = true, i
			buf = joinLines(m.buf)
			if !m.checkAll {
				break
			}
			continue
		}
		if !m.checkAll || f.maxLines > 1 {
			m.buf = unmatched(org, buf, fm)
			buf = ""
		}
		if len(pre) > 0 {
			merged := make(map[string]string, len(pre)+len(fail))
			for k, v := range pre {
				merged[k] = v
			}
			for k, v := range fail {
				merged[k] = v
			}
			fail = merged
		}
		mlfid, hasMLFID := fail["mlfid"]
		if hasMLFID {
			fail = m.merge(mlfid, fail)
			if fail["nofail"] != "" {
				res.NoFail = true
				if !m.checkAll {
					return res
				}
				continue
			}
		} else if _, ok := fail["nofail"]; ok && fail["nofail"] != "" {
			res.NoFail = true
			if !m.checkAll {
				break
			}
			continue
		}
		host, ok := "", false
		for _, k := range []string{"ip4", "ip6", "dns"} {
			if v, present := fail[k]; present {
				host, ok = v, true
				break
			}
		}
		fid, hasFID := fail["fid"]
		if !ok && !hasFID && !hasMLFID {
			fid, hasFID = "", false
		}
		if !ok && !hasFID {
			fail["mlfpending"] = "1"
			res.NoFail = true
			if !m.checkAll {
				break
			}
			continue
		}
		if hasFID && fid != host {
			host = fid
		}
		addr, _ := netip.ParseAddr(host)
		res.Failures = append(res.Failures, Failure{Pattern: i, Host: host, Addr: addr.Unmap(), Time: when, Groups: fail})
		if !m.checkAll {
			break
		}
	}
	return res
}

func (m *Matcher) ignored(buf string) bool {
	for _, ig := range m.f.ignore {
		if ok, _ := ig.matches(buf); ok {
			return true
		}
	}
	return false
}

func joinLines(lines []tupleLine) string {
	if len(lines) == 1 {
		return lines[0].text()
	}
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = l.text()
	}
	return strings.Join(parts, "\n")
}

// applyAlt is Regex._getGroupsWithAlt for alt_ groups: alt_user1 fills user when empty.
func applyAlt(fail map[string]string) {
	var alts []string
	for k := range fail {
		if strings.HasPrefix(k, "alt_") {
			alts = append(alts, k)
		}
	}
	sort.Strings(alts)
	for _, k := range alts {
		n := strings.TrimRight(strings.TrimPrefix(k, "alt_"), "0123456789")
		n = strings.TrimSuffix(n, "_")
		n = groupName(n)
		if v := fail[k]; v != "" && fail[n] == "" {
			fail[n] = v
		}
	}
}

// unmatched is the buffer's lines outside the match (and the lines <SKIPLINES> skipped).
func unmatched(org []tupleLine, buf string, fm *match) []tupleLine {
	if len(org) <= 1 {
		return nil
	}
	startLine := strings.Count(buf[:fm.start], "\n")
	endAt := fm.end
	if endAt > 0 {
		endAt--
	}
	endLine := strings.Count(buf[:endAt], "\n") + 1
	if i := strings.IndexByte(buf[endAt:], '\n'); i < 0 {
		endLine = strings.Count(buf, "\n") + 1
	}
	if endLine > len(org) {
		endLine = len(org)
	}
	if startLine > endLine {
		startLine = endLine
	}
	out := append([]tupleLine(nil), org[:startLine]...)
	matched := append([]tupleLine(nil), org[startLine:endLine]...)
	for n := 0; ; n++ {
		sk, ok := fm.groups[fmt.Sprintf("skiplines%d", n)]
		if !ok {
			break
		}
		for _, s := range strings.Split(strings.TrimSuffix(sk, "\n"), "\n") {
			for j, l := range matched {
				if l.text() == s {
					out = append(out, l)
					matched = append(matched[:j], matched[j+1:]...)
					break
				}
			}
		}
	}
	return append(out, org[endLine:]...)
}

const usersKey = "\x00users"

// merge is Filter._mergeFailure: the groups of lines with the same <F-MLFID> are merged;
// <F-MLFFORGET> ends the group; <F-NOFAIL> and <F-MLFGAINED> decide whether it is a failure.
func (m *Matcher) merge(mlfid string, fail map[string]string) map[string]string {
	cached := m.mlfid[mlfid]
	flags := 0
	if g := fail["mlfgained"]; g != "" {
		flags |= 8 | 1
		if fail["nofail"] == "" {
			fail["nofail"] = g
		}
	} else if fail["nofail"] != "" {
		flags |= 1
	}
	if fail["mlfforget"] != "" {
		flags |= 2
	}
	delete(fail, "mlfforget")
	var users int
	if cached != nil {
		users = addUser(cached, fail["user"])
		if cached["nofail"] != "" {
			flags |= 4
		}
		delete(cached, "nofail")
		if cached["mlfgained"] != "" {
			flags |= 4
		}
		delete(cached, "mlfgained")
		if flags&8 != 0 {
			delete(cached, "mlfpending")
		}
		for k, v := range fail {
			cached[k] = v
		}
		fail = cached
		if flags&2 != 0 {
			delete(m.mlfid, mlfid)
		}
	} else if flags&2 == 0 {
		users = addUser(fail, fail["user"])
		m.mlfid[mlfid] = fail
	}
	if fail["mlfpending"] != "" || users > 1 {
		delete(fail, "mlfpending")
		delete(fail, "nofail")
		delete(fail, "mlfgained")
	} else {
		delete(fail, "mlfpending")
	}
	return fail
}

// addUser adds user to the set kept in fail and returns its size.
func addUser(fail map[string]string, user string) int {
	set := fail[usersKey]
	if user != "" && !contains(strings.Split(set, "\n"), user) {
		if set != "" {
			set += "\n"
		}
		set += user
		fail[usersKey] = set
	}
	if set == "" {
		return 0
	}
	return strings.Count(set, "\n") + 1
}

// TimeBytes is Time for a line in a buffer of the caller's, which it does not keep.
func (f *Filter) TimeBytes(line []byte, now time.Time, loc *time.Location) (time.Time, bool) {
	return f.Time(bytesString(line), now, loc)
}

// Time reads line's date with the filter's datepattern: ok is false when no template matches
// or the date does not parse. now and loc are as for Matcher.Line.
func (f *Filter) Time(line string, now time.Time, loc *time.Location) (time.Time, bool) {
	d, ok := f.dates.detect(line, now, loc, nil, false)
	if !ok || !d.ok {
		return time.Time{}, false
	}
	if d.start == d.end { // {NONE}
		return now, true
	}
	return d.time, true
}
