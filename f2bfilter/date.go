package f2bfilter

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// dateKind is how a template's match becomes a time.
type dateKind int

const (
	dateStrptime  dateKind = iota
	dateEpoch              // seconds, optionally with a fraction
	dateLongEpoch          // seconds, milliseconds or microseconds
	dateTAI64N
	dateNone // {NONE}: the line has no date; the time is now
)

// dateTemplate is one of fail2ban's DateTemplates: a regex whose group _date is the date text
// (cut from the line before the failregexes see it).
type dateTemplate struct {
	name      string
	re        *compiled
	kind      dateKind
	wordBegin bool // (?=^|\b|\W) before the date: checked after the match
	wordEnd   bool // (?=\b|\W|$) after it
	lineBegin bool // anchored at the line start: one try
}

// The strptime directives, as fail2ban 1.0.2's strptime.py sets them (timeRE) over Python's
// TimeRE, with names in English as with the C locale.
var timeRE = map[string]string{
	"a":   `(?P<a>mon|tue|wed|thu|fri|sat|sun)`,
	"A":   `(?P<A>monday|tuesday|wednesday|thursday|friday|saturday|sunday)`,
	"b":   `(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)`,
	"B":   `(?P<B>january|february|march|april|may|june|july|august|september|october|november|december)`,
	"p":   `(?P<p>am|pm)`,
	"f":   `(?P<f>[0-9]{1,6})`,
	"I":   `(?P<I>1[0-2]|0[1-9]|[1-9])`,
	"j":   `(?P<j>36[0-6]|3[0-5]\d|[12]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])`,
	"w":   `(?P<w>[0-6])`,
	"y":   `(?P<y>\d\d)`,
	"k":   ` ?(?P<H>[0-2]?\d)`,
	"l":   ` ?(?P<I>1?\d)`,
	"Z":   `(?P<Z>Z|[A-Z]{3,5})`,
	"z":   `(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)`,
	"ExZ": `(?P<Z>[A-Z](?:[A-Z]{2,4})?)`,
	"Exz": `(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\d(?::?\d{2})?|[A-Z](?:[A-Z]{2,4})?)`,
	"d":   `(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])`,
	"m":   `(?P<m>0?[1-9]|1[0-2])`,
	"Y":   `(?P<Y>\d{4})`,
	"H":   `(?P<H>[0-1]?\d|2[0-3])`,
	"M":   `(?P<M>[0-5]?\d)`,
	"S":   `(?P<S>[0-5]?\d|6[0-1])`,
	"Exd": `(?P<d>[1-2]\d|0[1-9]|3[0-1])`,
	"Exm": `(?P<m>0[1-9]|1[0-2])`,
	"ExH": `(?P<H>[0-1]\d|2[0-3])`,
	"Exk": ` ?(?P<H>[0-1]?\d|2[0-3])`,
	"Exl": ` ?(?P<I>1[0-2]|\d)`,
	"ExM": `(?P<M>[0-5]\d)`,
	"ExS": `(?P<S>[0-5]\d|6[0-1])`,
	// fail2ban builds %ExY from the current year's century; years 2000-2099 cover every
	// log this tool will read.
	"ExY": `(?P<Y>20\d\d)`,
	"Exy": `(?P<y>\d{2})`,
	"%":   `%`,
}

var (
	directiveRE   = regexp.MustCompile(`%(Ex[a-zA-Z]|[a-zA-Z%])`)
	alphaRE       = regexp.MustCompile(`%[aAbBpc]`)
	epochTagRE    = regexp.MustCompile(`(?i)\{(L?)EPOCH\}`)
	globalFlagsRE = regexp.MustCompile(`^\(\?[a-z]+\)`)
	unnamedRE     = regexp.MustCompile(`(^|[^\\])\((?:[^?*]|$)`)
	noWordBegRE   = regexp.MustCompile(`^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)`)
	noWordEndRE   = regexp.MustCompile(`(?:\$\)?|\\b|\\s|\*\*\)*)$`)
)

