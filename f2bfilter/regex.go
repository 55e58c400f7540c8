package f2bfilter

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
)

// Engine names, as `check` and `regex` print them.
const (
	EngineRE2       = "re2"       // Go's regexp: linear time
	EngineBacktrack = "backtrack" // regexp2, bounded by MatchTimeout per line
)

// MatchTimeout bounds one backtracking regex on one line (or multi-line buffer).
const MatchTimeout = 100 * time.Millisecond

// The host tags, as fail2ban 1.0.2's failregex.py writes them. IPv6's (?<=:): is always
// preceded by the ':' its repetition ends with, so it is written ':' here: exact, and RE2.
const (
	reIP4    = `(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})`
	reIP6    = `(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:))`
	reDNS    = `(?P<dns>[\w\-.^_]*\w)`
	reCIDR   = `(?P<cidr>\d+)`
	reAddr   = `\[?(?:` + reIP4 + `|` + reIP6 + `)\]?`
	reHost   = `(?:` + reAddr + `|` + reDNS + `)`
	reSubnet = `\[?(?:` + reIP4 + `|` + reIP6 + `)(?:/` + reCIDR + `)?\]?`
)

var hostTags = map[string]string{
	"IP4": reIP4, "F-IP4/": reIP4,
	"IP6": reIP6, "F-IP6/": reIP6,
	"ADDR": reAddr, "F-ADDR/": reAddr,
	"CIDR": reCIDR, "F-CIDR/": reCIDR,
	"SUBNET": reSubnet, "F-SUBNET/": reSubnet,
	"DNS": reDNS, "F-DNS/": reDNS,
	"F-ID/":   `(?P<fid>\S+)`,
	"F-PORT/": `(?P<fport>\w+)`,
	"HOST":    reHost,
}

var (
	ftagRE      = regexp.MustCompile(`</?[\w\-]+/?>`)
	fcustNameRE = regexp.MustCompile(`^(/?)F-([A-Z0-9_\-]+)$`)
)

// expandTags is failregex.py's _resolveHostTag: <HOST>, <ADDR>, <IP4>, <IP6>, <DNS>, <CIDR>,
// <SUBNET>, <SKIPLINES>, <F-NAME>...</F-NAME> (group "name", with id→fid, port→fport) and the
// self-closing <F-ID/> forms. Other tags stay as written.
func expandTags(s string) string {
	open := map[string]bool{}
	nl := 0
	return ftagRE.ReplaceAllStringFunc(s, func(tag string) string {
		tn := tag[1 : len(tag)-1]
		if tn == "SKIPLINES" {
			r := fmt.Sprintf(`\n(?P<skiplines%d>(?:(?:.*\n)*?))`, nl)
			nl++
			return r
		}
		if r, ok := hostTags[tn]; ok {
			return r
		}
		m := fcustNameRE.FindStringSubmatch(tn)
		if m == nil {
			return tag
		}
		name := m[2]
		if m[1] != "" {
			if open[name] {
				return ")"
			}
			return tag
		}
		open[name] = true
		return "(?P<" + groupName(name) + ">"
	})
}

// groupName is fail2ban's mapTag2Opt.
func groupName(tag string) string {
	tag = strings.ToLower(tag)
	switch tag {
	case "id":
		return "fid"
	case "port":
		return "fport"
	}
	return tag
}

// compiled is one regex on one of the two engines.
type compiled struct {
	src    string // after tag expansion, as Python would compile it
	engine string
	re     *regexp.Regexp
	re2    *regexp2.Regexp
	names  []string // group names, by group number (re) or as listed (re2)
	// head, when not nil, is a regexp2 regex ending in a lookahead split in two RE2 regexes
	// (see splitLookahead): tried first, on lines where the two engines agree.
	head *lookaheadSplit
	// tail, when not nil, is an RE2 regex ending in (?P<name>.+)$ without that group (see
	// splitTail), tried first.
	tail *tailSplit
}

// match is one regex match: the span and the named groups that took part.
type match struct {
	start, end int
	groups     map[string]string
	date       [2]int // the span of the group _date (date templates)
}

