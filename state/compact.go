package state

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The three per-address maps of a jail are written as one JSON string each, not as JSON
// objects: a botnet leaves 100,000 addresses in them, and an object with a key, braces, field
// names and one JSON number per failure time costs three times the bytes and a decoder that
// allocates per value. Each string is a space-separated list of key=fields, sorted by key (so
// that an unchanged state encodes to the same bytes):
//
//	failures     "~192.0.2.7=tkhz40,1o,5"       after the "~", the first time, then each next as
//	                                            the delta to the one before (ascending, so never
//	                                            negative), in base 36 (digits, then a to z)
//	bans         "192.0.2.7=1786752000,3600,2"  start, length (-1: permanent), count
//	ban_history  "192.0.2.7=2,1786752000"       count, start of the last ban
//
// The failures hold most of the numbers of a big state (ten times per address), so they are
// written in base 36: a time of the day before now takes 6 characters instead of 10, a delta
// of hours 3 instead of 5 (schema 3: 100,000 addresses x 10 failures, 6.95 MB in decimal,
// 5.4 MB). The "~", which no key starts with, says so: schema 2 wrote them in decimal without
// it, and the reader takes both. Schema 1 wrote all three as JSON objects; UnmarshalJSON
// reads that form too.

// Failures maps a key (an address or a prefix) to the unix seconds of its counted failures,
// ascending.
type Failures map[string][]int64

// Bans maps a key to its active ban.
type Bans map[string]Ban

// BanHistory maps a key to its past bans.
type BanHistory map[string]BanRecord

// MarshalText writes the failures as "~key=first,delta,delta ..." sorted by key, in base 36.
func (f Failures) MarshalText() ([]byte, error) { return f.appendText(nil), nil }

// radixMark starts the failures written in base 36.
const radixMark = '~'

func (f Failures) appendText(b []byte) []byte { return f.appendTextIn(b, nil) }

func (f Failures) appendTextIn(b []byte, o *keyOrder) []byte {
	b = append(b, radixMark)
	return appendSorted(b, f, appendFailureTimes, o)
}

// appendFailureTimes appends the value of one key of the failures' text: the first time, then
// each next as the seconds after the one before, in base 36.
func appendFailureTimes(b []byte, ts []int64) []byte {
	prev := int64(0)
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, t-prev, 36)
		prev = t
	}
	return b
}

// MarshalText writes the bans as "key=start,length,count" (length -1: permanent).
func (m Bans) MarshalText() ([]byte, error) { return m.appendText(nil), nil }

func (m Bans) appendText(b []byte) []byte { return m.appendTextIn(b, nil) }

func (m Bans) appendTextIn(b []byte, o *keyOrder) []byte { return appendSorted(b, m, appendBan, o) }

// appendBan appends the value of one key of the bans' text.
func appendBan(b []byte, v Ban) []byte {
	b = strconv.AppendInt(b, v.Start, 10)
	b = append(b, ',')
	if v.End < 0 {
		b = append(b, "-1"...)
	} else {
		b = strconv.AppendInt(b, v.End-v.Start, 10)
	}
	b = append(b, ',')
	return strconv.AppendInt(b, int64(v.Count), 10)
}

// MarshalText writes the ban history as "key=count,last".
func (m BanHistory) MarshalText() ([]byte, error) { return m.appendText(nil), nil }

func (m BanHistory) appendText(b []byte) []byte { return m.appendTextIn(b, nil) }

func (m BanHistory) appendTextIn(b []byte, o *keyOrder) []byte {
	return appendSorted(b, m, appendBanRecord, o)
}

// appendBanRecord appends the value of one key of the ban history's text.
func appendBanRecord(b []byte, v BanRecord) []byte {
	b = strconv.AppendInt(b, int64(v.Count), 10)
	b = append(b, ',')
	return strconv.AppendInt(b, v.Last, 10)
}

// UnmarshalJSON reads the string MarshalText writes, or a schema 1 object of arrays.
func (f *Failures) UnmarshalJSON(data []byte) error { return unmarshalCompact(data, f, f.fromText) }

// appendTimes appends to dst the times of one key's failures, val ("first,delta,..." in base).
func appendTimes(dst []int64, val string, base int) ([]int64, error) {
	start := len(dst)
	prev := int64(0)
	for val != "" {
		var num string
		num, val, _ = strings.Cut(val, ",")
		d, err := parseIntBase(num, base)
		if err != nil {
			return dst, err
		}
		if d < 0 && len(dst) > start {
			return dst, errors.New("timestamps not ascending")
		}
		prev += d
		dst = append(dst, prev)
	}
	if len(dst) == start {
		return dst, errors.New("no times")
	}
	return dst, nil
}

