package state

import (
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"
	"strings"
)

// A minute run over 100,000 bans need not decode them, nor their ban history, nor the
// history's 100,000 ban spans: LoadLazy of a sealed file (seal.go) keeps each of them as the
// text it was read from, with what a run must know of it (the earliest end of a ban, the
// earliest last ban of the history, the earliest end of a span). A failure reads and sets only
// its key's ban and record (BanOf, SetBan, BanRecordOf, SetBanRecord: a binary search of the
// sorted text, and a map of those set over it), bans that end and records to forget are cut
// out of the text (ExpireText, ForgetText), and Save writes each text merged with what was set.
// The firewall is handed a sum of the bans (BansSum), and what changed since the sum of the
// bans as loaded (BansChange), which nftables compares with what its cache was made for. What
// needs the maps (a prefix ban to look at, subnet aggregation) decodes them (State.DecodeBans);
// the spans decode themselves when a ban is recorded or pruning is due (JailHistory.spans).

// lazyBans is a jail's bans and ban history while they are the text LoadLazy read, or that
// text with the bans that ended and the records forgotten cut out of it (ExpireText,
// ForgetText), under the bans and records set since (SetBan, SetBanRecord), which Save
// merges into the text.
type lazyBans struct {
	bans, history string // "": none
	LazyBans
	set     map[string]Ban       // over the text's
	records map[string]BanRecord // over the text's
	// base is BansSum of the bans as LoadLazy read them, once they changed; lifted the keys
	// ExpireText cut since, and added those SetBan banned that were not banned.
	base          string
	lifted, added []string
	merged        string // the bans' text merged with set, while they have not changed since
}

// LazyBans is what a run must know of bans left as text.
type LazyBans struct {
	// N is the number of bans.
	N int
	// NextEnd is the earliest end of a ban that ends (math.MaxInt64: none does).
	NextEnd int64
	// Prefixes tells that a ban is of a prefix (a subnet), which ignoreip may lift.
	Prefixes bool
	// OldestRecord is the earliest last ban of the ban history (math.MaxInt64: no history),
	// which forget_after may drop.
	OldestRecord int64
}

// bansText notes the text of the jail's bans, as a sealed file holds it, and what a run must
// know of them and of those set over it.
func (l *lazyBans) bansText(text string) {
	l.bans, l.N, l.NextEnd, l.Prefixes, l.merged = text, 0, math.MaxInt64, false, ""
	note := func(key string, end int64) {
		l.N++
		l.Prefixes = l.Prefixes || strings.IndexByte(key, '/') >= 0
		if end >= 0 && end < l.NextEnd {
			l.NextEnd = end
		}
	}
	_ = eachPair(text, func(key, val string) error { // sealed: as Save wrote it
		if _, over := l.set[key]; !over {
			note(key, parseBan(val).End)
		}
		return nil
	})
	for key, b := range l.set {
		note(key, b.End)
	}
}

// parseBan reads a ban's value in a sealed file's text: start,length,count.
func parseBan(val string) Ban {
	start, rest := leadingInt(val)
	length, rest := leadingInt(rest[1:])
	count, _ := leadingInt(rest[1:])
	b := Ban{Start: start, End: -1, Count: int(count)}
	if length >= 0 {
		b.End = start + length
	}
	return b
}

// parseBanRecord reads a ban record's value in a sealed file's text: count,last.
func parseBanRecord(val string) BanRecord {
	count, rest := leadingInt(val)
	last, _ := leadingInt(rest[1:])
	return BanRecord{Count: int(count), Last: last}
}

// historyText is bansText for the ban history.
func (l *lazyBans) historyText(text string) {
	l.history, l.OldestRecord = text, math.MaxInt64
	note := func(last int64) { l.OldestRecord = min(l.OldestRecord, last) }
	_ = eachPair(text, func(key, val string) error {
		if _, over := l.records[key]; !over {
			note(parseBanRecord(val).Last)
		}
		return nil
	})
	for _, r := range l.records {
		note(r.Last)
	}
}

// changed notes the bans' sum before their first change.
func (j *Jail) changed() {
	if j.lb.base == "" {
		j.lb.base = j.BansSum()
	}
	j.lb.merged = ""
}

