// Package f2bfilter reads fail2ban's filter files as fail2ban 1.0 does — INI with includes,
// .local overrides and interpolation, the regex tags, date patterns and multi-line matching —
// and matches log lines with them. It is pure: files come through a ReadFile func, the time
// through parameters.
package f2bfilter

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// value is one option as read: its lines (the first after "key =", then the continuation
// lines, each stripped, as Python's configparser keeps them) and where it was written.
type value struct {
	text  string // lines joined with "\n"
	file  string
	line  int   // line of the key
	lines []int // line of each text line
}

// section is the options of one INI section, keys lower-cased (configparser's optionxform).
type section map[string]*value

// iniSet is the merge of a filter file with its includes and .local files, as fail2ban's
// SafeConfigParserWithIncludes builds it: defaults from [DEFAULT], and for every section
// overridden by a later file, "KNOWN/<section>" holds the values it overrode.
type iniSet struct {
	defaults section
	sections map[string]section
	order    []string
}

// parsedFile is one file's sections before merging.
type parsedFile struct {
	defaults section
	sections map[string]section
	order    []string
}

var condSectionRE = regexp.MustCompile(`^(\w+)(\?.+)$`)

// parseINIFile parses data with configparser's rules as fail2ban configures them: "key = value"
// or "key: value", indented continuation lines, full-line comments with # or ;, inline comments
// with " ;", [DEFAULT] as the defaults.
func parseINIFile(file string, data []byte) (*parsedFile, error) {
	pf := &parsedFile{defaults: section{}, sections: map[string]section{}}
	var (
		cur     section
		last    *value
		lastInd int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		raw := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(raw)
		if strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, ";") {
			continue
		}
		if i := inlineComment(raw); i >= 0 {
			raw = raw[:i]
			trimmed = strings.TrimSpace(raw)
		}
		if trimmed == "" {
			if last != nil {
				last.text += "\n" // empty lines in values are kept, trailing ones stripped below
				last.lines = append(last.lines, n)
			}
			continue
		}
		indent := len(raw) - len(strings.TrimLeft(raw, " \t"))
		if last != nil && indent > lastInd {
			last.text += "\n" + trimmed
			last.lines = append(last.lines, n)
			continue
		}
		if strings.HasPrefix(trimmed, "[") && strings.HasSuffix(trimmed, "]") && indent == 0 {
			name := trimmed[1 : len(trimmed)-1]
			last = nil
			if name == "DEFAULT" {
				cur = pf.defaults
				continue
			}
			if pf.sections[name] == nil {
				pf.sections[name] = section{}
				pf.order = append(pf.order, name)
			}
			cur = pf.sections[name]
			continue
		}
		i := strings.IndexAny(raw, "=:")
		if i < 0 {
			return nil, fmt.Errorf("%s:%d: not a section, an option or a comment", file, n) // quote nothing: it may be any file
		}
		if cur == nil {
			return nil, fmt.Errorf("%s:%d: option outside a section", file, n)
		}
		key := strings.ToLower(strings.TrimSpace(raw[:i]))
		last = &value{text: strings.TrimSpace(raw[i+1:]), file: file, line: n, lines: []int{n}}
		lastInd = indent
		cur[key] = last
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	trim := func(s section) {
		for _, v := range s {
			for strings.HasSuffix(v.text, "\n") {
				v.text = v.text[:len(v.text)-1]
				v.lines = v.lines[:len(v.lines)-1]
			}
		}
	}
	trim(pf.defaults)
	for _, s := range pf.sections {
		trim(s)
	}
	return pf, nil
}

// inlineComment returns the index of a " ;" comment (configparser's inline_comment_prefixes
// as fail2ban sets them), or -1.
func inlineComment(s string) int {
	for i := 1; i < len(s); i++ {
		if s[i] == ';' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// loader reads a filter file with its includes.
type loader struct {
	readFile func(string) ([]byte, error)
	cache    map[string]*parsedFile
}

// read returns the parsed file, nil when it does not exist (fail2ban skips missing includes).
func (l *loader) read(file string, must bool) (*parsedFile, error) {
	if pf, ok := l.cache[file]; ok {
		return pf, nil
	}
	data, err := l.readFile(file)
	if err != nil {
		if must {
			return nil, err
		}
		l.cache[file] = nil
		return nil, nil
	}
	pf, err := parseINIFile(file, data)
	if err != nil {
		return nil, err
	}
	l.cache[file] = pf
	return pf, nil
}

// includes lists file's include tree in reading order (before-files, the file, after-files),
// each file followed by its .local, as fail2ban's _getIncludes does.
func (l *loader) includes(file string, seen []string, top bool) ([]string, error) {
	names := []string{file}
	if local := strings.TrimSuffix(file, path.Ext(file)) + ".local"; local != file {
		if pf, err := l.read(local, false); err != nil {
			return nil, err
		} else if pf != nil {
			names = append(names, local)
		}
	}
	var out []string
	for i, name := range names {
		pf, err := l.read(name, top && i == 0)
		if err != nil {
			return nil, err
		}
		if pf == nil {
			continue
		}
		var before, after []string
		if inc := pf.sections["INCLUDES"]; inc != nil {
			for _, which := range []struct {
				key string
				to  *[]string
			}{{"before", &before}, {"after", &after}} {
				v := inc[which.key]
				if v == nil {
					continue
				}
				for _, r := range strings.Split(v.text, "\n") {
					r = strings.TrimSpace(r)
					if r == "" {
						continue
					}
					if !path.IsAbs(r) {
						r = path.Join(path.Dir(name), r)
					}
					if contains(seen, r) || r == name {
						continue
					}
					sub, err := l.includes(r, append(append([]string(nil), seen...), name), false)
					if err != nil {
						return nil, err
					}
					*which.to = append(*which.to, sub...)
				}
			}
		}
		out = append(out, before...)
		out = append(out, name)
		out = append(out, after...)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// load merges file and everything it includes.
func (l *loader) load(file string) (*iniSet, error) {
	files, err := l.includes(file, nil, true)
	if err != nil {
		return nil, err
	}
	set := &iniSet{defaults: section{}, sections: map[string]section{}}
	for _, f := range files {
		pf := l.cache[f]
		if pf == nil {
			continue
		}
		for k, v := range pf.defaults {
			set.defaults[k] = v
		}
		for _, name := range pf.order {
			s := pf.sections[name]
			if m := condSectionRE.FindStringSubmatch(name); m != nil {
				name = m[1]
				cs := section{}
				for k, v := range s {
					cs[k+m[2]] = v
				}
				s = cs
			}
			old := set.sections[name]
			if old == nil {
				cp := section{}
				for k, v := range s {
					cp[k] = v
				}
				set.sections[name] = cp
				set.order = append(set.order, name)
				continue
			}
			known := set.sections["KNOWN/"+name]
			if known == nil {
				known = section{}
				set.sections["KNOWN/"+name] = known
			}
			for k := range s {
				if v, ok := old[k]; ok {
					known[k] = v
				}
			}
			for k, v := range s {
				old[k] = v
			}
		}
	}
	return set, nil
}

// maxInterpolationDepth is configparser's MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

var interpRE = regexp.MustCompile(`%\(([^)]+)\)s`)

// get returns section's option key with %(name)s interpolated as configparser's
// BasicInterpolation does with fail2ban's additions: vars first, then the section, then the
// defaults; "%(section/key)s", "%(known/key)s" and "%(default/key)s" name other sections; "%%"
// is "%". ok is false when the option does not exist.
func (s *iniSet) get(sec, key string, vars map[string]string) (string, *value, bool, error) {
	key = strings.ToLower(key)
	if v, ok := vars[key]; ok {
		out, err := s.interp(sec, key, v, vars, 1)
		return out, nil, true, err
	}
	if v, ok := s.sections[sec][key]; ok {
		out, err := s.interp(sec, key, v.text, vars, 1)
		return out, v, true, err
	}
	if v, ok := s.defaults[key]; ok {
		out, err := s.interp(sec, key, v.text, vars, 1)
		return out, v, true, err
	}
	return "", nil, false, nil
}

// lookupRaw finds the raw value a %(name)s refers to.
func (s *iniSet) lookupRaw(sec, name string, vars map[string]string) (string, bool) {
	name = strings.ToLower(name)
	if i := strings.IndexByte(name, '/'); i > 0 {
		if _, ok := vars[name]; !ok {
			sn, opt := name[:i], name[i+1:]
			switch sn {
			case "known":
				if v, ok := s.sections["KNOWN/"+sec][opt]; ok {
					return v.text, true
				}
				if v, ok := s.defaults[opt]; ok {
					return v.text, true
				}
				return "", false
			case "default":
				if v, ok := s.defaults[opt]; ok {
					return v.text, true
				}
				return "", false
			}
			for real, secVals := range s.sections {
				if strings.EqualFold(real, sn) {
					if v, ok := secVals[opt]; ok {
						return v.text, true
					}
				}
			}
			if v, ok := s.defaults[opt]; ok {
				return v.text, true
			}
			return "", false
		}
	}
	if v, ok := vars[name]; ok {
		return v, true
	}
	if name == "__name__" {
		return sec, true
	}
	if v, ok := s.sections[sec][name]; ok {
		return v.text, true
	}
	if v, ok := s.defaults[name]; ok {
		return v.text, true
	}
	return "", false
}

func (s *iniSet) interp(sec, key, val string, vars map[string]string, depth int) (string, error) {
	if !strings.Contains(val, "%") {
		return val, nil
	}
	if depth > maxInterpolationDepth {
		return "", fmt.Errorf("[%s] %s: interpolation deeper than %d (a loop?)", sec, key, maxInterpolationDepth)
	}
	var b strings.Builder
	for i := 0; i < len(val); {
		c := val[i]
		if c != '%' {
			b.WriteByte(c)
			i++
			continue
		}
		if strings.HasPrefix(val[i:], "%%") {
			b.WriteByte('%')
			i += 2
			continue
		}
		m := interpRE.FindStringSubmatchIndex(val[i:])
		if m == nil || m[0] != 0 {
			return "", fmt.Errorf("[%s] %s: '%%' must be followed by '%%' or '(', found: %q", sec, key, val[i:])
		}
		name := val[i+m[2] : i+m[3]]
		raw, ok := s.lookupRaw(sec, name, vars)
		if !ok {
			return "", fmt.Errorf("[%s] %s: bad interpolation variable reference %q", sec, key, "%("+name+")s")
		}
		sub, err := s.interp(sec, strings.ToLower(name), raw, vars, depth+1)
		if err != nil {
			return "", err
		}
		b.WriteString(sub)
		i += m[1]
	}
	return b.String(), nil
}