// newMatch is the match of an RE2 regex: loc as FindStringSubmatchIndex gives it, names as
// SubexpNames.
func newMatch(s string, loc []int, names []string) *match {
	m := &match{start: loc[0], end: loc[1]}
	for i, n := range names {
		if n == "" || loc[2*i] < 0 {
			continue
		}
		if m.groups == nil {
			m.groups = make(map[string]string, 4)
		}
		m.groups[n] = s[loc[2*i]:loc[2*i+1]]
		if n == "_date" {
			m.date = [2]int{loc[2*i], loc[2*i+1]}
		}
	}
	return m
}

// compileRegex compiles a Python regex (tags expanded): with Go's regexp when the translation
// to RE2 is exact, else with regexp2 bounded by MatchTimeout.
func compileRegex(src string) (*compiled, error) {
	c := &compiled{src: src}
	if t, ok := toRE2(src); ok {
		if re, err := regexp.Compile(t); err == nil {
			c.engine, c.re, c.names = EngineRE2, re, re.SubexpNames()
			c.tail = splitTail(t)
			return c, nil
		}
	}
	re2, err := regexp2.Compile(toRegexp2(src), regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("neither RE2 nor the backtracking engine compiles it: %w", err)
	}
	re2.MatchTimeout = MatchTimeout
	c.engine, c.re2 = EngineBacktrack, re2
	c.head = splitLookahead(src)
	for _, n := range re2.GetGroupNames() {
		if n != "" && (n[0] < '0' || n[0] > '9') {
			c.names = append(c.names, n)
		}
	}
	return c, nil
}

// find searches s. The error is a timeout of the backtracking engine.
func (c *compiled) find(s string) (*match, error) {
	if c.re != nil {
		if c.tail != nil {
			if m, decided := c.tail.find(s); decided {
				return m, nil
			}
		}
		loc := c.re.FindStringSubmatchIndex(s)
		if loc == nil {
			return nil, nil
		}
		return newMatch(s, loc, c.names), nil
	}
	if c.head != nil {
		if m, decided := c.head.find(s); decided {
			return m, nil
		}
	}
	rm, err := c.re2.FindStringMatch(s)
	if err != nil || rm == nil {
		return nil, err
	}
	// regexp2 counts runes; map back to bytes.
	ascii := isASCII(s)
	runeToByte := func(r int) int {
		if ascii {
			return r
		}
		n := 0
		for i := range s {
			if n == r {
				return i
			}
			n++
		}
		return len(s)
	}
	m := &match{start: runeToByte(rm.Index), end: runeToByte(rm.Index + rm.Length)}
	for _, n := range c.names {
		g := rm.GroupByName(n)
		if g == nil || len(g.Captures) == 0 {
			continue
		}
		if m.groups == nil {
			m.groups = map[string]string{}
		}
		m.groups[n] = g.String()
		if n == "_date" {
			m.date = [2]int{runeToByte(g.Index), runeToByte(g.Index + g.Length)}
		}
	}
	return m, nil
}

