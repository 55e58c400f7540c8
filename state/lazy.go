package state

import (
	"errors"
	"maps"
	"slices"
	"strings"
)

// lazyFailures keeps a jail's failures the lazy way (LoadLazy of a sealed file, see seal.go):
// it notes the earliest time and the number of keys, and keeps the text in the jail instead
// of a map. The text is as Save wrote it, so it is not checked again.
type lazyFailures struct{ j *Jail }

func (l lazyFailures) decodeText(text string, _ bool) (uint64, error) {
	s, ok := strings.CutPrefix(text, string(radixMark))
	if !ok {
		return 0, errors.New("failures not in base 36") // schema 2: decodeJails decodes them
	}
	oldest, keys := int64(-1), 0
	err := eachPair(s, func(_, val string) error {
		num, _, _ := strings.Cut(val, ",")
		first, err := parseIntBase(num, 36) // only the first time of each: the deltas follow
		if oldest < 0 || first < oldest {
			oldest = first
		}
		keys++
		return err
	})
	if err != nil {
		return 0, err
	}
	l.j.lazy, l.j.lazyOldest, l.j.lazyKeys = text, oldest, keys
	return 0, nil
}

// FailureTimes returns the jail's failures, decoding them first if LoadLazy left them as text.
// Code that changes or reads the failures of a state from LoadLazy goes through it, or through
// FailuresOf, SetFailures and DeleteFailures, which leave the text as it is.
func (j *Jail) FailureTimes() Failures {
	if j.lazy != "" {
		j.decodeLazy()
	}
	if j.Failures == nil {
		j.Failures = Failures{}
	}
	return j.Failures
}

// decodeLazy decodes the text of the failures into Failures, with the keys set and deleted
// since (SetFailures, DeleteFailures).
func (j *Jail) decodeLazy() {
	var m Failures
	_ = m.fromText(j.lazy) // checked by lazyFailures
	for k := range j.gone {
		delete(m, k)
	}
	for k, ts := range j.Failures {
		m[k] = ts
	}
	j.Failures, j.gone, j.lazy, j.lazyOldest, j.lazyKeys = m, nil, "", 0, 0
}

// FailuresOf returns the times of key's failures, ascending (nil: none), reading only key's
// from failures LoadLazy left as text. To change them, SetFailures.
func (j *Jail) FailuresOf(key string) []int64 {
	if ts, ok := j.Failures[key]; ok || j.lazy == "" || j.gone[key] {
		return ts
	}
	val, ok := findPair(j.lazy[1:], key)
	if !ok {
		return nil
	}
	ts, _ := appendTimes(nil, val, 36) // checked by lazyFailures
	return ts
}

// SetFailures sets key's failures to ts (ascending, not empty).
func (j *Jail) SetFailures(key string, ts []int64) {
	if j.Failures == nil {
		j.Failures = Failures{}
	}
	j.Failures[key] = ts
	delete(j.gone, key)
}

// DeleteFailures removes key's failures.
func (j *Jail) DeleteFailures(key string) {
	delete(j.Failures, key)
	if j.lazy != "" {
		if j.gone == nil {
			j.gone = map[string]bool{}
		}
		j.gone[key] = true
	}
}

// findPair returns the value of key in s, "key=value ..." sorted by key (appendSorted), by a
// binary search over the text: a key of 100,000 is found in some 17 steps, without a map.
func findPair(s, key string) (string, bool) {
	lo, hi := 0, len(s) // lo starts a pair; none at or after hi can be key
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := strings.LastIndexByte(s[:mid], ' ') + 1 // of the pair that holds mid
		end := strings.IndexByte(s[start:], ' ')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		k, v, _ := strings.Cut(s[start:end], "=")
		switch c := strings.Compare(k, key); {
		case c == 0:
			return v, true
		case c < 0:
			lo = end + 1
		default:
			hi = start
		}
	}
	return "", false
}

// lazyText returns the failures' text, as LoadLazy read it merged with the keys set and
// deleted since.
func (j *Jail) lazyText() string {
	if len(j.Failures) == 0 && len(j.gone) == 0 {
		return j.lazy
	}
	extra := 0
	for k, ts := range j.Failures {
		extra += len(k) + 2 + 8*len(ts)
	}
	b := mergePairs(append(make([]byte, 0, len(j.lazy)+extra), radixMark), j.lazy[1:], j.Failures, appendFailureTimes, j.gone)
	if len(b) == 1 {
		return ""
	}
	return stringOf(b)
}

// mergePairs appends to b text ("key=value ..." sorted by key, see appendSorted) merged with
// set, whose values val writes: a key of set replaces the text's, one not in the text goes
// where it sorts, and keys for which gone is true are left out. A few changes to 100,000 keys
// are a copy of the text, not a sort and a formatting of 100,000 values: b should have room
// for it, as a text of 100,000 failures is 10 MB.
func mergePairs[V any](b []byte, text string, set map[string]V, val func([]byte, V) []byte, gone map[string]bool) []byte {
	if len(set) == 0 && len(gone) == 0 {
		return append(b, text...)
	}
	keys := slices.Sorted(maps.Keys(set)) // in the text's order
	start := len(b)
	put := func(key string) []byte {
		if len(b) > start {
			b = append(b, ' ')
		}
		b = append(b, key...)
		return append(b, '=')
	}
	_ = eachPair(text, func(key, v string) error { // sealed: as Save wrote it
		for ; len(keys) > 0 && keys[0] < key; keys = keys[1:] {
			b = val(put(keys[0]), set[keys[0]])
		}
		switch {
		case len(keys) > 0 && keys[0] == key:
			b = val(put(key), set[key])
			keys = keys[1:]
		case !gone[key]:
			b = append(put(key), v...)
		}
		return nil
	})
	for _, k := range keys {
		b = val(put(k), set[k])
	}
	return b
}

// OldestFailure returns the earliest failure time of the jail, without decoding the failures
// LoadLazy left as text (of which the time may be a deleted key's: earlier than the truth,
// which prunes no later); ok is false when there is none.
func (j *Jail) OldestFailure() (t int64, ok bool) {
	if j.lazy == "" {
		for _, ts := range j.Failures {
			if len(ts) > 0 && (!ok || ts[0] < t) {
				t, ok = ts[0], true
			}
		}
		return t, ok
	}
	t, ok = j.lazyOldest, j.lazyKeys > 0
	for _, ts := range j.Failures {
		if len(ts) > 0 && (!ok || ts[0] < t) {
			t, ok = ts[0], true
		}
	}
	return t, ok
}

// Lazy reports whether the jail's failures are still the text LoadLazy read.
func (j *Jail) Lazy() bool { return j.lazy != "" }

// EachFailure calls fn with the times of each key's failures, ascending, without decoding the
// failures LoadLazy left as text into a map (the slice passed is reused between calls).
// Reading only, for status and the metrics of a run that decoded nothing.
func (j *Jail) EachFailure(fn func(key string, ts []int64)) {
	for k, ts := range j.Failures {
		fn(k, ts)
	}
	if j.lazy == "" {
		return
	}
	var ts []int64
	_ = eachPair(j.lazy[1:], func(key, val string) error { // checked by lazyFailures
		if _, set := j.Failures[key]; set || j.gone[key] {
			return nil
		}
		ts, _ = appendTimes(ts[:0], val, 36)
		fn(key, ts)
		return nil
	})
}
