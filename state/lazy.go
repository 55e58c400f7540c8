package state

import (
	"errors"
	"strings"
)

// lazyFailures decodes a jail's failures the lazy way (LoadLazy): it checks the text as
// Failures.fromText and Jail.check would, notes the earliest time and the number of keys, and
// keeps the text in the jail instead of a map.
type lazyFailures struct{ j *Jail }

// decodeText checks every key, whether or not check is set.
func (l lazyFailures) decodeText(text string, check bool) (uint64, error) {
	return 0, l.fromText(text)
}

func (l lazyFailures) fromText(text string) error {
	s, ok := strings.CutPrefix(text, string(radixMark))
	if !ok {
		return errors.New("failures not in base 36") // schema 2: decodeJails decodes them
	}
	oldest, keys := int64(-1), 0
	err := eachPair(s, func(key, val string) error {
		if err := checkIPKey(key); err != nil {
			return err
		}
		// The first time is parsed; the deltas after it are only checked (base-36 digits, 1 to
		// 8 of them: never negative, so the times ascend, and a million of them cannot
		// overflow), as parsing a million of them was most of the cost of a lazy load. What
		// this refuses and the eager decoder reads (a delta of 9 digits) makes the load eager.
		num, rest, _ := strings.Cut(val, ",")
		first, err := parseIntBase(num, 36)
		if err != nil {
			return err
		}
		if first < 0 || first >= 1e12 {
			return errors.New("timestamp out of range")
		}
		if oldest < 0 || first < oldest {
			oldest = first
		}
		if len(rest) > 13e6 {
			return errors.New("too many times")
		}
		if _, more := strings.CutPrefix(val[len(num):], ","); more {
			digits := 0
			for i := 0; i < len(rest); i++ {
				switch base36Byte[rest[i]] {
				case base36Digit:
					digits++
				case base36Comma:
					if digits == 0 {
						return errors.New("empty number")
					}
					digits = 0
				default:
					return errors.New("timestamps not ascending, or not numbers")
				}
				if digits > 8 {
					return errors.New("delta out of range")
				}
			}
			if digits == 0 {
				return errors.New("empty number")
			}
		}
		keys++
		return nil
	})
	if err != nil {
		return err // the eager decoder says it, naming the key
	}
	l.j.lazy, l.j.lazyOldest, l.j.lazyKeys = text, oldest, keys
	return nil
}

// base36Byte classifies the bytes of the deltas: a table look-up per byte, as a million
// deltas are several megabytes a minute run checks.
var base36Byte = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = base36Digit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = base36Digit
	}
	t[','] = base36Comma
	return t
}()

const (
	base36Other = iota
	base36Digit
	base36Comma
)

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