// unmarshalCompact reads into dst the JSON string of a compact map (with fromText) or, from a
// schema 1 file, the JSON object.
func unmarshalCompact[M ~map[string]V, V any](data []byte, dst *M, fromText func(string) error) error {
	if data[0] != '"' {
		var v map[string]V // not M, whose UnmarshalJSON this is
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		*dst = v
		return nil
	}
	s, err := unquote(data)
	if err != nil {
		return err
	}
	return fromText(s)
}

// fromText reads the text MarshalText writes.
func (f *Failures) fromText(s string) error { _, err := f.decodeText(s, false); return err }

// decodeText reads the text MarshalText writes; with check, it also checks every key
// (checkIPKey) and returns the map's sum, while the text is at hand: done later over the map,
// both walk 100,000 strings scattered in memory.
func (f *Failures) decodeText(s string, check bool) (uint64, error) {
	var sum uint64
	pairs := 0
	base := 10 // schema 2
	if s != "" && s[0] == radixMark {
		base, s = 36, s[1:]
	}
	n := strings.Count(s, ",") + strings.Count(s, "=")
	all := make([]int64, 0, n) // one array for every time: no allocation per key
	m := make(Failures, strings.Count(s, "="))
	err := eachPair(s, func(key, val string) error {
		start := len(all)
		var err error
		if all, err = appendTimes(all, val, base); err != nil {
			return err
		}
		ts := all[start:len(all):len(all)] // full: an append or insert copies, never overwrites the next key's
		if check {
			if err := checkIPKey(key); err != nil {
				return err
			}
			sum += failuresEntrySum(key, ts)
			pairs++
		}
		m[key] = ts
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("failures: %w", err)
	}
	if check && pairs != len(m) { // a key written twice (by hand): the map holds the last
		sum = m.sum()
	}
	*f = m
	return sum, nil
}

// UnmarshalJSON reads the string MarshalText writes, or a schema 1 object.
func (m *Bans) UnmarshalJSON(data []byte) error { return unmarshalCompact(data, m, m.fromText) }

// fromText reads the text MarshalText writes.
func (m *Bans) fromText(s string) error { _, err := m.decodeText(s, false); return err }

// decodeText is fromText, and with check as Failures.decodeText.
func (m *Bans) decodeText(s string, check bool) (uint64, error) {
	var sum uint64
	pairs := 0
	out := make(Bans, strings.Count(s, "="))
	err := eachPair(s, func(key, val string) error {
		var f [3]int64
		if err := fields(val, f[:]); err != nil {
			return err
		}
		b := Ban{Start: f[0], End: -1, Count: int(f[2])}
		if f[1] >= 0 {
			b.End = f[0] + f[1]
		} else if f[1] != -1 {
			return fmt.Errorf("length %d (want -1 for permanent, or >= 0)", f[1])
		}
		if check {
			if err := checkIPKey(key); err != nil {
				return err
			}
			sum += banEntrySum(key, b)
			pairs++
		}
		out[key] = b
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bans: %w", err)
	}
	if check && pairs != len(out) { // a key written twice: see Failures.decodeText
		sum = out.sum()
	}
	*m = out
	return sum, nil
}

// UnmarshalJSON reads the string MarshalText writes, or a schema 1 object.
func (m *BanHistory) UnmarshalJSON(data []byte) error { return unmarshalCompact(data, m, m.fromText) }

// fromText reads the text MarshalText writes.
func (m *BanHistory) fromText(s string) error { _, err := m.decodeText(s, false); return err }

// decodeText is fromText, and with check as Failures.decodeText.
func (m *BanHistory) decodeText(s string, check bool) (uint64, error) {
	var sum uint64
	pairs := 0
	out := make(BanHistory, strings.Count(s, "="))
	err := eachPair(s, func(key, val string) error {
		var f [2]int64
		if err := fields(val, f[:]); err != nil {
			return err
		}
		r := BanRecord{Count: int(f[0]), Last: f[1]}
		if check {
			if err := checkIPKey(key); err != nil {
				return err
			}
			sum += banRecordSum(key, r)
			pairs++
		}
		out[key] = r
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("ban_history: %w", err)
	}
	if check && pairs != len(out) { // a key written twice: see Failures.decodeText
		sum = out.sum()
	}
	*m = out
	return sum, nil
}

// appendSorted appends m to b as "key=value ..." sorted by key, each value written by val. The
// keys are sorted as a slice that holds the first 16 bytes of each as two integers (an IPv4
// address fits): most comparisons look at no string (at 100,000 keys, sorting the strings
// themselves was most of the time of an Encode). Each value is looked up again as it is
// written: holding 100,000 values in the slice too cost MBs at a first scan's peak, the
// lookups a tenth of an Encode.
func appendSorted[V any](b []byte, m map[string]V, val func([]byte, V) []byte, o *keyOrder) []byte {
	if o != nil && len(o.keys) == len(m) && len(m) > 0 {
		start := len(b)
		for i, k := range o.keys {
			v, ok := m[k]
			if !ok {
				b = b[:start] // not the same keys: sorted afresh below
				break
			}
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, k...)
			b = append(b, '=')
			b = val(b, v)
			if i == len(o.keys)-1 {
				return b // as many keys, each of them in m: m's keys
			}
		}
	}
	type pair struct {
		hi, lo uint64
		k      string
	}
	pairs := make([]pair, 0, len(m))
	for k := range m {
		var b [16]byte
		copy(b[:], k)
		pairs = append(pairs, pair{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), k})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := cmp.Compare(a.hi, b.hi); c != 0 {
			return c
		}
		if c := cmp.Compare(a.lo, b.lo); c != 0 {
			return c
		}
		return strings.Compare(a.k, b.k)
	})
	if o != nil {
		if cap(o.keys) < len(pairs) {
			o.keys = make([]string, 0, len(pairs))
		}
		o.keys = o.keys[:0]
	}
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, p.k...)
		b = append(b, '=')
		b = val(b, m[p.k])
		if o != nil {
			o.keys = append(o.keys, p.k)
		}
	}
	return b
}

