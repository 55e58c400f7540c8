package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"regexp/syntax"
	"strings"
	"sync"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/f2bfilter"
)

// Fail2banPrefix marks a filter spec naming one of fail2ban's own filter files, read as
// fail2ban reads it (see package f2bfilter): "fail2ban:/etc/fail2ban/filter.d/sshd.conf[mode=aggressive]",
// or "fail2ban:sshd[mode=aggressive]" looked up as NAME.conf in the filter_dirs.
const Fail2banPrefix = "fail2ban:"

// DefaultFilterDirs is where "fail2ban:NAME" looks when the config sets no filter_dirs.
var DefaultFilterDirs = []string{"/etc/fail2ban/filter.d"}

// fail2banFilter is a Filter's filter.d matcher. Multi-line filters keep state from line to
// line, so the matcher is behind a mutex.
type fail2banFilter struct {
	f  *f2bfilter.Filter
	mu sync.Mutex
	m  *f2bfilter.Matcher
}

// LoadFilterIn is LoadFilter with the directories that "fail2ban:NAME" is looked up in.
func LoadFilterIn(spec string, dirs []string, extraFail, extraIgnore []string, readFile func(string) ([]byte, error)) (*Filter, error) {
	s := strings.TrimSpace(spec)
	if !strings.HasPrefix(s, Fail2banPrefix) {
		return LoadFilter(spec, extraFail, extraIgnore, readFile)
	}
	if readFile == nil {
		return nil, fmt.Errorf("filter %q: cannot read filter files here", spec)
	}
	base, opts, err := splitSpec(strings.TrimPrefix(s, Fail2banPrefix))
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", spec, err)
	}
	file, err := findFail2banFilter(base, dirs, readFile)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", spec, err)
	}
	def, err := f2bfilter.ReadDefinition(file, opts, readFile)
	if err != nil {
		return nil, err
	}
	for _, r := range extraFail {
		if strings.TrimSpace(r) == "" {
			return nil, errors.New(`failregex "": empty`)
		}
		def.FailRegex = append(def.FailRegex, f2bfilter.Source{Text: r, File: "failregex"})
	}
	for _, r := range extraIgnore {
		if strings.TrimSpace(r) == "" {
			return nil, errors.New(`ignoreregex "": empty`)
		}
		def.IgnoreRegex = append(def.IgnoreRegex, f2bfilter.Source{Text: r, File: "ignoreregex"})
	}
	ff, err := f2bfilter.Compile(def)
	if err != nil {
		return nil, err
	}
	f := &Filter{name: Fail2banPrefix + canonicalSpec(base, opts)}
	for _, p := range def.FailRegex {
		f.sources = append(f.sources, p.Text)
	}
	f.ext = &fail2banFilter{f: ff, m: ff.NewMatcher(false)}
	f.ext.m.SkipTime() // Filter.Time reads the time of the lines that match
	if pre := fail2banPrefilter(ff); pre != nil {
		f.ext.m.SetPrefilter(pre.match)
	}
	return f, nil
}

// findFail2banFilter returns the file a "fail2ban:" spec names: a path as it is, else
// NAME.conf in the first of dirs that has it.
func findFail2banFilter(base string, dirs []string, readFile func(string) ([]byte, error)) (string, error) {
	if base == "" {
		return "", errors.New("no filter name or file after fail2ban:")
	}
	if strings.Contains(base, "/") {
		return checkFilterFile(base, readFile)
	}
	if len(dirs) == 0 {
		dirs = DefaultFilterDirs
	}
	name := strings.TrimSuffix(base, ".conf")
	for _, d := range dirs {
		p := path.Join(d, name+".conf")
		if _, err := readFile(p); err == nil {
			return checkFilterFile(p, readFile)
		}
	}
	return "", fmt.Errorf("no %s.conf in filter_dirs %s", name, strings.Join(dirs, ", "))
}

// checkFilterFile makes sure file is a filter before anything quotes from it.
func checkFilterFile(file string, readFile func(string) ([]byte, error)) (string, error) {
	data, err := readFile(file)
	if err != nil {
		return "", err
	}
	if !hasDefinitionHeader(data) {
		// Not a filter: say nothing of what it holds, it may be any file (/etc/shadow).
		return "", fmt.Errorf("%s: not a fail2ban filter file (no [Definition] section)", file)
	}
	return file, nil
}

// match matches one line: a failure counts only when its host is an address (no DNS look-ups);
// a host name is a Miss here (MatchHost returns it).
func (x *fail2banFilter) match(line []byte) (MatchResult, netip.Addr, int) {
	res, host, pat := x.matchHost(line)
	if res == Match {
		if a, err := netip.ParseAddr(host); err == nil {
			return Match, a.Unmap(), pat
		}
		return Miss, netip.Addr{}, -1
	}
	return res, netip.Addr{}, pat
}

func (x *fail2banFilter) matchHost(line []byte) (MatchResult, string, int) {
	line = trimNewline(line)
	x.mu.Lock()
	// The time is not Match's business (see Filter.Time): any now reads the date's span.
	r := x.m.LineBytes(line, time.Time{}, time.UTC)
	x.mu.Unlock()
	if len(r.Failures) > 0 {
		return Match, r.Failures[0].Host, r.Failures[0].Pattern
	}
	if r.Ignored {
		return Ignored, "", r.Pattern
	}
	return Miss, "", -1
}

// trimNewline cuts a final "\n", then a final "\r".
func trimNewline(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

// MatchHost is Match that also reports a host given as a name (fail2ban:  filters only; for
// the others it is Match's address as text). No DNS look-up is made.
func (f *Filter) MatchHost(line []byte) (MatchResult, string, int) {
	if f.ext != nil {
		return f.ext.matchHost(line)
	}
	res, a, p := f.Match(line)
	if !a.IsValid() {
		return res, "", p
	}
	return res, a.String(), p
}

// Time reads the time of a matched line: with the filter's datepattern for fail2ban: filters,
// else as ParseTime does.
func (f *Filter) Time(line []byte, now time.Time, loc *time.Location) (time.Time, error) {
	if f.ext == nil {
		return ParseTime(line, now, loc)
	}
	line = trimNewline(line)
	if t, ok := f.ext.f.TimeBytes(line, now, loc); ok {
		return t, nil
	}
	return time.Time{}, errors.New("no date matching the filter's datepattern")
}

// Engines lists each regex of a fail2ban: filter with the engine it runs on ("re2" or
// "backtrack"); nil for the other filters, which are all RE2.
func (f *Filter) Engines() []f2bfilter.Pattern {
	if f.ext == nil {
		return nil
	}
	return f.ext.f.Patterns()
}

// JournalMatch is a fail2ban: filter's journalmatch, one expression a line (nil otherwise).
func (f *Filter) JournalMatch() []string {
	if f.ext == nil {
		return nil
	}
	return f.ext.f.Def.JournalMatch
}

// IsFail2ban reports whether f is a fail2ban: filter.
func (f *Filter) IsFail2ban() bool { return f.ext != nil }

// fail2banPrefilter builds the literal prefilter of a filter.d filter: the prefregex's literals
// and those of one of the failregexes (nil when nothing is known).
func fail2banPrefilter(ff *f2bfilter.Filter) *prefilter {
	lit := func(src string) *prefilter {
		if src == "" {
			return nil
		}
		t, err := syntax.Parse(src, syntax.Perl)
		if err != nil {
			return nil
		}
		return buildPrefilter(t)
	}
	var pref *prefilter
	var fails []*prefilter
	anyFail := false
	for _, p := range ff.Patterns() {
		switch p.Role {
		case "prefregex":
			pref = lit(p.Literal)
		case "failregex":
			l := lit(p.Literal)
			if l == nil {
				anyFail = true
			}
			fails = append(fails, l)
		}
	}
	var failPre *prefilter
	if !anyFail {
		failPre = newOr(fails)
	}
	return newAnd([]*prefilter{pref, failPre})
}
