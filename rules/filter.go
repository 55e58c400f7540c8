package rules

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/fail2ban-scan/fail2ban-scan/internal/ipv4"
)

// MatchResult is the outcome of matching one log line against a Filter.
type MatchResult int

const (
	// Miss: no failregex matched (or the matched host was not a valid IP address).
	Miss MatchResult = iota
	// Match: a failregex matched and no ignoreregex did.
	Match
	// Ignored: a failregex matched but an ignoreregex matched too.
	Ignored
)

// String returns "miss", "match" or "ignored".
func (r MatchResult) String() string {
	switch r {
	case Miss:
		return "miss"
	case Match:
		return "match"
	case Ignored:
		return "ignored"
	}
	return fmt.Sprintf("MatchResult(%d)", int(r))
}

// Filter decides which log lines are failures and of which host. It is compiled once by
// LoadFilter and is safe for concurrent use by several goroutines.
//
// Matching follows fail2ban: the timestamp at the start of the line (see ParseTime) is cut
// off and the rest, starting with the space after the stamp, is searched. When the filter has
// a prefregex, it must match first and its <F-CONTENT> group is what the failregexes and
// ignoreregexes see. A line without a stamp is matched as a whole. The built-in filters' regexes
// have hand-written matchers as well, which give the same results in a fraction of the time
// (see builtinMatcher).
type Filter struct {
	name    string
	pref    *pattern   // optional prefregex; its content group is f2b_content
	toEnd   bool       // the content runs to the end of the line (prefregex ended in <F-CONTENT>.+</F-CONTENT>$)
	fail    []*pattern // failregexes, in order
	ignore  []*pattern // ignoreregexes
	sources []string   // failregex sources for Patterns

	// sshd: the sshd built-in's helpers for its connection memory (see Session); nil for
	// other filters.
	sshd *sshdMemoryRules

	// ext is a fail2ban: filter (see LoadFilterIn): it matches instead of all of the above.
	ext *fail2banFilter

	// prefilter: literals a line must contain to possibly match, checked before any regex
	// (nil: no literal is known, every line goes to the regexes).
	prefilter *prefilter
}

// pattern is one compiled regex with what Match needs to read it.
type pattern struct {
	src     string // as written (after interpolation), for error messages and Patterns
	re      *regexp.Regexp
	hosts   []int // submatch numbers of <HOST> groups
	content int   // submatch number of <F-CONTENT> (prefregex only), else -1
	looks   []lookahead
	lead    []byte // what a match starts b with, when the regex starts with ^ and a literal

	// fast is the hand-written matcher of a built-in filter's regex (nil: none); daemon, when
	// the regex starts with %(__prefix_line)s, matches the filter's %(_daemon)s. See
	// builtinMatcher.
	fast   fastMatcher
	daemon daemonMatcher
}

// lookahead emulates a Python (?=...) or (?!...): RE2 has none, so the lookaround is replaced
// by an empty group marking its position, and after a match the body is tried, anchored, at
// that position. Unlike Python, a failed check does not make the engine backtrack into
// another parse of the line; the built-in filters only use lookaheads at positions that a
// line's parse fixes, where the two agree.
type lookahead struct {
	group    int
	re       *regexp.Regexp // ^(?:body)
	lits     []string       // when the body is a|b|...: the literals, one of which must start b
	negative bool
}

const (
	hostGroup    = "f2b_host"
	contentGroup = "f2b_content"
	lookGroup    = "f2b_look"
	ip4RE        = `\d{1,3}(?:\.\d{1,3}){3}`
	ip6RE        = `[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*[0-9A-Fa-f:]`
)

// Name returns the filter as named in its spec: a built-in name with its options
// ("postfix[mode=auth]"), the filter file path, or the literal regex.
func (f *Filter) Name() string { return f.name }

// Patterns returns the failregex sources, in the order Match's pattern index refers to: as the
// user or the built-in filter wrote them, with %(...)s and <option> tags resolved except
// %(__prefix_line)s, and <HOST> kept. Jail additions (extraFail) come last.
func (f *Filter) Patterns() []string {
	return append([]string(nil), f.sources...)
}

