package f2bfilter

import "time"

// The fast reader of the two commonest dates at a line's start, syslog's "Aug 15 00:00:00"
// and ISO 8601's "2026-08-15T00:00:00.123+02:00": what the default templates' regexes would
// find there, without running them. It accepts only a strict form whose match by the
// templates is certain, and says so with ok; for anything else (a fraction of a second after
// a syslog date, a year after it, a lower-case month, two spaces before the time, a zone after
// a space, a word character right after the date...) the caller runs the regexes.

// fastDefaults is where the default templates start in a detector, when they come first
// (datepattern unset, {DEFAULT} or {^LN-BEG} first): templates[fastISO] is the line-begin
// "%ExY-%m-%d..." template and templates[fastISO+1] the line-begin "%b %d %k:%M:%S" one.
// Neither matches a line the other's strict form reads (one needs a digit first, the other
// a letter), so for such a line the first template that matches is the one read here.
const fastISO = 0

// fastDate reads the date at line's start with the default templates' result, or ok false.
// idx is the template that matches. With noTime, only the span is found.
func (d *dateDetector) fastDate(line string, now time.Time, loc *time.Location, noTime bool) (r date, idx int, ok bool) {
	var (
		groups [8]kv
		g      []kv // nil with noTime: no groups are kept
		end    int
	)
	if !noTime {
		g = groups[:0]
	}
	switch c := firstByte(line); {
	case c >= 'A' && c <= 'Z':
		end, g, ok = fastSyslog(line, g)
		idx = fastISO + 1
	case c == '2':
		end, g, ok = fastISOStamp(line, g)
		idx = fastISO
	}
	if !ok {
		return date{}, 0, false
	}
	// fail2ban's word boundary after a date: (?=\b|\W|$), checked as dateTemplate.good does
	if end < len(line) && isWord(line[end-1]) && isWord(line[end]) {
		return date{}, 0, false
	}
	r = date{start: 0, end: end}
	if !noTime {
		r.time, r.ok = d.templates[idx].parse(g, now, loc)
	}
	return r, idx, true
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// isMonthAbbr reports whether s[:3] is a month as syslog writes it ("Jan" ... "Dec").
func isMonthAbbr(s string) bool {
	switch uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2]) {
	case 'J'<<16 | 'a'<<8 | 'n', 'F'<<16 | 'e'<<8 | 'b', 'M'<<16 | 'a'<<8 | 'r', 'A'<<16 | 'p'<<8 | 'r',
		'M'<<16 | 'a'<<8 | 'y', 'J'<<16 | 'u'<<8 | 'n', 'J'<<16 | 'u'<<8 | 'l', 'A'<<16 | 'u'<<8 | 'g',
		'S'<<16 | 'e'<<8 | 'p', 'O'<<16 | 'c'<<8 | 't', 'N'<<16 | 'o'<<8 | 'v', 'D'<<16 | 'e'<<8 | 'c':
		return true
	}
	return false
}

// fastSyslog reads "Mmm dd HH:MM:SS" or "Mmm  d HH:MM:SS" (month as written by syslog, hour
// 00-23, minute and second 00-59), not followed by ".digit" or " 2" (a fraction or a year,
// which the template would take in).
func fastSyslog(s string, g []kv) (int, []kv, bool) {
	if len(s) < 15 || s[3] != ' ' || s[6] != ' ' {
		return 0, nil, false
	}
	if !isMonthAbbr(s) {
		return 0, nil, false
	}
	// %d is [1-2]\d|[0 ]?[1-9]|3[0-1]: " 5", "05", "15", "31"
	d0, d1 := s[4], s[5]
	switch {
	case (d0 == ' ' || d0 == '0') && d1 >= '1' && d1 <= '9':
	case (d0 == '1' || d0 == '2') && isDigitByte(d1):
	case d0 == '3' && (d1 == '0' || d1 == '1'):
	default:
		return 0, nil, false
	}
	if !fastClock(s[7:15]) {
		return 0, nil, false
	}
	end := 15
	if end < len(s) {
		switch {
		case s[end] == '.' && end+1 < len(s) && isDigitByte(s[end+1]):
			return 0, nil, false
		case s[end] == ' ' && end+1 < len(s) && s[end+1] == '2':
			return 0, nil, false
		}
	}
	if g != nil {
		g = append(g, kv{"_date", s[:end]}, kv{"b", s[:3]}, kv{"d", s[4:6]},
			kv{"H", s[7:9]}, kv{"M", s[10:12]}, kv{"S", s[13:15]})
	}
	return end, g, true
}

