package state

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
)

// appendState appends the JSON of s to b, the same bytes as json.Marshal(s) for a state that
// Decode or New made (TestEncodeAsJSON and FuzzEncode check it; a map that Load or LoadLazy
// read and that did not change is written as the text it was read from, see ahead), written
// directly: the compact strings of failures, bans and
// ban_history, the history's runs, bans and per-IP counts go into the one buffer without an
// intermediate copy, without encoding/json escaping strings that need no escape, and without
// its reflection per record. The small parts (files, outbox, crowdsec, whose fleet
// marshals itself compactly) are written by encoding/json.
func appendState(b []byte, s *State) ([]byte, error) {
	for _, j := range s.Jails {
		if j != nil && j.lazy != "" && len(j.Failures) > 0 {
			j.decodeLazy() // failures set in the map without FailureTimes: both are kept
		}
	}
	pre := writeAhead(s)
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
			if b, err = appendJail(b, s.Jails[name], pre); err != nil {
				return nil, err
			}
		}
		b = append(b, '}')
	}
	b = append(b, `,"history":`...)
	b = appendHistory(b, s.History, pre)
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

func appendJail(b []byte, j *Jail, pre ahead) ([]byte, error) {
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
		b = append(b, `"failures":"`...) // as read: plainJSON (decodeJails)
		b = append(b, j.lazy...)
		b = append(b, `",`...)
	} else if len(j.Failures) > 0 {
		b = append(b, `"failures":`...)
		b = pre.quoted(b, &j.Failures, j.Failures.appendText)
		b = append(b, ',')
	}
	if len(j.Bans) > 0 {
		b = append(b, `"bans":`...)
		b = pre.quoted(b, &j.Bans, j.Bans.appendText)
		b = append(b, ',')
	}
	if len(j.BanHistory) > 0 {
		b = append(b, `"ban_history":`...)
		b = pre.quoted(b, &j.BanHistory, j.BanHistory.appendText)
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

func appendHistory(b []byte, h *History, pre ahead) []byte {
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
			b = appendJailHistory(b, h.Jails[name], pre)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendJailHistory(b []byte, j *JailHistory, pre ahead) []byte {
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
	b = appendIntMap(b, j.Days, pre.ipCounts)
	b = append(b, `,"ip_hours":`...)
	b = appendIntMap(b, j.IPHours, pre.ipCounts)
	b = append(b, `,"bans":`...)
	if j.Bans == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range j.Bans {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"ip":`...)
			b = appendJSONString(b, s.IP)
			b = appendField(b, `,"at":`, s.At, false)
			b = appendField(b, `,"end":`, s.End, false)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (pre ahead) ipCounts(b []byte, c *IPCounts) []byte {
	if c == nil {
		return append(b, "null"...)
	}
	if c.m == nil {
		return appendJSONString(b, c.raw)
	}
	return pre.quoted(b, c, c.appendText)
}

func (c *IPCounts) appendText(b []byte) []byte {
	return appendSorted(b, c.m, func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) })
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

func writeAhead(s *State) ahead {
	type job struct {
		key  any
		text func([]byte) []byte
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
		if !sameAsLoaded(&j.Failures, len(j.Failures), j.Failures.sum) && len(j.Failures) >= aheadMin {
			jobs = append(jobs, job{&j.Failures, j.Failures.appendText, 72 * len(j.Failures)})
		}
		if !sameAsLoaded(&j.Bans, len(j.Bans), j.Bans.sum) && len(j.Bans) >= aheadMin {
			jobs = append(jobs, job{&j.Bans, j.Bans.appendText, 32 * len(j.Bans)})
		}
		if !sameAsLoaded(&j.BanHistory, len(j.BanHistory), j.BanHistory.sum) && len(j.BanHistory) >= aheadMin {
			jobs = append(jobs, job{&j.BanHistory, j.BanHistory.appendText, 28 * len(j.BanHistory)})
		}
	}
	if s.History != nil {
		for _, j := range s.History.Jails {
			if j == nil {
				continue
			}
			for _, m := range []map[int64]*IPCounts{j.Days, j.IPHours} {
				for _, c := range m {
					if c != nil && len(c.m) >= aheadMin {
						jobs = append(jobs, job{c, c.appendText, 20 * len(c.m)})
					}
				}
			}
		}
	}
	if len(jobs) < 2 {
		return pre // nothing to do at once
	}
	texts := make([][]byte, len(jobs))
	var wg sync.WaitGroup
	for i, jb := range jobs {
		wg.Go(func() { texts[i] = jb.text(make([]byte, 0, jb.size)) })
	}
	wg.Wait()
	for i, jb := range jobs {
		pre[jb.key] = aheadText{written: texts[i]}
	}
	return pre
}

func (pre ahead) quoted(b []byte, key any, text func([]byte) []byte) []byte {
	if t, ok := pre[key]; ok && t.written != nil {
		return appendQuoted(b, func(b []byte) []byte { return append(b, t.written...) })
	} else if ok {
		b = append(b, '"')
		b = append(b, t.kept...) // plainJSON when kept
		return append(b, '"')
	}
	return appendQuoted(b, text)
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
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