// keyOrder is the sorted keys of the last map appendSorted wrote with it, for the next: a map
// with the same keys is written in that order without collecting and sorting its keys again.
// A first scan's bans, ban records and per-IP counts hold the same 100,000 addresses: sorted
// once, not three times (55 ms each).
type keyOrder struct{ keys []string }

// unquote returns the JSON string data as a Go string. The strings MarshalText writes need no
// escapes; one that has some (written by hand) is unquoted by encoding/json.
func unquote(data []byte) (string, error) {
	if len(data) < 2 || data[len(data)-1] != '"' {
		return "", errors.New("not a JSON string")
	}
	inner := data[1 : len(data)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var s string
	err := json.Unmarshal(data, &s)
	return s, err
}

// eachPair calls fn with the key and value of every "key=value" of s (space-separated); the
// error names the pair.
func eachPair(s string, fn func(key, val string) error) error {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, " ")
		if pair == "" {
			continue
		}
		key, val, ok := strings.Cut(pair, "=")
		if !ok || key == "" || val == "" {
			return fmt.Errorf("want key=value, got %q", pair)
		}
		if err := fn(key, val); err != nil {
			return fmt.Errorf("%q: %w", key, err)
		}
	}
	return nil
}

// fields parses exactly len(out) comma-separated integers.
func fields(s string, out []int64) error {
	for i := range out {
		var num string
		var ok bool
		num, s, ok = strings.Cut(s, ",")
		if ok != (i < len(out)-1) {
			return fmt.Errorf("want %d comma-separated numbers", len(out))
		}
		v, err := parseInt(num)
		if err != nil {
			return err
		}
		out[i] = v
	}
	return nil
}

// parseIntBase is parseInt in base 10 or 36 (digits, then lower-case a to z, as
// strconv.FormatInt writes).
func parseIntBase(s string, base int) (int64, error) {
	if base == 10 {
		return parseInt(s)
	}
	neg := false
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if s == "" || len(s) > 11 { // 36^11 < 2^63
		return 0, fmt.Errorf("bad number %q", s)
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			v = v*36 + int64(c-'0')
		case c >= 'a' && c <= 'z':
			v = v*36 + int64(c-'a'+10)
		default:
			return 0, fmt.Errorf("bad number %q", s)
		}
	}
	if neg {
		v = -v
	}
	return v, nil
}

// parseInt parses a decimal integer that may start with '-', faster than strconv for the
// short numbers of the state (and without its allocation on error).
func parseInt(s string) (int64, error) {
	neg := false
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if s == "" || len(s) > 18 {
		return 0, fmt.Errorf("bad number %q", s)
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number %q", s)
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}