// BanOf returns key's ban, reading only key's of bans left as text (a binary search).
func (j *Jail) BanOf(key string) (Ban, bool) {
	if j.lb == nil {
		b, ok := j.Bans[key]
		return b, ok
	}
	if b, ok := j.lb.set[key]; ok {
		return b, true
	}
	if val, ok := findPair(j.lb.bans, key); ok {
		return parseBan(val), true
	}
	return Ban{}, false
}

// SetBan sets key's ban, over the text of bans left as text.
func (j *Jail) SetBan(key string, b Ban) {
	if j.lb == nil {
		if j.Bans == nil {
			j.Bans = Bans{}
		}
		j.Bans[key] = b
		return
	}
	_, had := j.BanOf(key)
	j.changed()
	if !had {
		j.lb.N++
		if i := slices.Index(j.lb.lifted, key); i >= 0 {
			j.lb.lifted = slices.Delete(j.lb.lifted, i, i+1) // lifted and banned again: as before
		} else {
			j.lb.added = append(j.lb.added, key)
		}
	}
	if j.lb.set == nil {
		j.lb.set = map[string]Ban{}
	}
	j.lb.set[key] = b
	// What a run must know, kept without reading the text again: NextEnd may stay that of a
	// ban this one replaced, earlier than the truth (ExpireText then finds none, and counts
	// it again).
	if b.End >= 0 && b.End < j.lb.NextEnd {
		j.lb.NextEnd = b.End
	}
	j.lb.Prefixes = j.lb.Prefixes || strings.IndexByte(key, '/') >= 0
}

// BanRecordOf returns key's ban record, reading only key's of a history left as text.
func (j *Jail) BanRecordOf(key string) (BanRecord, bool) {
	if j.lb == nil {
		r, ok := j.BanHistory[key]
		return r, ok
	}
	if r, ok := j.lb.records[key]; ok {
		return r, true
	}
	if val, ok := findPair(j.lb.history, key); ok {
		return parseBanRecord(val), true
	}
	return BanRecord{}, false
}

// SetBanRecord sets key's ban record, over the text of a history left as text.
func (j *Jail) SetBanRecord(key string, r BanRecord) {
	if j.lb == nil {
		if j.BanHistory == nil {
			j.BanHistory = BanHistory{}
		}
		j.BanHistory[key] = r
		return
	}
	if j.lb.records == nil {
		j.lb.records = map[string]BanRecord{}
	}
	j.lb.records[key] = r
	j.lb.OldestRecord = min(j.lb.OldestRecord, r.Last)
}

// leadingInt parses the decimal integer (a '-' allowed) at the start of s, as a sealed file
// writes it, and returns the rest of s.
func leadingInt(s string) (int64, string) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var v int64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		v = v*10 + int64(s[i]-'0')
	}
	if neg {
		v = -v
	}
	return v, s[i:]
}

// ExpiredBan is a ban ExpireText lifted.
type ExpiredBan struct {
	Key string
	Ban Ban
}

// ExpireText lifts, from bans left as text, those that end at or before now (never a permanent
// one): it cuts them out of the text, which stays text, and returns them, those of the text in
// its order, then those set since. A minute in which a few of 100,000 bans end need not decode
// them all.
func (j *Jail) ExpireText(now int64) []ExpiredBan {
	if j.lb == nil || now < j.lb.NextEnd {
		return nil
	}
	j.changed()
	var out []ExpiredBan
	ended := func(key string, b Ban) bool {
		if b.Permanent() || b.End > now {
			return false
		}
		out = append(out, ExpiredBan{key, b})
		if i := slices.Index(j.lb.added, key); i >= 0 {
			j.lb.added = slices.Delete(j.lb.added, i, i+1) // banned and lifted: as before
		} else {
			j.lb.lifted = append(j.lb.lifted, key)
		}
		return true
	}
	var gone map[string]bool // set over the text's, and ended: the text's goes too
	for _, key := range slices.Sorted(maps.Keys(j.lb.set)) {
		if ended(key, j.lb.set[key]) {
			delete(j.lb.set, key)
			if gone == nil {
				gone = map[string]bool{}
			}
			gone[key] = true
		}
	}
	kept := cutPairs(j.lb.bans, func(key, val string) bool {
		if _, over := j.lb.set[key]; over { // written from set when merged
			return false
		}
		return gone[key] || ended(key, parseBan(val))
	})
	j.lb.bansText(kept)
	return out
}