// The default templates (datedetector.py DEFAULT_TEMPLATES), with (?P<_sep>...)(?P=_sep)
// written as alternatives so that they stay RE2.
var defaultPatterns = []string{
	`%ExY(?:-%m-|/%m/|\.%m\.)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
	`(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	`(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?`,
	`%d(?:-%m-|/%m/)(?:%ExY|%Exy) %k:%M:%S`,
	`%d(?:-%b-|/%b/)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?`,
	`%m/%d/%ExY:%H:%M:%S`,
	`%m-%d-%ExY %k:%M:%S(?:\.%f)?`,
	`EPOCH`,
	`{^LN-BEG}%H:%M:%S`,
	`^<%m/%d/%Exy@%H:%M:%S>`,
	`%Exy%Exm%Exd  ?%H:%M:%S`,
	`%b %d, %ExY %I:%M:%S %p`,
	`^%b-%d-%Exy %k:%M:%S`,
	`%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?`,
	`(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	`(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
	`TAI64N`,
}

// dateDetector finds and reads a line's date: the templates in order, the first match wins
// (fail2ban reorders its templates by hits; anchored ones first gives the same choice on the
// logs it is made for).
type dateDetector struct {
	templates []*dateTemplate
	fast      bool // the default templates come first: fastDate may read the line (see fastISO)
}

// newDateDetector builds the templates of a datepattern (nil: fail2ban's defaults).
func newDateDetector(patterns []string) (*dateDetector, error) {
	d := &dateDetector{}
	if len(patterns) == 0 {
		return d, d.addDefaults("", false)
	}
	for _, p := range patterns {
		key := p
		if !strings.Contains(p, "%") {
			key = strings.ToUpper(p)
		}
		switch {
		case key == "{^LN-BEG}":
			if err := d.addDefaults("", true); err != nil {
				return nil, err
			}
		case key == "{DEFAULT}":
			if err := d.addDefaults("", false); err != nil {
				return nil, err
			}
		case strings.Contains(key, "{DATE}"):
			if err := d.addDefaults(p, false); err != nil {
				return nil, err
			}
		default:
			t, err := newTemplate(p)
			if err != nil {
				return nil, fmt.Errorf("datepattern %q: %w", p, err)
			}
			d.templates = append(d.templates, t)
		}
	}
	return d, nil
}

// addDefaults adds the default templates: line-begin variants first, then the others
// (onlyLineBegin: only the former); preMatch with {DATE}: each default pattern put in its place.
func (d *dateDetector) addDefaults(preMatch string, onlyLineBegin bool) error {
	d.fast = d.fast || preMatch == "" && len(d.templates) == 0
	var anchored, plain []*dateTemplate
	for _, p := range defaultPatterns {
		if preMatch != "" {
			if p == "EPOCH" || p == "TAI64N" {
				continue
			}
			p = strings.TrimPrefix(p, "{^LN-BEG}")
			p = strings.TrimPrefix(p, "^")
			t, err := newTemplate(strings.ReplaceAll(preMatch, "{DATE}", p))
			if err != nil {
				return fmt.Errorf("datepattern %q: %w", preMatch, err)
			}
			plain = append(plain, t)
			continue
		}
		t, err := newTemplate(p)
		if err != nil {
			return err
		}
		if !t.lineBegin {
			a, err := newTemplate("{^LN-BEG}" + p)
			if err != nil {
				return err
			}
			anchored = append(anchored, a)
		}
		if t.lineBegin {
			anchored = append(anchored, t)
		} else {
			plain = append(plain, t)
		}
	}
	d.templates = append(d.templates, anchored...)
	if !onlyLineBegin {
		d.templates = append(d.templates, plain...)
	}
	return nil
}

// newTemplate builds one template as DatePatternRegex / DateEpoch / DateTai64n do.
func newTemplate(pattern string) (*dateTemplate, error) {
	t := &dateTemplate{name: pattern}
	key := strings.ToUpper(pattern)
	wordBegin, wordEnd, start := true, true, false
	regex := ""
	switch key {
	case "{NONE}":
		t.kind = dateNone
		c, err := compileRegex(`^(?P<_date>)`)
		t.re, t.lineBegin = c, true
		return t, err
	case "EPOCH", "LEPOCH":
		t.kind = dateEpoch
		epoch := `\d{10,11}\b(?:\.\d{3,6})?`
		if key == "LEPOCH" {
			t.kind, epoch = dateLongEpoch, `\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?`
		}
		c, err := compileRegex(`(?:^\[?|\baudit\()(?P<_date>(?P<_epoch>` + epoch + `))`)
		t.re, t.wordEnd = c, true
		return t, err
	case "{^LN-BEG}EPOCH", "^EPOCH", "{^LN-BEG}LEPOCH", "^LEPOCH":
		t.kind = dateEpoch
		epoch := `\d{10,11}\b(?:\.\d{3,6})?`
		if strings.HasSuffix(key, "LEPOCH") {
			t.kind, epoch = dateLongEpoch, `\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?`
		}
		c, err := compileRegex(`^(?:\W{0,2})?\[?(?P<_date>(?P<_epoch>` + epoch + `))`)
		t.re, t.wordEnd, t.lineBegin = c, true, true
		return t, err
	case "TAI64N", "{^LN-BEG}TAI64N", "^TAI64N":
		t.kind = dateTAI64N
		if key == "TAI64N" {
			c, err := compileRegex(`(?P<_date>@[0-9a-f]{24})`)
			t.re, t.wordEnd = c, true
			return t, err
		}
		c, err := compileRegex(`^(?:\W{0,2})?(?P<_date>@[0-9a-f]{24})`)
		t.re, t.wordEnd, t.lineBegin = c, true, true
		return t, err
	}
	if strings.HasPrefix(pattern, "{UNB}") {
		pattern = strings.TrimPrefix(pattern, "{UNB}")
		wordBegin, wordEnd = false, false
	}
	if strings.HasPrefix(pattern, "{^LN-BEG}") {
		pattern = strings.TrimPrefix(pattern, "{^LN-BEG}")
		start = true
	}
	if m := epochTagRE.FindStringSubmatch(pattern); m != nil {
		t.kind = dateEpoch
		epoch := `\d{10,11}\b(?:\.\d{3,6})?`
		if m[1] != "" {
			t.kind, epoch = dateLongEpoch, `\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?`
		}
		pattern = epochTagRE.ReplaceAllLiteralString(pattern, `(?P<_epoch>`+epoch+`)`)
		regex = pattern
	} else {
		var err error
		regex = directiveRE.ReplaceAllStringFunc(pattern, func(d string) string {
			r, ok := timeRE[d[1:]]
			if !ok {
				err = fmt.Errorf("unknown directive %s", d)
			}
			return r
		})
		if err != nil {
			return nil, err
		}
		if alphaRE.MatchString(pattern) {
			regex = "(?i)" + regex
		}
	}
	regex = strings.TrimSpace(regex)
	flags := globalFlagsRE.FindString(regex)
	regex = regex[len(flags):]
	if noWordBegRE.MatchString(regex) {
		wordBegin = false
	}
	if noWordEndRE.MatchString(regex) && !strings.HasSuffix(regex, `\$`) {
		wordEnd = false
	}
	regex = strings.ReplaceAll(regex, "**", "")
	// the date group: the pattern's first unnamed group, else the whole (less ^ and $)
	if loc := unnamedRE.FindStringIndex(regex); loc != nil {
		i := strings.IndexByte(regex[loc[0]:], '(') + loc[0]
		regex = regex[:i] + "(?P<_date>" + regex[i+1:]
	} else {
		pre, body, post := "", regex, ""
		if strings.HasPrefix(body, "^") {
			pre, body = "^", body[1:]
		}
		if strings.HasSuffix(body, "$") && !strings.HasSuffix(body, `\$`) {
			post, body = "$", body[:len(body)-1]
		}
		regex = pre + "(?P<_date>" + body + ")" + post
	}
	if start && wordBegin {
		regex = `^(?:\W{0,2})?` + regex
		wordBegin = false
	}
	t.lineBegin = strings.HasPrefix(regex, "^")
	t.wordBegin, t.wordEnd = wordBegin, wordEnd
	c, err := compileRegex(flags + regex)
	if err != nil {
		return nil, err
	}
	t.re = c
	return t, nil
}

// isWord reports whether c is a regex word character (ASCII; fail2ban's \w is Unicode).
func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// kv is one named group of a date match.
type kv struct{ k, v string }

// find returns the date's span in line and the named groups, or ok false.
func (t *dateTemplate) find(line string) (start, end int, groups []kv, ok bool) {
	pos := 0
	for pos <= len(line) {
		var (
			s, e   int
			ds, de int
		)
		if re := t.re.re; re != nil {
			loc := re.FindStringSubmatchIndex(line[pos:])
			if loc == nil {
				return 0, 0, nil, false
			}
			s, e = pos+loc[0], pos+loc[1]
			if t.good(line, s, e) {
				groups = make([]kv, 0, 8)
				for i, n := range t.re.names {
					if n == "" || loc[2*i] < 0 {
						continue
					}
					if n == "_date" {
						ds, de = pos+loc[2*i], pos+loc[2*i+1]
					}
					groups = append(groups, kv{n, line[pos+loc[2*i] : pos+loc[2*i+1]]})
				}
				return ds, de, groups, true
			}
		} else {
			m, err := t.re.find(line[pos:])
			if err != nil || m == nil {
				return 0, 0, nil, false
			}
			s, e = pos+m.start, pos+m.end
			if t.good(line, s, e) {
				for k, v := range m.groups {
					groups = append(groups, kv{k, v})
				}
				sp := m.date
				return pos + sp[0], pos + sp[1], groups, true
			}
		}
		if t.lineBegin {
			return 0, 0, nil, false
		}
		pos = s + 1
	}
	return 0, 0, nil, false
}

// good checks the word boundaries fail2ban puts around a date: (?=^|\b|\W) before it and
// (?=\b|\W|$) after it, false only between two word characters.
func (t *dateTemplate) good(line string, s, e int) bool {
	if t.wordBegin && s > 0 && s < len(line) && isWord(line[s-1]) && isWord(line[s]) {
		return false
	}
	if t.wordEnd && e > 0 && e < len(line) && isWord(line[e-1]) && isWord(line[e]) {
		return false
	}
	return true
}

// date is a found date: its span in the line, and the time (zero when it does not parse).
type date struct {
	start, end int
	time       time.Time
	ok         bool
}

// detect finds the line's date with the first template that matches. hint, when not nil,
// is the template that matched last: a line-begin template is tried first (logs keep their
// format), as fail2ban's detector does with its last used template.
// With noTime, only the span is found (time and ok are left zero).
func (d *dateDetector) detect(line string, now time.Time, loc *time.Location, hint *int, noTime bool) (date, bool) {
	try := func(t *dateTemplate) (date, bool) {
		s, e, groups, ok := t.find(line)
		if !ok {
			return date{}, false
		}
		if noTime {
			return date{start: s, end: e}, true
		}
		tm, ok := t.parse(groups, now, loc)
		return date{start: s, end: e, time: tm, ok: ok}, true
	}
	// The template tried first is the hint's, when it is a line-begin one; fastDate's two read
	// only lines that no other line-begin template matches first, so any other hint says
	// another format is in use: leave it to the regexes.
	if d.fast && (hint == nil || *hint < 0 || *hint == fastISO || *hint == fastISO+1 || !d.templates[*hint].lineBegin) {
		if r, i, ok := d.fastDate(line, now, loc, noTime); ok {
			if hint != nil {
				*hint = i
			}
			return r, true
		}
	}
	if hint != nil && *hint >= 0 && d.templates[*hint].lineBegin {
		if r, ok := try(d.templates[*hint]); ok {
			return r, true
		}
	}
	for i, t := range d.templates {
		if r, ok := try(t); ok {
			if hint != nil {
				*hint = i
			}
			return r, true
		}
	}
	return date{}, false
}

var (
	months   = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	fullMons = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
)

// parse is strptime.py's reGroupDictStrptime (and the epoch and TAI64N templates' getDate).
func (t *dateTemplate) parse(g []kv, now time.Time, loc *time.Location) (time.Time, bool) {
	get := func(k string) string {
		for _, x := range g {
			if x.k == k {
				return x.v
			}
		}
		return ""
	}
	switch t.kind {
	case dateNone:
		return now, true
	case dateEpoch, dateLongEpoch:
		v := get("_epoch")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return time.Time{}, false
		}
		if t.kind == dateLongEpoch && len(v) >= 13 {
			if len(v) >= 16 && !strings.Contains(v, ".") {
				f /= 1e6
			} else {
				f /= 1e3
			}
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3), true
	case dateTAI64N:
		v := get("_date")
		if len(v) < 17 {
			return time.Time{}, false
		}
		n, err := strconv.ParseInt(v[2:17], 16, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(n, 0), true
	}
	year, month, day := -1, -1, -1
	hour, minute, second := 0, 0, 0
	var tzoff *int
	julian := -1
	atoi := func(s string) int { n, _ := strconv.Atoi(strings.TrimSpace(s)); return n }
	for _, x := range g {
		k, v := x.k, x.v
		switch k {
		case "y":
			year = atoi(v)
			if year <= 2000 {
				year += 2000
			}
		case "Y":
			year = atoi(v)
		case "m":
			month = atoi(v)
		case "b":
			month = indexOf(months, strings.ToLower(v)) + 1
		case "B":
			month = indexOf(fullMons, strings.ToLower(v)) + 1
		case "d":
			day = atoi(v)
		case "H":
			hour = atoi(v)
		case "I":
			hour = atoi(v)
			switch strings.ToLower(get("p")) {
			case "", "am":
				if hour == 12 {
					hour = 0
				}
			case "pm":
				if hour != 12 {
					hour += 12
				}
			}
		case "M":
			minute = atoi(v)
		case "S":
			second = atoi(v)
		case "j":
			julian = atoi(v)
		case "z", "Z":
			off, ok := zoneOffset(v)
			if !ok {
				return time.Time{}, false
			}
			tzoff = &off
		}
	}
	assumeYear := false
	if year < 0 {
		year, assumeYear = now.In(loc).Year(), true
	}
	if (month < 0 || day < 0) && julian > 0 {
		jd := time.Date(year, 1, julian, 0, 0, 0, 0, time.UTC)
		month, day = int(jd.Month()), jd.Day()
	}
	assumeToday := false
	if month < 0 && day < 0 {
		n := now.In(loc)
		month, day, assumeToday = int(n.Month()), n.Day(), true
	}
	if month < 1 || day < 1 || second > 60 {
		return time.Time{}, false
	}
	zone := loc
	if tzoff != nil {
		zone = time.FixedZone("", *tzoff*60)
	}
	r := time.Date(year, time.Month(month), day, hour, minute, second, 0, zone)
	if r.Day() != day {
		return time.Time{}, false // 31 February: Python's datetime raises
	}
	if assumeToday && r.After(now) {
		r = r.AddDate(0, 0, -1)
	}
	if assumeYear && r.After(now.Add(24*time.Hour)) {
		r = time.Date(year-1, time.Month(month), day, hour, minute, second, 0, zone)
	}
	return r, true
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -2
}

var fixedOffsetRE = regexp.MustCompile(`^([A-Z](?:[A-Z]{2,4})?)?([+-][01]\d(?::?\d{2})?)?$`)

// zoneOffset is strptime.py's zone2offset: minutes east of UTC.
func zoneOffset(z string) (int, bool) {
	if z == "Z" || z == "UTC" || z == "GMT" {
		return 0, true
	}
	m := fixedOffsetRE.FindStringSubmatch(z)
	if m == nil {
		return 0, false
	}
	base, ok := tzAbbr[m[1]]
	if !ok && m[1] != "" {
		return 0, false
	}
	o := m[2]
	switch {
	case o == "":
		return base, true
	case len(o) <= 3:
		n, _ := strconv.Atoi(o)
		return base + n*60, true
	}
	sign := 1
	if o[0] == '-' {
		sign = -1
	}
	digits := strings.ReplaceAll(o[1:], ":", "")
	h, _ := strconv.Atoi(digits[:2])
	mm, _ := strconv.Atoi(digits[2:])
	return base + sign*(h*60+mm), true
}

// tzAbbr is strptime.py's TZ_ABBR_OFFS (minutes).
var tzAbbr = func() map[string]int {
	const table = `-12 Y
-11 X NUT SST
-10 W CKT HAST HST TAHT TKT
-9 V AKST GAMT GIT HADT HNY
-8 U AKDT CIST HAY HNP PST PT
-7 T HAP HNR MST PDT
-6 S CST EAST GALT HAR HNC MDT
-5 R CDT COT EASST ECT EST ET HAC HNE PET
-4 Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT
-3 P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT
-2 O BRST FNT PMDT UYST WGST
-1 N AZOT CVT EGT
0 Z EGST GMT UTC WET WT
1 A CET DFT WAT WEDT WEST
2 B CAT CEDT CEST EET SAST WAST
3 C EAT EEDT EEST IDT MSK
4 D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT
5 E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT
6 F ALMT BIOT BTT IOT KGT NOVT OMST YEKST
7 G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB
8 H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST
9 I AWDT IRKST JST KST PWT TLT WDT WIT YAKT
10 K AEST ChST PGT VLAT YAKST YAPT
11 L AEDT LHDT MAGT NCT PONT SBT VLAST VUT
12 M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT
13 FJST NZDT
11.5 NFT
10.5 ACDT LHST
9.5 ACST
6.5 CCT MMT
5.75 NPT
5.5 SLT
4.5 AFT IRDT
3.5 IRST
-2.5 HAT NDT
-3.5 HNT NST NT
-4.5 HLV VET
-9.5 MART MIT`
	m := map[string]int{"": 0}
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		h, _ := strconv.ParseFloat(f[0], 64)
		for _, z := range f[1:] {
			m[z] = int(h * 60)
		}
	}
	return m
}()
