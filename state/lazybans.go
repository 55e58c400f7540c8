package state

import (
	"fmt"
	"hash/crc32"
	"math"
	"strings"
)

// A minute run with nothing new over 100,000 bans need not decode them, nor their ban history,
// nor the history's 100,000 ban spans, only to write the same text back: LoadLazy of a sealed
// file (seal.go) keeps each of them as the text it was read from, with what a run must know of
// it to tell whether it changes (the earliest end of a ban, the earliest last ban of the
// history, the earliest end of a span). A run that has anything to do with the bans (a
// failure, a ban that ends, a history to prune) decodes them first (State.DecodeBans, and
// JailHistory.spans for the spans, which decodes itself); one that has not writes the texts
// back as they were and hands the firewall a sum of them (BansSum), which nftables compares
// with the one it applied last.

// lazyBans is a jail's bans and ban history while they are the text LoadLazy read, or that
// text with the bans that ended and the records forgotten cut out of it (ExpireText,
// ForgetText).
type lazyBans struct {
	bans, history string // "": none
	LazyBans
	// base is BansSum of the bans as LoadLazy read them, once ExpireText cut some, and lifted
	// the keys it cut since.
	base   string
	lifted []string
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
// know of it.
func (l *lazyBans) bansText(text string) {
	l.bans, l.N, l.NextEnd, l.Prefixes = text, 0, math.MaxInt64, false
	_ = eachPair(text, func(key, val string) error { // sealed: as Save wrote it
		l.N++
		if strings.IndexByte(key, '/') >= 0 {
			l.Prefixes = true
		}
		start, rest := leadingInt(val)
		if length, _ := leadingInt(rest[1:]); length >= 0 && start+length < l.NextEnd {
			l.NextEnd = start + length
		}
		return nil
	})
}

// historyText is bansText for the ban history.
func (l *lazyBans) historyText(text string) {
	l.history, l.OldestRecord = text, math.MaxInt64
	_ = eachPair(text, func(_, val string) error {
		_, rest := leadingInt(val)
		if last, _ := leadingInt(rest[1:]); last < l.OldestRecord {
			l.OldestRecord = last
		}
		return nil
	})
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
// one): it cuts them out of the text, which stays text, and returns them in the text's order.
// A minute in which a few of 100,000 bans end need not decode them all.
func (j *Jail) ExpireText(now int64) []ExpiredBan {
	if j.lb == nil || now < j.lb.NextEnd {
		return nil
	}
	var out []ExpiredBan
	kept := cutPairs(j.lb.bans, func(key, val string) bool {
		start, rest := leadingInt(val)
		length, rest := leadingInt(rest[1:])
		if length < 0 || start+length > now {
			return false
		}
		count, _ := leadingInt(rest[1:])
		out = append(out, ExpiredBan{key, Ban{Start: start, End: start + length, Count: int(count)}})
		return true
	})
	if j.lb.base == "" {
		j.lb.base = j.BansSum()
	}
	for _, e := range out {
		j.lb.lifted = append(j.lb.lifted, e.Key)
	}
	j.lb.bansText(kept)
	return out
}

// ForgetText drops, from a ban history left as text, the records whose last ban is at or
// before before.
func (j *Jail) ForgetText(before int64) {
	if j.lb == nil || before < j.lb.OldestRecord {
		return
	}
	j.lb.historyText(cutPairs(j.lb.history, func(_, val string) bool {
		_, rest := leadingInt(val)
		last, _ := leadingInt(rest[1:])
		return last <= before
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

// LiftedText reports, for bans left as text from which ExpireText cut some, BansSum of the
// bans as LoadLazy read them and the keys cut since: the firewall, which may hold the former,
// need only delete the latter. ok is false when nothing was cut, or the bans are decoded.
func (j *Jail) LiftedText() (base string, lifted []string, ok bool) {
	if j.lb == nil || j.lb.base == "" {
		return "", nil, false
	}
	return j.lb.base, j.lb.lifted, true
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
		b = bytesOf(j.lb.bans)
	case len(j.Bans) > 0:
		return ""
	}
	return fmt.Sprintf("%08x%08x-%d", crc32.Checksum(b, castagnoli), crc32.ChecksumIEEE(b), len(b))
}

// DecodedBans returns the jail's bans, decoded from their text when LoadLazy left them so,
// without changing the jail: the firewall's copy, read while the state is saved.
func (j *Jail) DecodedBans() Bans {
	if j.lb == nil {
		return j.Bans
	}
	var m Bans
	_ = m.fromText(j.lb.bans) // sealed: as Save wrote it
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
		j.Bans, j.lazySpans = spans, ""
	}
	return j.Bans
}
