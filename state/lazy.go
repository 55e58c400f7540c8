package state

import (
	"errors"
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
// Code that changes or reads the failures of a state from LoadLazy goes through it.
func (j *Jail) FailureTimes() Failures {
	if j.lazy != "" {
		j.decodeLazy()
	}
	if j.Failures == nil {
		j.Failures = Failures{}
	}
	return j.Failures
}

// decodeLazy decodes the text of the failures into Failures; failures set in the map before
// (which only FailureTimes should do) are kept over those of the text.
func (j *Jail) decodeLazy() {
	var m Failures
	_ = m.fromText(j.lazy) // checked by lazyFailures
	for k, ts := range j.Failures {
		m[k] = ts
	}
	j.Failures, j.lazy, j.lazyOldest, j.lazyKeys = m, "", 0, 0
}

// OldestFailure returns the earliest failure time of the jail, without decoding the failures
// LoadLazy left as text; ok is false when there is none.
func (j *Jail) OldestFailure() (t int64, ok bool) {
	if j.lazy != "" && len(j.Failures) == 0 {
		return j.lazyOldest, true
	}
	for _, ts := range j.FailureTimes() {
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
	if j.lazy == "" || len(j.Failures) > 0 {
		for k, ts := range j.FailureTimes() {
			fn(k, ts)
		}
		return
	}
	var ts []int64
	_ = eachPair(j.lazy[1:], func(key, val string) error { // checked by lazyFailures
		ts, _ = appendTimes(ts[:0], val, 36)
		fn(key, ts)
		return nil
	})
}