// matches reports whether s matches, without reading groups.
func (c *compiled) matches(s string) (bool, error) {
	if c.re != nil {
		return c.re.MatchString(s), nil
	}
	if c.head != nil {
		if m, decided := c.head.find(s); decided {
			return m != nil, nil
		}
	}
	return c.re2.MatchString(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// toRE2 translates Python regex syntax to Go's where the meaning is the same: \Z is \z,
// {,n} is {0,n}, the flags a, u and L are dropped. ok is false for what RE2 lacks: lookaround,
// backreferences, atomic groups, possessive quantifiers, conditionals.
func toRE2(s string) (string, bool) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			n := s[i+1]
			if !inClass {
				switch {
				case n == 'Z':
					b.WriteString(`\z`)
					i++
					continue
				case n >= '1' && n <= '9':
					return "", false // backreference
				}
			}
			b.WriteByte(c)
			b.WriteByte(n)
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			j := i + 1
			if j < len(s) && s[j] == '^' {
				b.WriteByte('^')
				j++
			}
			if j < len(s) && s[j] == ']' {
				b.WriteString(`\]`)
				j++
			}
			i = j - 1
		case c == '(' && strings.HasPrefix(s[i:], "(?"):
			rest := s[i+2:]
			switch {
			case strings.HasPrefix(rest, "P<"), strings.HasPrefix(rest, ":"):
				b.WriteByte(c)
			case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"), strings.HasPrefix(rest, "<"),
				strings.HasPrefix(rest, "P="), strings.HasPrefix(rest, ">"), strings.HasPrefix(rest, "("),
				strings.HasPrefix(rest, "#"):
				return "", false
			default: // flags: (?aiLmsux) or (?flags:...)
				j := 0
				for j < len(rest) && strings.IndexByte("aiLmsux-", rest[j]) >= 0 {
					j++
				}
				if j == len(rest) || (rest[j] != ')' && rest[j] != ':') {
					return "", false
				}
				flags := rest[:j]
				if strings.ContainsRune(flags, 'x') {
					return "", false
				}
				flags = strings.NewReplacer("a", "", "u", "", "L", "").Replace(flags)
				if flags == "" || flags == "-" {
					if rest[j] == ')' {
						i += 2 + j
						continue
					}
					b.WriteString("(?:")
				} else {
					b.WriteString("(?" + flags + string(rest[j]))
				}
				i += 2 + j
			}
		case c == '{' && strings.HasPrefix(s[i:], "{,"):
			b.WriteString("{0,")
			i++
		case (c == '+' || c == '*' || c == '?' || c == '}') && i+1 < len(s) && s[i+1] == '+':
			return "", false // possessive
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

var (
	pyNamedRE = regexp.MustCompile(`\(\?P<`)
	pyBackRE  = regexp.MustCompile(`\(\?P=(\w+)\)`)
)

// toRegexp2 translates Python syntax to regexp2's (.NET): (?P<n>...) is (?<n>...), (?P=n) is
// \k<n>, \Z is \z.
func toRegexp2(s string) string {
	s = pyNamedRE.ReplaceAllString(s, "(?<")
	s = pyBackRE.ReplaceAllString(s, `\k<$1>`)
	s = strings.ReplaceAll(s, `\Z`, `\z`)
	return s
}

var lookaroundRE = regexp.MustCompile(`\(\?(?:=|!|<=|<!)`)

// literal returns an RE2 regex that matches wherever c does: c itself when it is RE2, else c
// with its lookarounds dropped (which only widens it); "" when there is none.
func (c *compiled) literal() string {
	if c.re != nil {
		return c.re.String()
	}
	s := c.src
	for {
		loc := lookaroundRE.FindStringIndex(s)
		if loc == nil {
			break
		}
		end := groupEnd(s, loc[0])
		if end < 0 {
			return ""
		}
		s = s[:loc[0]] + s[end:]
	}
	if t, ok := toRE2(s); ok {
		if _, err := regexp.Compile(t); err == nil {
			return t
		}
	}
	return ""
}

// groupEnd returns the index after the ')' closing the group that opens at s[i], or -1.
func groupEnd(s string, i int) int {
	depth, inClass := 0, false
	for j := i; j < len(s); j++ {
		var structural bool
		if j, inClass, structural = regexStep(s, j, inClass); !structural {
			continue
		}
		switch s[j] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return -1
}

// regexStep reads the regex s at j, inside a character class or not, for the scanners that
// look at a regex's structure. It returns the index of the byte the step ended on (the loop
// goes on after it), whether the scan is now inside a class, and whether s[j] is structural:
// outside any class and not escaped (a parenthesis, '|', or an ordinary character).
func regexStep(s string, j int, inClass bool) (int, bool, bool) {
	switch c := s[j]; {
	case c == '\\':
		return j + 1, inClass, false
	case inClass:
		return j, c != ']', false
	case c == '[':
		if j+1 < len(s) && s[j+1] == '^' {
			j++
		}
		if j+1 < len(s) && s[j+1] == ']' {
			j++
		}
		return j, true, false
	}
	return j, false, true
}
