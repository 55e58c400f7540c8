package rules

import (
	"fmt"
	"time"
)

// stamp is a timestamp as scanned from the start of a line, before it is turned into a
// time.Time. Scanning does not allocate, so Match can skip a stamp cheaply.
type stamp struct {
	year, month, day  int // year 0 when the stamp has none (syslog)
	hour, minute, sec int // sec may be 60 (leap second); time.Date normalises it
	nsec              int
	offset            int  // zone offset east of UTC in seconds, when hasZone
	hasZone           bool // the stamp carries Z or ±hh[:mm]
	tai               bool // TAI64N: unix seconds in sec64, nanoseconds in nsec
	sec64             int64
}

const monthNames = "janfebmaraprmayjunjulaugsepoctnovdec"

// ParseTime parses the timestamp at the start of line.
//
// These forms are recognised:
//   - syslog, "Aug 15 22:34:53" (also "Mar  7" and "Mar 7", optional fractional seconds): local
//     time in loc, in the largest year that puts it no more than 24 hours after now (so a
//     December line read in January falls in the previous year and a line stamped just after
//     midnight on New Year's Eve by a clock slightly ahead is still this year); Feb 29 is only
//     placed in leap years;
//   - RFC 3339 / ISO 8601, "2026-08-15T22:34:53.085+09:00", also with a space instead of the T,
//     a comma or point before the fraction, "Z", "+0900", or no zone (then taken in loc); and
//     with slashes, "2012/04/09 11:53:29" (nginx's error log);
//   - roundcube's own log, "[17-Jan-2016 11:09:06 +0200]" (the zone may be missing: then
//     loc); the stamp includes the brackets;
//   - RFC 5424's header and stamp, "<38>1 2019-07-08T17:40:16.954167-04:00" (the zone is
//     required);
//   - TAI64N, "@400000004c91b044077a9e94" (daemontools' multilog, as dovecot may log through
//     it): the label less 2^62 is taken as Unix time, as fail2ban does.
//
// The stamp must be followed by white space or the end of the line. ParseTime returns an error
// for lines that do not start with a recognisable stamp or whose fields are out of range.
func ParseTime(line []byte, now time.Time, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.Local
	}
	st, n := scanStamp(line)
	if n == 0 {
		return time.Time{}, fmt.Errorf("no timestamp at start of line %s", quoteHead(line))
	}
	if st.tai {
		return time.Unix(st.sec64, int64(st.nsec)).In(loc), nil
	}
	if st.year != 0 {
		if st.day > daysIn(st.month, st.year) {
			return time.Time{}, fmt.Errorf("timestamp %q: day out of range", line[:n])
		}
		zone := loc
		if st.hasZone {
			if st.offset == 0 {
				zone = time.UTC
			} else {
				zone = time.FixedZone("", st.offset)
			}
		}
		return time.Date(st.year, time.Month(st.month), st.day, st.hour, st.minute, st.sec, st.nsec, zone), nil
	}
	// Syslog: no year. Take the largest year y with t(y) <= now+24h.
	limit := now.Add(24 * time.Hour)
	y := now.In(loc).Year() + 1
	for i := 0; i < 9; i, y = i+1, y-1 {
		if st.day > daysIn(st.month, y) {
			continue // Feb 29 outside a leap year
		}
		t := time.Date(y, time.Month(st.month), st.day, st.hour, st.minute, st.sec, st.nsec, loc)
		if !t.After(limit) {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q: no year puts it before %s", line[:n], limit.Format(time.RFC3339))
}

// quoteHead quotes the first bytes of line for an error message.
func quoteHead(line []byte) string {
	const max = 40
	if len(line) > max {
		return fmt.Sprintf("%q...", line[:max])
	}
	return fmt.Sprintf("%q", line)
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// scanStamp recognises a timestamp at the start of b and returns it with its length in bytes,
// or n == 0 when there is none. Field ranges are checked except the day against the month's
// length in a given year (ParseTime does that once the year is known). It does not allocate.
func scanStamp(b []byte) (st stamp, n int) {
	if len(b) >= 15 && isDigit(b[0]) {
		return scanISO(b)
	}
	if len(b) > 0 && b[0] == '[' {
		return scanBracketed(b)
	}
	if len(b) > 0 && b[0] == '@' {
		return scanTAI64N(b)
	}
	if len(b) > 0 && b[0] == '<' {
		return scanRFC5424(b)
	}
	return scanSyslog(b)
}

// scanRFC5424 scans RFC 5424's "<PRI>VERSION " and the RFC 3339 stamp after it
// ("<38>1 2019-07-08T17:40:16.954167-04:00"); the stamp includes the header before it.
func scanRFC5424(b []byte) (st stamp, n int) {
	pri, i, ok := digits(b, 1, 1, 3)
	if !ok || pri > 191 || i >= len(b) || b[i] != '>' {
		return st, 0
	}
	if _, i, ok = digits(b, i+1, 1, 2); !ok || i >= len(b) || b[i] != ' ' {
		return st, 0
	}
	i++
	if len(b)-i < 15 || !isDigit(b[i]) {
		return st, 0
	}
	st, n = scanISO(b[i:])
	if n == 0 || !st.hasZone { // RFC 5424 requires the zone
		return stamp{}, 0
	}
	return st, i + n
}

// scanTAI64N scans "@" and 24 hex digits: 16 of seconds (2^62 + Unix time) and 8 of
// nanoseconds.
func scanTAI64N(b []byte) (st stamp, n int) {
	const n64 = 1 + 16 + 8
	if len(b) < n64 || len(b) > n64 && !isSpace(b[n64]) {
		return st, 0
	}
	var label uint64
	var ns int
	for i := 1; i < n64; i++ {
		c := b[i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return st, 0
		}
		if i <= 16 {
			label = label<<4 | uint64(v)
		} else {
			ns = ns<<4 | int(v)
		}
	}
	// Labels from 1970 to 9999 only; nanoseconds below 1e9.
	const base = uint64(1) << 62
	if label < base || label-base > 253402300799 || ns >= 1e9 {
		return st, 0
	}
	return stamp{tai: true, sec64: int64(label - base), nsec: ns}, n64
}

// scanBracketed scans roundcube's "[dd-Mon-yyyy hh:mm:ss[ ±hhmm]]".
func scanBracketed(b []byte) (st stamp, n int) {
	d, i, ok := digits(b, 1, 2, 2)
	if !ok || d < 1 || d > 31 || i+5 > len(b) || b[i] != '-' || b[i+4] != '-' {
		return st, 0
	}
	m := 0
	for k := 0; k < len(monthNames); k += 3 {
		if lower(b[i+1]) == monthNames[k] && lower(b[i+2]) == monthNames[k+1] && lower(b[i+3]) == monthNames[k+2] {
			m = k/3 + 1
			break
		}
	}
	y, i, ok := digits(b, i+5, 4, 4)
	if m == 0 || !ok || y == 0 || i >= len(b) || b[i] != ' ' {
		return st, 0
	}
	st.year, st.month, st.day = y, m, d
	if i, ok = scanClock(b, i+1, &st); !ok {
		return stamp{}, 0
	}
	if i+6 <= len(b) && b[i] == ' ' && (b[i+1] == '+' || b[i+1] == '-') {
		v, j, ok := digits(b, i+2, 4, 4)
		if !ok || v/100 > 23 || v%100 > 59 {
			return stamp{}, 0
		}
		st.offset, st.hasZone = (v/100*60+v%100)*60, true
		if b[i+1] == '-' {
			st.offset = -st.offset
		}
		i = j
	}
	if i >= len(b) || b[i] != ']' {
		return stamp{}, 0
	}
	return st, i + 1
}

// scanSyslog scans "Mmm dd hh:mm:ss[.frac]" with the day padded by a space or not.
func scanSyslog(b []byte) (st stamp, n int) {
	if len(b) < 14 {
		return st, 0
	}
	m := 0
	for i := 0; i < len(monthNames); i += 3 {
		if lower(b[0]) == monthNames[i] && lower(b[1]) == monthNames[i+1] && lower(b[2]) == monthNames[i+2] {
			m = i/3 + 1
			break
		}
	}
	if m == 0 || b[3] != ' ' {
		return st, 0
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	dayAt := i
	day, i, ok := digits(b, i, 1, 2)
	if !ok || day < 1 || day > 31 || day > daysIn(m, 2000) {
		return st, 0
	}
	if i >= len(b) || b[i] != ' ' {
		return st, 0
	}
	i++
	if i-dayAt == 2 && i < len(b) && b[i] == ' ' {
		i++ // "Mar  7  02:09:33": a one-digit day padded on both sides, as fail2ban takes it
	}
	st.month, st.day = m, day
	i, ok = scanClock(b, i, &st)
	if !ok {
		return stamp{}, 0
	}
	if i < len(b) && !isSpace(b[i]) {
		return stamp{}, 0
	}
	return st, i
}

// scanISO scans "yyyy-mm-dd[T ]hh:mm:ss[.frac][Z|±hh:mm|±hhmm|±hh]", or the same with '/'
// between the date's fields.
func scanISO(b []byte) (st stamp, n int) {
	y, i, ok := digits(b, 0, 4, 4)
	if !ok || i >= len(b) || b[i] != '-' && b[i] != '/' {
		return st, 0
	}
	sep := b[i]
	mo, i, ok := digits(b, i+1, 2, 2)
	if !ok || mo < 1 || mo > 12 || i >= len(b) || b[i] != sep {
		return st, 0
	}
	d, i, ok := digits(b, i+1, 2, 2)
	if !ok || d < 1 || d > 31 || i >= len(b) || (b[i] != 'T' && b[i] != 't' && b[i] != ' ') {
		return st, 0
	}
	if y == 0 {
		return st, 0 // year 0 means "no year" internally; no log has it
	}
	st.year, st.month, st.day = y, mo, d
	i, ok = scanClock(b, i+1, &st)
	if !ok {
		return stamp{}, 0
	}
	if i < len(b) {
		switch c := b[i]; {
		case c == 'Z' || c == 'z':
			st.hasZone = true
			i++
		case c == '+' || c == '-':
			var hh, mm, j int
			var ok bool
			if v, k, ok4 := digits(b, i+1, 4, 4); ok4 { // ±hhmm
				hh, mm, j, ok = v/100, v%100, k, true
			} else if hh, j, ok = digits(b, i+1, 2, 2); ok && j < len(b) && b[j] == ':' { // ±hh:mm
				mm, j, ok = digits(b, j+1, 2, 2)
			}
			if !ok || hh > 23 || mm > 59 {
				return stamp{}, 0
			}
			st.offset = (hh*60 + mm) * 60
			if c == '-' {
				st.offset = -st.offset
			}
			st.hasZone = true
			i = j
		}
	}
	if i < len(b) && !isSpace(b[i]) {
		return stamp{}, 0
	}
	return st, i
}

// scanClock scans "hh:mm:ss[.frac]" (fraction after '.' or ',') at b[i:].
func scanClock(b []byte, i int, st *stamp) (int, bool) {
	h, i, ok := digits(b, i, 2, 2)
	if !ok || h > 23 || i >= len(b) || b[i] != ':' {
		return 0, false
	}
	m, i, ok := digits(b, i+1, 2, 2)
	if !ok || m > 59 || i >= len(b) || b[i] != ':' {
		return 0, false
	}
	s, i, ok := digits(b, i+1, 2, 2)
	if !ok || s > 60 {
		return 0, false
	}
	st.hour, st.minute, st.sec = h, m, s
	if i+1 < len(b) && (b[i] == '.' || b[i] == ',') && isDigit(b[i+1]) {
		i++
		ns, scale := 0, 100000000
		for ; i < len(b) && isDigit(b[i]); i++ {
			ns += int(b[i]-'0') * scale
			scale /= 10
		}
		st.nsec = ns
	}
	return i, true
}

// digits reads between min and max decimal digits at b[i:].
func digits(b []byte, i, min, max int) (v, end int, ok bool) {
	j := i
	for j < len(b) && j-i < max && isDigit(b[j]) {
		v = v*10 + int(b[j]-'0')
		j++
	}
	if j-i < min {
		return 0, i, false
	}
	if j < len(b) && isDigit(b[j]) {
		return 0, i, false // more digits than allowed
	}
	return v, j, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isSpace(c byte) bool { return c == ' ' || c == '\t' }
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