// Match reports whether line is a failure, the host it blames, and the index into Patterns of
// the failregex that matched (-1 on Miss). On Ignored, host and pattern are those of the
// failregex that an ignoreregex overrode. A trailing "\n" or "\r\n" is ignored. Match does not
// retain line, and does not allocate for lines the literal prefilter rejects.
func (f *Filter) Match(line []byte) (res MatchResult, host netip.Addr, pattern int) {
	if f.ext != nil {
		return f.ext.match(line)
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if !f.prefilter.match(line) {
		return Miss, netip.Addr{}, -1
	}
	_, n := scanStamp(line)
	rest := line[n:]

	// With a prefilter, lines that get here mostly match: skip the allocation-free
	// regexp.Match that would otherwise keep the non-matching ones from allocating.
	precheck := f.prefilter == nil
	buf := rest
	var prefLoc []int
	if f.pref != nil {
		if l, ok := f.pref.matchFast(rest); ok {
			buf = rest[l.end:] // a fast prefregex has toEnd and no <HOST>
		} else {
			loc, ok := f.pref.match(rest, precheck)
			if !ok {
				return Miss, netip.Addr{}, -1
			}
			c := f.pref.content
			buf = rest[loc[2*c]:loc[2*c+1]]
			if f.toEnd {
				buf = rest[loc[2*c]:]
			}
			prefLoc = loc
		}
		// .+$ without running it: the rest of the line, non-empty, one line.
		if f.toEnd && (len(buf) == 0 || bytes.IndexByte(buf, '\n') >= 0) {
			return Miss, netip.Addr{}, -1
		}
	}
	for i, p := range f.fail {
		var (
			addr netip.Addr
			ok   bool
		)
		if p.lead != nil && !bytes.HasPrefix(buf, p.lead) {
			continue
		}
		if l, fast := p.matchFast(buf); fast {
			addr, ok = parseHost(buf[l.host[0]:l.host[1]]) // a fast failregex has one <HOST>
		} else if l.miss {
			continue
		} else {
			loc, m := p.match(buf, precheck)
			if !m {
				continue
			}
			addr, ok = p.host(buf, loc)
			if !ok && len(p.hosts) == 0 && f.pref != nil {
				addr, ok = f.pref.host(rest, prefLoc)
			}
		}
		if !ok {
			continue
		}
		for _, ig := range f.ignore {
			if _, ok := ig.match(buf, true); ok {
				return Ignored, addr, i
			}
		}
		return Match, addr, i
	}
	return Miss, netip.Addr{}, -1
}

// match runs the regex and its lookahead checks over b. It returns the submatch indices.
// precheck first tries regexp.Match, which does not allocate, so that a miss costs no garbage.
func (p *pattern) match(b []byte, precheck bool) ([]int, bool) {
	if precheck && !p.re.Match(b) {
		return nil, false
	}
	loc := p.re.FindSubmatchIndex(b)
	if loc == nil {
		return nil, false
	}
	for _, la := range p.looks {
		pos := loc[2*la.group]
		if pos < 0 {
			continue // its branch did not take part in the match
		}
		if la.matches(b[pos:]) == la.negative {
			return nil, false
		}
	}
	return loc, true
}

// matchFast runs p's hand-written matcher (see builtinMatcher), after scanning
// %(__prefix_line)s if its regex starts with it, and the lookahead check. ok means p matches
// b with these positions; !ok means nothing (no matcher, or it could not tell), and the regex
// must be run. It does not allocate.
func (p *pattern) matchFast(b []byte) (fastLoc, bool) {
	if p.fast == nil {
		return fastLoc{}, false
	}
	off := 0
	if p.daemon != nil {
		e, ok := scanPrefixLine(b, p.daemon)
		if !ok {
			return fastLoc{}, false
		}
		off = e
	}
	l, ok := p.fast(b[off:])
	if !ok {
		return fastLoc{miss: l.miss && p.daemon == nil}, false
	}
	l.end += off
	if l.host[0] >= 0 {
		l.host[0] += off
		l.host[1] += off
	}
	if l.look >= 0 {
		if la := &p.looks[0]; la.matches(b[off+l.look:]) == la.negative {
			return fastLoc{}, false
		}
	}
	return l, true
}

// matches reports whether the lookahead's body matches at the start of b.
func (la *lookahead) matches(b []byte) bool {
	if la.lits == nil {
		return la.re.Match(b)
	}
	for _, l := range la.lits {
		if hasPrefixAt(b, 0, l) {
			return true
		}
	}
	return false
}

// host returns the address captured by the first <HOST> group that took part in the match.
func (p *pattern) host(b []byte, loc []int) (netip.Addr, bool) {
	for _, g := range p.hosts {
		if s := loc[2*g]; s >= 0 {
			return parseHost(b[s:loc[2*g+1]])
		}
	}
	return netip.Addr{}, false
}

// parseHost parses a captured host. Addresses netip cannot parse (or with a zone) are
// rejected; v4-mapped v6 becomes v4.
func parseHost(b []byte) (netip.Addr, bool) {
	if a, ok := ipv4.Parse(b); ok {
		return a, true // most hosts of a botnet's log: no string made for netip (500,000 in a first run)
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// LoadFilter compiles a filter spec:
//   - a built-in name with optional fail2ban-style options: "postfix-sasl", "postfix",
//     "postfix[mode=auth]", `postfix[mode="auth"]`; postfix's modes are more (the default), normal, auth, rbl, ddos,
//     extra, aggressive and errors, as in fail2ban 1.0;
//   - a filter file in fail2ban's format, when the spec contains '/' or ends in .conf or
//     .local (optionally followed by [options]), read with readFile;
//   - a literal regex containing <HOST>.
//
// extraFail and extraIgnore are the jail's own failregex and ignoreregex additions; each
// extraFail must contain <HOST>. They may use %(...)s keys of the filter (%(__prefix_line)s)
// and, as in fail2ban, see only the <F-CONTENT> part of a line when the filter has a prefregex.
//
// Regexes are Go RE2 with these fail2ban conveniences: <HOST> and <ADDR> capture an IPv4 or
// IPv6 address (never a host name), <IP4> and <IP6> one family; <F-NAME>...</F-NAME> groups;
// \Z; and (?=...) / (?!...) lookaheads, emulated (see Filter). Lookbehinds, backreferences and
// multi-line tags are errors.
func LoadFilter(spec string, extraFail, extraIgnore []string, readFile func(string) ([]byte, error)) (*Filter, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New(`filter "": empty filter spec`)
	}
	var (
		def *filterDef
		err error
	)
	if hasHostTag(spec) {
		def = &filterDef{name: spec, res: newResolver(nil, nil)}
		def.fail = []srcLine{{text: spec}}
	} else {
		def, err = loadDefinition(spec, readFile)
		if err != nil {
			return nil, err
		}
	}
	for _, s := range extraFail {
		if strings.TrimSpace(s) == "" {
			return nil, errors.New(`failregex "": empty`)
		}
		def.extraFail = append(def.extraFail, srcLine{text: s})
	}
	for _, s := range extraIgnore {
		if strings.TrimSpace(s) == "" {
			return nil, errors.New(`ignoreregex "": empty`)
		}
		def.extraIgnore = append(def.extraIgnore, srcLine{text: s})
	}
	return def.compile()
}

// srcLine is one regex of a filter with where it was written (line 0: not in a file).
type srcLine struct {
	text string
	line int
}

// filterDef is a filter before compilation.
type filterDef struct {
	name        string // Name()
	file        string // filter file path for error messages, "" for built-ins and literals
	builtin     bool
	sshd        *sshdMemoryRules // the sshd built-in's connection memory (see Session)
	res         *resolver
	pref        *srcLine
	fail        []srcLine
	ignore      []srcLine
	extraFail   []srcLine
	extraIgnore []srcLine
}

// errAt prefixes err with the file and line a regex came from.
func (d *filterDef) errAt(l srcLine, err error) error {
	switch {
	case d.file != "" && l.line > 0:
		return fmt.Errorf("%s:%d: %w", d.file, l.line, err)
	case d.file != "":
		return fmt.Errorf("%s: %w", d.file, err)
	case d.builtin:
		return fmt.Errorf("filter %q: %w", d.name, err)
	}
	return err
}

// compile resolves and compiles all regexes of d.
func (d *filterDef) compile() (*Filter, error) {
	f := &Filter{name: d.name, sshd: d.sshd}
	prefix, err := d.res.prefixLine()
	if err != nil {
		return nil, d.errAt(srcLine{}, err)
	}
	daemon := d.res.fastDaemon(prefix)
	var prePref *prefilter
	if d.pref != nil {
		src, err := d.res.resolveOne(d.pref.text)
		if err != nil {
			return nil, d.errAt(*d.pref, fmt.Errorf("prefregex: %w", err))
		}
		compiled := src
		const toEnd = "<F-CONTENT>.+</F-CONTENT>$"
		if strings.HasSuffix(src, toEnd) && !strings.HasSuffix(src, `\`+toEnd) {
			compiled = strings.TrimSuffix(src, toEnd) + "<F-CONTENT></F-CONTENT>" // see Match
			f.toEnd = true
		}
		p, pre, err := compilePattern(compiled, prefix, roleInside)
		if err != nil {
			return nil, d.errAt(*d.pref, fmt.Errorf("prefregex %q: %w", src, err))
		}
		if p.content < 0 {
			return nil, d.errAt(*d.pref, fmt.Errorf("prefregex %q: no <F-CONTENT> group", src))
		}
		if f.toEnd {
			p.attachFast(daemon)
		}
		f.pref, prePref = p, pre
	}
	var preFail []*prefilter
	anyFail := false // some failregex has no prefilter: every line may match
	addFail := func(lines []srcLine, extra bool) error {
		for _, l := range lines {
			srcs, err := d.res.resolve(l.text)
			if err != nil {
				e := fmt.Errorf("failregex %q: %w", l.text, err)
				if extra {
					return e
				}
				return d.errAt(l, e)
			}
			for _, src := range srcs {
				role := roleFail
				if f.pref != nil && len(f.pref.hosts) > 0 {
					role = roleInside // the host may come from the prefregex
				}
				p, pre, err := compilePattern(src, prefix, role)
				if err != nil {
					e := fmt.Errorf("failregex %q: %w", src, err)
					if extra {
						return e
					}
					return d.errAt(l, e)
				}
				p.attachFast(daemon)
				f.fail = append(f.fail, p)
				f.sources = append(f.sources, src)
				if pre == nil {
					anyFail = true
				}
				preFail = append(preFail, pre)
			}
		}
		return nil
	}
	addIgnore := func(lines []srcLine, extra bool) error {
		for _, l := range lines {
			srcs, err := d.res.resolve(l.text)
			if err != nil {
				e := fmt.Errorf("ignoreregex %q: %w", l.text, err)
				if extra {
					return e
				}
				return d.errAt(l, e)
			}
			for _, src := range srcs {
				p, _, err := compilePattern(src, prefix, roleIgnore)
				if err != nil {
					e := fmt.Errorf("ignoreregex %q: %w", src, err)
					if extra {
						return e
					}
					return d.errAt(l, e)
				}
				f.ignore = append(f.ignore, p)
			}
		}
		return nil
	}
	if err := addFail(d.fail, false); err != nil {
		return nil, err
	}
	if err := addFail(d.extraFail, true); err != nil {
		return nil, err
	}
	if len(f.fail) == 0 {
		return nil, d.errAt(srcLine{}, errors.New("no failregex"))
	}
	if err := addIgnore(d.ignore, false); err != nil {
		return nil, err
	}
	if err := addIgnore(d.extraIgnore, true); err != nil {
		return nil, err
	}
	failPre := (*prefilter)(nil)
	if !anyFail {
		failPre = newOr(preFail)
	}
	f.prefilter = newAnd([]*prefilter{prePref, failPre})
	return f, nil
}

// attachFast gives p the hand-written matcher of its regex, if it has one (see
// builtinMatcher). daemon matches the filter's %(_daemon)s; nil when its __prefix_line is not
// ours with a built-in daemon.
func (p *pattern) attachFast(daemon daemonMatcher) {
	m, afterPrefix, hosts, looks := builtinMatcher(p.src)
	if m == nil || afterPrefix && daemon == nil || len(p.hosts) != hosts || len(p.looks) != looks {
		return
	}
	p.fast = m
	if afterPrefix {
		p.daemon = daemon
	}
}

// pattern roles: a failregex must capture a host; inside a prefregex (or a failregex whose
// prefregex captures one) it may; an ignoreregex need not.
type patternRole int

const (
	roleFail patternRole = iota
	roleInside
	roleIgnore
)

// prefixPlaceholder stands for %(__prefix_line)s in resolved sources until compilation.
const prefixPlaceholder = "%(__prefix_line)s"

// compilePattern compiles one resolved regex source. prefix replaces %(__prefix_line)s. It
// also returns the literals any match must contain (nil if none is known), computed without
// the prefix, whose literals (the daemon name) are on every line.
func compilePattern(src, prefix string, role patternRole) (*pattern, *prefilter, error) {
	full, nHost, err := expandTags(strings.ReplaceAll(src, prefixPlaceholder, prefix))
	if err != nil {
		return nil, nil, err
	}
	if nHost == 0 && role == roleFail {
		return nil, nil, errors.New("no <HOST> group")
	}
	full, bodies, err := rewriteLookarounds(full, false)
	if err != nil {
		return nil, nil, err
	}
	re, err := regexp.Compile(full)
	if err != nil {
		return nil, nil, err
	}
	p := &pattern{src: src, re: re, content: -1, lead: anchoredLiteral(full)}
	names := re.SubexpNames()
	looks := make(map[string]int)
	for i, n := range names {
		switch {
		case n == hostGroup:
			p.hosts = append(p.hosts, i)
		case n == contentGroup && p.content < 0:
			p.content = i
		case strings.HasPrefix(n, lookGroup):
			looks[n] = i
		}
	}
	for i, b := range bodies {
		lre, err := regexp.Compile(`^(?:` + b.body + `)`)
		if err != nil {
			return nil, nil, fmt.Errorf("lookahead (?%c%s): %w", map[bool]byte{true: '!', false: '='}[b.negative], b.body, err)
		}
		la := lookahead{group: looks[fmt.Sprintf("%s%d", lookGroup, i)], re: lre, negative: b.negative}
		if isPlainAlternation(b.body) {
			la.lits = strings.Split(b.body, "|")
		}
		p.looks = append(p.looks, la)
	}

	// Literals, from the source without the prefix.
	var pre *prefilter
	if noPrefix, _, err := expandTags(strings.ReplaceAll(src, prefixPlaceholder, "")); err == nil {
		if noPrefix, _, err = rewriteLookarounds(noPrefix, true); err == nil {
			if t, err := syntax.Parse(noPrefix, syntax.Perl); err == nil {
				pre = buildPrefilter(t)
			}
		}
	}
	return p, pre, nil
}

// anchoredLiteral returns the text every match of the regex expr must start the input with:
// the case-sensitive literal right after a leading ^ (nil if none). Match skips a regex when
// the text does not start with it, which spares the regex's set-up on the lines of another
// failregex.
func anchoredLiteral(expr string) []byte {
	t, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	t = t.Simplify()
	if t.Op != syntax.OpConcat || len(t.Sub) < 2 || t.Sub[0].Op != syntax.OpBeginText {
		return nil
	}
	var lit []rune
	for _, s := range t.Sub[1:] {
		for s.Op == syntax.OpCapture && len(s.Sub) == 1 && s.Sub[0].Op == syntax.OpLiteral {
			s = s.Sub[0]
		}
		if s.Op == syntax.OpCapture && len(s.Sub) == 1 && s.Sub[0].Op == syntax.OpEmptyMatch {
			continue // an emulated lookahead's position
		}
		if s.Op != syntax.OpLiteral || s.Flags&syntax.FoldCase != 0 {
			break
		}
		lit = append(lit, s.Rune...)
	}
	if len(lit) == 0 {
		return nil
	}
	return []byte(string(lit))
}

// isPlainAlternation reports whether s is literals separated by '|': ASCII, no other
// metacharacter.
func isPlainAlternation(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || strings.IndexByte(`\.+*?()[]{}^$`, s[i]) >= 0 {
			return false
		}
	}
	return true
}

var tagRE = regexp.MustCompile(`<(/?)(F-[A-Za-z0-9_-]+|HOST|ADDR|IP4|IP6|DNS|SKIPLINES)>`)

func hasHostTag(s string) bool {
	for _, m := range tagRE.FindAllStringSubmatch(s, -1) {
		switch m[2] {
		case "HOST", "ADDR", "IP4", "IP6":
			return m[1] == ""
		}
	}
	return false
}

// expandTags replaces fail2ban's tags by RE2 groups and counts the host groups.
func expandTags(s string) (string, int, error) {
	var (
		err   error
		hosts int
		open  = map[string]bool{}
	)
	out := tagRE.ReplaceAllStringFunc(s, func(tag string) string {
		m := tagRE.FindStringSubmatch(tag)
		closing, name := m[1] == "/", m[2]
		if closing {
			if open[name] {
				open[name] = false
				return ")"
			}
			return tag
		}
		switch name {
		case "HOST", "ADDR":
			hosts++
			return `(?P<` + hostGroup + `>` + ip4RE + `|` + ip6RE + `)`
		case "IP4":
			hosts++
			return `(?P<` + hostGroup + `>` + ip4RE + `)`
		case "IP6":
			hosts++
			return `(?P<` + hostGroup + `>` + ip6RE + `)`
		case "DNS":
			err = errors.New("<DNS> is not supported: hosts are matched by IP address only")
		case "SKIPLINES":
			err = errors.New("<SKIPLINES> is not supported: lines are matched one at a time")
		case "F-CONTENT":
			open[name] = true
			return `(?P<` + contentGroup + `>`
		case "F-NOFAIL", "F-MLFID", "F-MLFGAINED", "F-MLFFORGET":
			err = fmt.Errorf("<%s> is not supported", name)
		default:
			open[name] = true
			return `(?:`
		}
		return tag
	})
	if err != nil {
		return "", 0, err
	}
	for name, o := range open {
		if o {
			return "", 0, fmt.Errorf("<%s> is not closed by </%s>", name, name)
		}
	}
	return out, hosts, nil
}

type lookBody struct {
	body     string
	negative bool
}

// rewriteLookarounds replaces each (?=body) / (?!body) of s by a named empty group and
// returns the bodies, and turns Python's \Z into RE2's \z. Lookbehinds are an error.
// forLiterals instead replaces (?=body) by (?:body) and drops (?!body): a regex whose
// required literals are all required by s, for the prefilter.
func rewriteLookarounds(s string, forLiterals bool) (string, []lookBody, error) {
	var (
		b     strings.Builder
		looks []lookBody
	)
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			if s[i+1] == 'Z' {
				b.WriteString(`\z`)
			} else {
				b.WriteString(s[i : i+2])
			}
			i += 2
		case c == '[':
			j := classEnd(s, i)
			b.WriteString(s[i:j])
			i = j
		case strings.HasPrefix(s[i:], "(?<=") || strings.HasPrefix(s[i:], "(?<!"):
			return "", nil, errors.New("lookbehind " + s[i:i+4] + "...) is not supported by Go's RE2")
		case strings.HasPrefix(s[i:], "(?=") || strings.HasPrefix(s[i:], "(?!"):
			j := groupEnd(s, i)
			if j < 0 {
				return "", nil, fmt.Errorf("missing closing ) of %s", s[i:i+3])
			}
			body, inner, err := rewriteLookarounds(s[i+3:j-1], forLiterals)
			if err != nil {
				return "", nil, err
			}
			if len(inner) > 0 {
				return "", nil, errors.New("nested lookahead is not supported")
			}
			switch {
			case !forLiterals:
				fmt.Fprintf(&b, "(?P<%s%d>)", lookGroup, len(looks))
			case s[i+2] == '=':
				b.WriteString("(?:" + body + ")")
			}
			looks = append(looks, lookBody{body: body, negative: s[i+2] == '!'})
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), looks, nil
}

// classEnd returns the index after the character class starting at s[i] == '['.
func classEnd(s string, i int) int {
	j := i + 1
	if j < len(s) && s[j] == '^' {
		j++
	}
	if j < len(s) && s[j] == ']' {
		j++
	}
	for j < len(s) {
		switch {
		case s[j] == '\\':
			j += 2
			continue
		case s[j] == '[' && j+1 < len(s) && s[j+1] == ':':
			if k := strings.Index(s[j:], ":]"); k >= 0 {
				j += k + 2
				continue
			}
		case s[j] == ']':
			return j + 1
		}
		j++
	}
	return len(s)
}

// groupEnd returns the index after the ')' closing the group opened at s[i] == '(', or -1.
func groupEnd(s string, i int) int {
	depth := 0
	for j := i; j < len(s); {
		switch s[j] {
		case '\\':
			j += 2
			continue
		case '[':
			j = classEnd(s, j)
			continue
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
		j++
	}
	return -1
}

// resolver expands %(name)s interpolations and <name> option tags of a filter, as fail2ban's
// config reader does. Keys are looked up in the spec's options, then [Init], [Definition] and
// [DEFAULT] of the filter file, then in our own version of fail2ban's common.conf.
// %(__prefix_line)s is kept as prefixPlaceholder unless the filter defines its own.
type resolver struct {
	ini  *iniFile // nil for literal regex filters
	opts map[string]string
}

func newResolver(ini *iniFile, opts map[string]string) *resolver {
	return &resolver{ini: ini, opts: opts}
}

const maxInterpDepth = 20

// raw returns the unexpanded value of key.
func (r *resolver) raw(key string) (string, bool) {
	if v, ok := r.opts[key]; ok {
		return v, true
	}
	if r.ini != nil {
		for _, sec := range []string{"Init", "Definition", "DEFAULT"} {
			if v, ok := r.ini.secs[sec][key]; ok {
				return strings.Join(v.parts, "\n"), true
			}
		}
	}
	if key == "__prefix_line" {
		return "", false // ours stays symbolic; see prefixLine
	}
	return commonKey(key)
}

func (r *resolver) lookup(key string, depth int) (string, error) {
	v, ok := r.raw(key)
	if !ok {
		if key == "__prefix_line" {
			return prefixPlaceholder, nil
		}
		return "", fmt.Errorf("unknown key %q", key)
	}
	return r.interp(v, depth+1)
}

// interp expands %(name)s (names are case-insensitive, as in Python's ConfigParser) and %%.
func (r *resolver) interp(s string, depth int) (string, error) {
	if depth > maxInterpDepth {
		return "", errors.New("interpolation nested too deeply (a key refers to itself?)")
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "%%"):
			b.WriteByte('%')
			s = s[2:]
		case strings.HasPrefix(s, "%("):
			j := strings.Index(s, ")s")
			if j < 0 {
				return "", fmt.Errorf("bad interpolation %q: want %%(name)s", s)
			}
			v, err := r.lookup(strings.ToLower(s[2:j]), depth)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			s = s[j+2:]
		default:
			b.WriteByte('%')
			s = s[1:]
		}
	}
	return b.String(), nil
}

var optTagRE = regexp.MustCompile(`<([A-Za-z_][\w-]*)>`)

// tags expands <name> tags naming a known key (innermost first, so <mdre-<mode>> works).
// Other tags (<HOST>, <F-...>) and named groups (?P<name>) are left alone.
func (r *resolver) tags(s string) (string, error) {
	for pass := 0; ; pass++ {
		if pass > maxInterpDepth {
			return "", errors.New("<tag> substitution nested too deeply (a key refers to itself?)")
		}
		changed := false
		var err error
		var b strings.Builder
		last := 0
		for _, m := range optTagRE.FindAllStringSubmatchIndex(s, -1) {
			name := s[m[2]:m[3]]
			if m[0] >= 1 && (s[m[0]-1] == 'P' || s[m[0]-1] == '?') {
				continue // (?P<name>...) or (?<name>...)
			}
			if _, ok := r.raw(name); !ok && name != "__prefix_line" {
				continue
			}
			v, e := r.lookup(name, 0)
			if e != nil {
				err = e
				break
			}
			b.WriteString(s[last:m[0]])
			b.WriteString(v)
			last = m[1]
			changed = true
		}
		if err != nil {
			return "", err
		}
		if !changed {
			return s, nil
		}
		b.WriteString(s[last:])
		s = b.String()
	}
}

// resolve expands one regex value and splits it into its lines (a key holding several
// regexes, one per line, expands to several). Empty lines are dropped.
func (r *resolver) resolve(s string) ([]string, error) {
	v, err := r.interp(s, 0)
	if err != nil {
		return nil, err
	}
	if v, err = r.tags(v); err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(v, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// resolveOne is resolve for a value that must be a single regex.
func (r *resolver) resolveOne(s string) (string, error) {
	v, err := r.resolve(s)
	if err != nil {
		return "", err
	}
	if len(v) != 1 {
		return "", fmt.Errorf("want one regex, got %d lines", len(v))
	}
	return v[0], nil
}

// prefixLine returns our __prefix_line, expanded with the filter's keys (its _daemon).
func (r *resolver) prefixLine() (string, error) {
	v, _ := commonKey("__prefix_line")
	v, err := r.interp(v, 0)
	if err != nil {
		return "", fmt.Errorf("__prefix_line: %w", err)
	}
	return r.tags(v)
}

// fastDaemon returns the hand-written matcher of the filter's %(_daemon)s (see builtinDaemon)
// when prefix, its resolved __prefix_line, is ours with that daemon; else nil.
func (r *resolver) fastDaemon(prefix string) daemonMatcher {
	d, err := r.interp("%(_daemon)s", 0)
	if err == nil {
		d, err = r.tags(d)
	}
	if err != nil {
		return nil
	}
	m := builtinDaemon(d)
	if m == nil {
		return nil
	}
	const mark = "\x00"
	ours, err := newResolver(nil, map[string]string{"_daemon": mark}).prefixLine()
	if err != nil || strings.ReplaceAll(ours, mark, d) != prefix {
		return nil
	}
	return m
}

// commonKey is our version of fail2ban's filter.d/common.conf [DEFAULT] (logtype file).
// __prefix_line differs on purpose: the daemon is required, not optional, so that the text a
// remote client controls (which starts after "daemon[pid]: ") can never be taken for the
// prefix, and a line from another daemon never matches a filter that names its own; the
// kernel prefix and the date placeholder are dropped.
func commonKey(key string) (string, bool) {
	switch key {
	case "_daemon":
		return `\S*`, true
	case "__pid_re":
		return `(?:\[\d+\])`, true
	case "__daemon_re":
		return `[\[\(]?%(_daemon)s(?:\(\S+\))?[\]\)]?:?`, true
	case "__daemon_extra_re":
		return `\[ID \d+ \S+\]`, true
	case "__daemon_combs_re":
		return `(?:%(__pid_re)s?:\s+%(__daemon_re)s|%(__daemon_re)s%(__pid_re)s?:?)`, true
	case "__hostname":
		return `\S+`, true
	case "__md5hex":
		return `(?:[\da-f]{2}:){15}[\da-f]{2}`, true
	case "__bsd_syslog_verbose":
		return `<[^.]+\.[^.]+>`, true
	case "__vserver":
		return `@vserver_\S+`, true
	case "__pam_auth":
		return `pam_unix`, true
	case "__prefix_line":
		return `\s*(?:%(__bsd_syslog_verbose)s\s+)?(?:%(__hostname)s\s+)?(?:%(__vserver)s\s+)?%(__daemon_combs_re)s\s+(?:%(__daemon_extra_re)s\s+)?`, true
	}
	return "", false
}

// iniFile is a parsed fail2ban filter file: sections of keys (lower-cased, as Python's
// ConfigParser does) to values, each value's lines with the file line they came from.
type iniFile struct {
	secs map[string]map[string]iniValue
}

type iniValue struct {
	parts []string
	lines []int
}

// parseINI parses data as Python's ConfigParser does with fail2ban's settings: [section]
// headers, "key = value" or "key: value", indented continuation lines, full-line comments
// starting with # or ;, inline comments after " ;". Errors name file and line.
func parseINI(file string, data []byte) (*iniFile, error) {
	ini := &iniFile{secs: map[string]map[string]iniValue{}}
	var (
		sec     map[string]iniValue
		secName string
		key     string // key whose value continuation lines extend
	)
	for n, line := range strings.Split(string(data), "\n") {
		lineNo := n + 1
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		indented := line[0] == ' ' || line[0] == '\t'
		if indented && key != "" {
			v := sec[key]
			v.parts = append(v.parts, stripInlineComment(trimmed))
			v.lines = append(v.lines, lineNo)
			sec[key] = v
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: section header %q has no ]", file, lineNo, trimmed)
			}
			secName = line[1:end]
			if ini.secs[secName] != nil {
				return nil, fmt.Errorf("%s:%d: section [%s] appears twice", file, lineNo, secName)
			}
			sec = map[string]iniValue{}
			ini.secs[secName] = sec
			key = ""
			continue
		}
		i := strings.IndexAny(trimmed, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("%s:%d: want \"key = value\", got %q", file, lineNo, trimmed)
		}
		if sec == nil {
			return nil, fmt.Errorf("%s:%d: key %q before any [section]", file, lineNo, strings.TrimSpace(trimmed[:i]))
		}
		k := strings.ToLower(strings.TrimSpace(trimmed[:i]))
		if _, dup := sec[k]; dup {
			return nil, fmt.Errorf("%s:%d: key %q appears twice in [%s]", file, lineNo, k, secName)
		}
		sec[k] = iniValue{parts: []string{stripInlineComment(strings.TrimSpace(trimmed[i+1:]))}, lines: []int{lineNo}}
		key = k
	}
	return ini, nil
}

// stripInlineComment drops a " ;" comment (a ';' after white space), as fail2ban configures
// ConfigParser.
func stripInlineComment(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] == ';' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

// prefilter is a condition on the literals of a line, necessary for a regex to match: a
// literal, or all (AND) or any (OR) of sub-conditions. A nil *prefilter holds for every line.
// It is derived from the regexes (as RE2's and Go codesearch's prefilters are) and checked
// before them, so that most lines are turned away by a few byte searches.
type prefilter struct {
	op   byte // 'L' literal, '&' all of subs, '|' any of subs
	lit  []byte
	rare int // index in lit of its rarest byte, which the search looks for first
	subs []*prefilter
}

const (
	minLiteral   = 3                                                         // shorter literals are too common to be worth a search
	maxAndTerms  = 3                                                         // an AND keeps its strongest terms only
	maxOrTerms   = 16                                                        // a wider OR is no prefilter
	commonInLogs = " e0t1a2o3i4n5s6r7.8h9l:dcu/m[]p-=g,fy<>wb@k()v;x_'\"qjz" // rough byte frequency in logs, most common first
)

// match reports whether line satisfies p. It does not allocate.
func (p *prefilter) match(line []byte) bool {
	if p == nil {
		return true
	}
	switch p.op {
	case 'L':
		return containsLit(line, p.lit, p.rare)
	case '&':
		for _, s := range p.subs {
			if !s.match(line) {
				return false
			}
		}
		return true
	}
	for _, s := range p.subs {
		if s.match(line) {
			return true
		}
	}
	return false
}

// containsLit is bytes.Contains(line, lit), searching for lit's rarest byte (bytes.Index
// searches for the first, and a leading space or 'e' makes it crawl through log lines).
func containsLit(line, lit []byte, rare int) bool {
	c, n := lit[rare], len(lit)
	for i := rare; i < len(line); {
		j := bytes.IndexByte(line[i:], c)
		if j < 0 {
			return false
		}
		start := i + j - rare
		if start+n > len(line) {
			return false
		}
		if bytes.Equal(line[start:start+n], lit) {
			return true
		}
		i += j + 1
	}
	return false
}

// String shows p for tests and debugging: "lit", (a & b), (a | b); "*" for nil.
func (p *prefilter) String() string {
	if p == nil {
		return "*"
	}
	if p.op == 'L' {
		return fmt.Sprintf("%q", p.lit)
	}
	parts := make([]string, len(p.subs))
	for i, s := range p.subs {
		parts[i] = s.String()
	}
	return "(" + strings.Join(parts, " "+string(p.op)+" ") + ")"
}

func newLit(s string) *prefilter {
	rare, best := 0, -2
	for i := 0; i < len(s); i++ {
		r := strings.IndexByte(commonInLogs, s[i]) // -1: rarer than all listed
		if r == -1 {
			r = len(commonInLogs)
		}
		if r > best {
			rare, best = i, r
		}
	}
	return &prefilter{op: 'L', lit: []byte(s), rare: rare}
}

// strength orders terms: a longer literal is rarer; an OR is as weak as its weakest term.
func (p *prefilter) strength() int {
	switch p.op {
	case 'L':
		return len(p.lit)
	case '&':
		m := 0
		for _, s := range p.subs {
			m = max(m, s.strength())
		}
		return m
	}
	m := 1 << 30
	for _, s := range p.subs {
		m = min(m, s.strength())
	}
	return m
}

// newAnd is all of subs (nil ones hold anyway), strongest first, at most maxAndTerms.
func newAnd(subs []*prefilter) *prefilter {
	var terms []*prefilter
	seen := map[string]bool{}
	for _, s := range subs {
		if s == nil {
			continue
		}
		list := []*prefilter{s}
		if s.op == '&' {
			list = s.subs
		}
		for _, t := range list {
			if k := t.String(); !seen[k] {
				seen[k] = true
				terms = append(terms, t)
			}
		}
	}
	sort.SliceStable(terms, func(i, j int) bool { return terms[i].strength() > terms[j].strength() })
	if len(terms) > maxAndTerms {
		terms = terms[:maxAndTerms]
	}
	switch len(terms) {
	case 0:
		return nil
	case 1:
		return terms[0]
	}
	return &prefilter{op: '&', subs: terms}
}

// newOr is any of subs; nil (no condition) if one of them is nil or there are too many.
func newOr(subs []*prefilter) *prefilter {
	var terms []*prefilter
	seen := map[string]bool{}
	for _, s := range subs {
		if s == nil {
			return nil
		}
		list := []*prefilter{s}
		if s.op == '|' {
			list = s.subs
		}
		for _, t := range list {
			if k := t.String(); !seen[k] {
				seen[k] = true
				terms = append(terms, t)
			}
		}
	}
	switch {
	case len(terms) == 0 || len(terms) > maxOrTerms:
		return nil
	case len(terms) == 1:
		return terms[0]
	}
	return &prefilter{op: '|', subs: terms}
}

// buildPrefilter derives the literal condition of a parsed regex.
func buildPrefilter(re *syntax.Regexp) *prefilter {
	switch re.Op {
	case syntax.OpLiteral:
		// Case-folded literals are not searched for; nor is U+FFFD, which in the regex also
		// stands for invalid UTF-8 bytes in the line.
		if re.Flags&syntax.FoldCase != 0 || len(string(re.Rune)) < minLiteral || slices.Contains(re.Rune, utf8.RuneError) {
			return nil
		}
		return newLit(string(re.Rune))
	case syntax.OpCapture, syntax.OpPlus:
		return buildPrefilter(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return buildPrefilter(re.Sub[0])
		}
	case syntax.OpConcat:
		subs := make([]*prefilter, len(re.Sub))
		for i, s := range re.Sub {
			subs[i] = buildPrefilter(s)
		}
		return newAnd(subs)
	case syntax.OpAlternate:
		subs := make([]*prefilter, len(re.Sub))
		for i, s := range re.Sub {
			if subs[i] = buildPrefilter(s); subs[i] == nil {
				return nil
			}
		}
		return newOr(subs)
	}
	return nil
}