// fastClock reads "HH:MM:SS" with hour 00-23, minute and second 00-59: where both the %H and
// the %k of the templates take two digits each.
func fastClock(s string) bool {
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return false
	}
	h0, h1 := s[0], s[1]
	if !isDigitByte(h1) || !(h0 == '0' || h0 == '1' || h0 == '2' && h1 <= '3') {
		return false
	}
	return s[3] >= '0' && s[3] <= '5' && isDigitByte(s[4]) && s[6] >= '0' && s[6] <= '5' && isDigitByte(s[7])
}

// fastISOStamp reads "20YY-MM-DD" then "T" or one space, "HH:MM:SS", an optional "." or ","
// with 1-6 digits, and an optional zone written right after: "Z", "+HH", "+HHMM" or "+HH:MM"
// (sign + or -, hour 00-19 as %z has it). Whitespace followed by what could start a zone
// (Z, U, G, + or -) is left to the template.
func fastISOStamp(s string, g []kv) (int, []kv, bool) {
	if len(s) < 19 || s[0] != '2' || s[1] != '0' || !isDigitByte(s[2]) || !isDigitByte(s[3]) ||
		s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') {
		return 0, nil, false
	}
	// %m is 0?[1-9]|1[0-2], %d is [1-2]\d|[0 ]?[1-9]|3[0-1]: two digits each here
	m0, m1 := s[5], s[6]
	if !(m0 == '0' && m1 >= '1' && m1 <= '9' || m0 == '1' && m1 >= '0' && m1 <= '2') {
		return 0, nil, false
	}
	d0, d1 := s[8], s[9]
	if !(d0 == '0' && d1 >= '1' && d1 <= '9' || (d0 == '1' || d0 == '2') && isDigitByte(d1) ||
		d0 == '3' && (d1 == '0' || d1 == '1')) {
		return 0, nil, false
	}
	if s[10] == ' ' && s[11] == ' ' { // (?:T|  ?): two spaces
		return 0, nil, false
	}
	if !fastClock(s[11:19]) {
		return 0, nil, false
	}
	end := 19
	keep := g != nil
	if keep {
		g = append(g, kv{"Y", s[:4]}, kv{"m", s[5:7]}, kv{"d", s[8:10]},
			kv{"H", s[11:13]}, kv{"M", s[14:16]}, kv{"S", s[17:19]})
	}
	if end+1 < len(s) && (s[end] == '.' || s[end] == ',') && isDigitByte(s[end+1]) {
		n := end + 1
		for n < len(s) && isDigitByte(s[n]) {
			n++
		}
		if n-(end+1) > 6 {
			return 0, nil, false
		}
		if keep {
			g = append(g, kv{"f", s[end+1 : n]})
		}
		end = n
	}
	if end < len(s) {
		switch c := s[end]; {
		case c == 'Z':
			if keep {
				g = append(g, kv{"z", "Z"})
			}
			end++
		case c == 'U' || c == 'G':
			return 0, nil, false // UTC, GMT: left to the template
		case c == '+' || c == '-':
			n, ok := fastOffset(s[end:])
			if !ok {
				return 0, nil, false
			}
			if keep {
				g = append(g, kv{"z", s[end : end+n]})
			}
			end += n
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			n := end
			for n < len(s) && (s[n] == ' ' || s[n] == '\t' || s[n] == '\n' || s[n] == '\r' || s[n] == '\f' || s[n] == '\v') {
				n++
			}
			if n < len(s) {
				switch s[n] {
				case 'Z', 'U', 'G', '+', '-':
					return 0, nil, false
				}
			}
		}
	}
	if keep {
		g = append(g, kv{"_date", s[:end]})
	}
	return end, g, true
}

// fastOffset reads %z's [+-][01]\d(?::?\d{2})? at s's start; ok is false where the regex
// would read it otherwise (a third digit, a lone colon).
func fastOffset(s string) (int, bool) {
	if len(s) < 3 || (s[1] != '0' && s[1] != '1') || !isDigitByte(s[2]) {
		return 0, false
	}
	n := 3
	switch {
	case len(s) >= 6 && s[3] == ':' && isDigitByte(s[4]) && isDigitByte(s[5]):
		n = 6
	case len(s) >= 5 && isDigitByte(s[3]) && isDigitByte(s[4]):
		n = 5
	case len(s) > 3 && (isDigitByte(s[3]) || s[3] == ':'):
		return 0, false
	}
	return n, true
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }
