package f2bfilter

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Definition is a filter file's options after interpolation, as fail2ban's FilterReader
// hands them to the server.
type Definition struct {
	File         string
	PrefRegex    *Source
	FailRegex    []Source
	IgnoreRegex  []Source
	DatePattern  []string // one template a line; nil: fail2ban's default templates
	MaxLines     int
	JournalMatch []string // one match expression a line ("_SYSTEMD_UNIT=x + _COMM=y")
}

// Source is one regex as resolved, with where it was written.
type Source struct {
	Text string
	File string
	Line int
}

// definitionKeys are the [Definition] options FilterReader reads (_configOpts).
var definitionKeys = []string{"prefregex", "failregex", "ignoreregex", "maxlines", "datepattern", "journalmatch", "usedns"}

var sectionOptRE = regexp.MustCompile(`^([\w\-]+)/([^\s>]+)$`)

var tagRE = regexp.MustCompile(`<([^ <>]+)>`)

// maxTagReplace is fail2ban's MAX_TAG_REPLACE_COUNT.
const maxTagReplace = 25

// ReadDefinition reads file (a filter.d .conf) with its includes and .local files, and
// resolves it with opts (the options of "name[key=value,...]") as fail2ban's FilterReader does:
// opts override [Init] and [Definition]; %(name)s is interpolated within the INI and <name>
// tags afterwards from the options, [Init] and [Definition].
func ReadDefinition(file string, opts map[string]string, readFile func(string) ([]byte, error)) (*Definition, error) {
	l := &loader{readFile: readFile, cache: map[string]*parsedFile{}}
	set, err := l.load(file)
	if err != nil {
		return nil, err
	}
	if set.sections["Definition"] == nil {
		return nil, fmt.Errorf("%s: no [Definition] section", file)
	}
	vars := map[string]string{}
	for k, v := range opts {
		vars[strings.ToLower(k)] = v
	}
	combined := map[string]string{}
	where := map[string]*value{}
	for _, k := range definitionKeys {
		v, src, ok, err := set.get("Definition", k, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if ok {
			combined[k] = v
			where[k] = src
		}
	}
	initOpts := map[string]string{}
	for k, v := range vars {
		initOpts[k] = v
	}
	if init := set.sections["Init"]; init != nil {
		for k := range init {
			v, _, _, err := set.get("Init", k, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if !strings.HasPrefix(k, "known/") {
				initOpts["known/"+k] = v
			}
			if _, ok := initOpts[k]; !ok {
				initOpts[k] = v
			}
		}
	}
	for k, v := range initOpts {
		combined[k] = v
	}
	ignore := map[string]bool{}
	for k := range combined {
		if m := condSectionRE.FindStringSubmatch(k); m != nil {
			ignore[m[1]] = true
		}
	}
	// extra is getCombOption: get_ex("Definition", name), where "sec/opt" reads opt from
	// section sec ("known/opt": the value the last override replaced).
	extra := func(name string) (string, bool) {
		if m := sectionOptRE.FindStringSubmatch(name); m != nil {
			secs := []string{m[1]}
			switch strings.ToLower(m[1]) {
			case "known":
				secs = []string{"KNOWN/Definition", "Definition"}
			case "default":
				secs = nil
				if v, ok := set.defaults[strings.ToLower(m[2])]; ok {
					out, err := set.interp("DEFAULT", m[2], v.text, nil, 1)
					return out, err == nil
				}
			}
			for _, sec := range secs {
				if _, ok := set.sections[sec][strings.ToLower(m[2])]; !ok {
					continue
				}
				v, _, ok, err := set.get(sec, m[2], nil)
				if err == nil && ok {
					return v, true
				}
			}
		}
		v, _, ok, err := set.get("Definition", name, vars)
		return v, ok && err == nil
	}
	resolved, err := substituteTags(combined, ignore, extra)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	d := &Definition{File: file, MaxLines: 1}
	lines := func(key string) []Source {
		v, ok := resolved[key]
		if !ok {
			return nil
		}
		src := where[key]
		var out []Source
		parts := strings.Split(v, "\n")
		for i, p := range parts {
			if p == "" {
				continue
			}
			s := Source{Text: p, File: file}
			if src != nil {
				s.File, s.Line = src.file, src.line
				if len(src.lines) == len(parts) {
					s.Line = src.lines[i]
				}
			}
			out = append(out, s)
		}
		return out
	}
	if p := lines("prefregex"); len(p) > 0 {
		p[0].Text = strings.Join(strings.Split(resolved["prefregex"], "\n"), "")
		d.PrefRegex = &p[0]
	}
	d.FailRegex = lines("failregex")
	d.IgnoreRegex = lines("ignoreregex")
	if v, ok := resolved["maxlines"]; ok && strings.TrimSpace(v) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: maxlines: want a number >= 1, got %q", fileLine(where["maxlines"], file), v)
		}
		d.MaxLines = n
	}
	if v, ok := resolved["datepattern"]; ok && strings.TrimSpace(v) != "" {
		for _, p := range strings.Split(v, "\n") {
			if p = strings.TrimSpace(p); p != "" {
				d.DatePattern = append(d.DatePattern, p)
			}
		}
	}
	if v, ok := resolved["journalmatch"]; ok {
		for _, p := range strings.Split(v, "\n") {
			if p = strings.TrimSpace(p); p != "" {
				d.JournalMatch = append(d.JournalMatch, p)
			}
		}
	}
	return d, nil
}

func fileLine(v *value, file string) string {
	if v == nil {
		return file
	}
	return fmt.Sprintf("%s:%d", v.file, v.line)
}

// substituteTags is fail2ban's substituteRecursiveTags: every <name> in a value is replaced by
// the option name (from tags, else from extra), repeatedly; unknown tags stay as they are.
func substituteTags(tags map[string]string, ignore map[string]bool, extra func(string) (string, bool)) (map[string]string, error) {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = v
	}
	done := map[string]bool{}
	counts := map[string]map[string]int{}
	for round := 0; ; round++ {
		if round > 100 {
			return nil, fmt.Errorf("recursive tag definitions unable to be resolved")
		}
		again := false
		for tag, value := range out {
			if ignore[tag] || done[tag] {
				continue
			}
			orig := value
			rplc := counts[tag]
			if rplc == nil {
				rplc = map[string]int{}
			}
			pos := 0
			for {
				m := tagRE.FindStringSubmatchIndex(value[pos:])
				if m == nil {
					break
				}
				start, end := pos+m[0], pos+m[1]
				rtag := value[pos+m[2] : pos+m[3]]
				if ignore[rtag] {
					pos = end
					continue
				}
				if rtag == tag || rplc[rtag] > maxTagReplace {
					return nil, fmt.Errorf("properties contain self referencing definitions and cannot be resolved, fail tag: %s, found: %s", tag, rtag)
				}
				repl, ok := out[rtag]
				if !ok && extra != nil {
					repl, ok = extra(rtag)
				}
				if !ok {
					pos = end
					continue
				}
				value = strings.ReplaceAll(value, "<"+rtag+">", repl)
				rplc[rtag]++
				pos = start
			}
			if orig != value {
				if tagRE.MatchString(value) {
					counts[tag] = rplc
					again = true
				}
				out[tag] = value
			}
			if !strings.Contains(value, "<") {
				done[tag] = true
			}
		}
		if !again {
			return out, nil
		}
	}
}