// ForgetText drops, from a ban history left as text, the records whose last ban is at or
// before before.
func (j *Jail) ForgetText(before int64) {
	if j.lb == nil || before < j.lb.OldestRecord {
		return
	}
	gone := map[string]bool{} // set over the text's, and forgotten: the text's goes too
	for key, r := range j.lb.records {
		if r.Last <= before {
			delete(j.lb.records, key)
			gone[key] = true
		}
	}
	j.lb.historyText(cutPairs(j.lb.history, func(key, val string) bool {
		if _, over := j.lb.records[key]; over {
			return false
		}
		return gone[key] || parseBanRecord(val).Last <= before
	}))
}

// cutPairs returns text, a sealed file's "key=value ..." in order, without the pairs for which
// cut is true.
func cutPairs(text string, cut func(key, val string) bool) string {
	var b strings.Builder
	b.Grow(len(text))
	_ = eachPair(text, func(key, val string) error {
		if !cut(key, val) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(key)
			b.WriteByte('=')
			b.WriteString(val)
		}
		return nil
	})
	return b.String()
}

// BansChange reports, for bans left as text that changed, BansSum of the bans as LoadLazy read
// them, the keys banned since that were not, and those ExpireText lifted since: the
// firewall, which may hold the former, need only add and delete these. ok is false when
// nothing changed, or the bans are decoded.
func (j *Jail) BansChange() (base string, added, lifted []string, ok bool) {
	if j.lb == nil || j.lb.base == "" {
		return "", nil, nil, false
	}
	return j.lb.base, j.lb.added, j.lb.lifted, true
}

// bansMerged returns the text of bans left as text, merged with those set since.
func (l *lazyBans) bansMerged() string {
	if len(l.set) == 0 {
		return l.bans
	}
	if l.merged == "" {
		l.merged = stringOf(mergePairs(make([]byte, 0, len(l.bans)+48*len(l.set)), l.bans, l.set, appendBan, nil))
	}
	return l.merged
}

// historyMerged is bansMerged for the ban history.
func (l *lazyBans) historyMerged() string {
	if len(l.records) == 0 {
		return l.history
	}
	return stringOf(mergePairs(make([]byte, 0, len(l.history)+40*len(l.records)), l.history, l.records, appendBanRecord, nil))
}

// LazyBans reports what a run must know of the jail's bans and ban history while they are the
// text LoadLazy read; ok is false when they are decoded (or there are none left as text).
func (j *Jail) LazyBans() (info LazyBans, ok bool) {
	if j.lb == nil {
		return LazyBans{}, false
	}
	return j.lb.LazyBans, true
}

// BansSum is a sum of the jail's bans while they are the text LoadLazy read (see LazyBans), or
// while there are none, the same in every process for the same bans; "" when they are decoded.
func (j *Jail) BansSum() string {
	var b []byte
	switch {
	case j.lb != nil:
		b = bytesOf(j.lb.bansMerged())
	case len(j.Bans) > 0:
		return ""
	}
	return fmt.Sprintf("%08x%08x-%d", crc32.Checksum(b, castagnoli), crc32.ChecksumIEEE(b), len(b))
}

// EachBan calls fn with each ban, in no order, without decoding the bans LoadLazy left as text
// into a map: 100,000 bans are 8 MB as a map, for a firewall that wants only their prefixes.
// Reading only, as DecodedBans, so that it may run while the state is saved.
func (j *Jail) EachBan(fn func(key string, b Ban)) {
	if j.lb == nil {
		for k, b := range j.Bans {
			fn(k, b)
		}
		return
	}
	_ = eachPair(j.lb.bans, func(key, val string) error { // sealed: as Save wrote it
		if _, set := j.lb.set[key]; !set {
			fn(key, parseBan(val))
		}
		return nil
	})
	for k, b := range j.lb.set {
		fn(k, b)
	}
}

// DecodedBans returns the jail's bans, decoded from their text when LoadLazy left them so,
// without changing the jail: a copy, read only, which may be made while the state is saved
// (the metrics' count of bans in force, when some ended; the firewall reads EachBan).
func (j *Jail) DecodedBans() Bans {
	if j.lb == nil {
		return j.Bans
	}
	var m Bans
	_ = m.fromText(j.lb.bans) // sealed: as Save wrote it
	maps.Copy(m, j.lb.set)
	return m
}

// DecodeBans decodes every jail's bans and ban history that LoadLazy left as text: a run
// calls it before anything may read or change them (the first failure it applies, a ban that
// ends, a ban history to forget). They are written back as the text they were read from while
// they stay the same.
func (s *State) DecodeBans() {
	for _, j := range s.Jails {
		if j == nil || j.lb == nil {
			continue
		}
		lb := j.lb
		j.lb = nil
		for _, m := range []struct {
			text string
			key  any
			dst  interface {
				decodeText(string, bool) (uint64, error)
			}
		}{{lb.bans, &j.Bans, &j.Bans}, {lb.history, &j.BanHistory, &j.BanHistory}} {
			if m.text == "" {
				continue
			}
			sum, _ := m.dst.decodeText(m.text, true) // sealed: as Save wrote it
			if s.kept == nil {
				s.kept = map[any]keptText{}
			}
			s.kept[m.key] = keptText{text: m.text, sum: sum}
		}
		j.init()
		maps.Copy(j.Bans, lb.set) // a sum then tells the maps from the texts
		maps.Copy(j.BanHistory, lb.records)
	}
}

// lazySpansEnd returns the earliest end among the spans of raw (a JSON list of them, as a sealed
// file holds it) that end (math.MaxInt64: none).
func lazySpansEnd(raw string) int64 {
	const key = `,"end":`
	next := int64(math.MaxInt64)
	for rest := raw; ; {
		i := strings.Index(rest, key)
		if i < 0 {
			return next
		}
		rest = rest[i+len(key):]
		if end, _ := leadingInt(rest); end >= 0 && end < next {
			next = end
		}
	}
}

// spans returns the history's ban spans, decoding them first if LoadLazy left them as text.
// Code of this package that reads or changes them goes through it.
func (j *JailHistory) spans() []BanSpan {
	if j.lazySpans != "" {
		p := &fastParser{d: bytesOf(j.lazySpans)} // read only
		spans, ok := p.spans()
		if !ok {
			panic("state: sealed ban spans do not decode") // sealed: as Save wrote them
		}
		j.Bans, j.lazySpans, j.tail, j.latest = append(spans, j.tail...), "", nil, nil
	}
	return j.Bans
}

// appendSpan appends s to spans left as text, and reports whether it did: only when no span
// of its address is active at now (Recorder.closeBan would have one to end), so that a run
// that bans need not decode 100,000 spans to append its own.
func (j *JailHistory) appendSpan(s BanSpan, now int64) bool {
	if j.lazySpans == "" {
		return false
	}
	if j.latest == nil {
		j.latest = latestSpans(j.lazySpans)
	}
	if l, ok := j.latest[s.IP]; ok && l.activeAt(now) {
		return false
	}
	j.tail = append(j.tail, s)
	j.latest[s.IP] = spanTimes{s.At, s.End}
	if s.End >= 0 {
		j.spansEnd = min(j.spansEnd, s.End)
	}
	return true
}

// spanTimes are a BanSpan's times, what latestSpans keeps of an address's latest span.
type spanTimes struct{ at, end int64 }

func (t spanTimes) activeAt(now int64) bool { return BanSpan{At: t.at, End: t.end}.ActiveAt(now) }

// latestSpans returns the times of the latest span of each address in raw, a JSON list of
// spans as a sealed file holds it (in the order they were recorded), by address (views of
// raw). The map is sized once from the spans' count: 100,000 addresses are 4 MB, not the
// 17 MB that a map of whole spans allocated as it grew.
func latestSpans(raw string) map[string]spanTimes {
	const ipKey, atKey, endKey = `{"ip":"`, `","at":`, `,"end":`
	m := make(map[string]spanTimes, strings.Count(raw, ipKey))
	for rest := raw; ; {
		i := strings.Index(rest, ipKey)
		if i < 0 {
			return m
		}
		rest = rest[i+len(ipKey):]
		ip, after, _ := strings.Cut(rest, atKey)
		at, after := leadingInt(after)
		end, after := leadingInt(strings.TrimPrefix(after, endKey))
		m[ip] = spanTimes{at, end}
		rest = after
	}
}
