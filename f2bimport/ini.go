package f2bimport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// maxFile is the largest config file read: fail2ban's files are a few kilobytes.
const maxFile = 1 << 20

// iniFile is one file as Python's configparser reads it for fail2ban (fail2ban 1.0.2
// client/configparserinc.py): case-insensitive option names, "=" or ":", full-line comments
// starting with # or ;, inline comments starting with ; after white space, and values
// continued on the lines indented deeper than their option.
type iniFile struct {
	path     string
	defaults map[string]string
	sections map[string]map[string]string
	order    []string // section names in the order of their first line
}

var sectionRE = regexp.MustCompile(`^\[(.+)\]`)

// parseINI parses data, the text of the file path (for messages).
func parseINI(path string, data []byte) (*iniFile, error) {
	f := &iniFile{path: path, defaults: map[string]string{}, sections: map[string]map[string]string{}}
	var cur map[string]string // nil before the first section
	var key string            // the option a continuation line extends
	var keyIndent int
	var pendingBlank int // blank lines inside a value, kept only when the value goes on
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			if key != "" {
				pendingBlank++
			}
			continue
		}
		if trimmed[0] == '#' || trimmed[0] == ';' {
			continue
		}
		trimmed = stripInlineComment(trimmed)
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		if cur != nil && key != "" && indent > keyIndent {
			cur[key] += strings.Repeat("\n", pendingBlank+1) + trimmed
			pendingBlank = 0
			continue
		}
		key, pendingBlank = "", 0
		if m := sectionRE.FindStringSubmatch(trimmed); m != nil {
			name := m[1]
			if name == "DEFAULT" {
				cur = f.defaults
				continue
			}
			if f.sections[name] == nil {
				f.sections[name] = map[string]string{}
				f.order = append(f.order, name)
			}
			cur = f.sections[name]
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("%s:%d: an option before the first [section]", path, n+1)
		}
		i := strings.IndexAny(trimmed, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("%s:%d: want NAME = VALUE, a [section] or a comment", path, n+1)
		}
		key = strings.ToLower(strings.TrimSpace(trimmed[:i]))
		keyIndent = indent
		cur[key] = strings.TrimSpace(trimmed[i+1:])
	}
	return f, nil
}

// stripInlineComment cuts s at a ";" that follows white space (configparser's
// inline_comment_prefixes, as fail2ban sets them).
func stripInlineComment(s string) string {
	for i := 1; i < len(s); i++ {
		if s[i] == ';' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

// readRegular reads path when it is a regular file of at most maxFile bytes.
func readRegular(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > maxFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFile)
	}
	return os.ReadFile(path)
}

func exists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// Config is fail2ban's jail configuration after reading every file, as fail2ban's
// ConfigReader merges them: DEFAULT options, sections, and the values that a later file
// overrode (KNOWN/section, for %(known/option)s).
type Config struct {
	Files    []string // the files read, in order
	defaults map[string]string
	sections map[string]map[string]string
	known    map[string]map[string]string
	order    []string
	// setBy maps "section\x00option" (section "DEFAULT" too) to the file that last set it.
	setBy map[string]string
}

// ReadJailConfig reads the jail configuration under dir the way fail2ban 1.0 does: jail.conf,
// jail.d/*.conf (sorted), jail.local, jail.d/*.local (sorted), each preceded by the files of its
// [INCLUDES] before and followed by those of after (recursively, with the .local beside each
// included file). Missing files are skipped; jail.conf and jail.local both missing is an error.
func ReadJailConfig(dir string) (*Config, error) {
	base := filepath.Join(dir, "jail")
	confs, _ := filepath.Glob(filepath.Join(base+".d", "*.conf"))
	locals, _ := filepath.Glob(filepath.Join(base+".d", "*.local"))
	sort.Strings(confs)
	sort.Strings(locals)
	var files []string
	for _, f := range append(append(append([]string{base + ".conf"}, confs...), base+".local"), locals...) {
		if exists(f) {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("read fail2ban config: no %s.conf, %s.local or %s.d/*.conf in %s", "jail", "jail", "jail", dir)
	}
	return readMerged(files)
}

// readMerged reads files with their includes and merges them, later files overriding.
func readMerged(files []string) (*Config, error) {
	c := &Config{defaults: map[string]string{}, sections: map[string]map[string]string{},
		known: map[string]map[string]string{}, setBy: map[string]string{}}
	cache := map[string]*iniFile{}
	load := func(p string) (*iniFile, error) {
		if f, ok := cache[p]; ok {
			return f, nil
		}
		data, err := readRegular(p)
		if err != nil {
			return nil, fmt.Errorf("read fail2ban config: %w", err)
		}
		f, err := parseINI(p, data)
		if err != nil {
			return nil, fmt.Errorf("read fail2ban config: %w", err)
		}
		cache[p] = f
		return f, nil
	}
	var expand func(files []string, seen []string) ([]string, error)
	expand = func(files []string, seen []string) ([]string, error) {
		var out []string
		for _, p := range withLocals(files) {
			f, err := load(p)
			if errors.Is(err, fs.ErrNotExist) && len(seen) > 0 {
				continue // a missing include, as fail2ban skips it
			}
			if err != nil {
				return nil, err
			}
			var before, after []string
			if inc := f.sections["INCLUDES"]; inc != nil {
				for _, which := range []struct {
					opt string
					dst *[]string
				}{{"before", &before}, {"after", &after}} {
					for _, r := range strings.Split(inc[which.opt], "\n") {
						if r = strings.TrimSpace(r); r == "" {
							continue
						}
						if !filepath.IsAbs(r) {
							r = filepath.Join(filepath.Dir(p), r)
						}
						if r == p || contains(seen, r) {
							continue
						}
						list, err := expand([]string{r}, append(append([]string{}, seen...), p))
						if err != nil {
							return nil, err
						}
						*which.dst = append(*which.dst, list...)
					}
				}
			}
			out = append(append(append(out, before...), p), after...)
		}
		return out, nil
	}
	all, err := expand(files, nil)
	if err != nil {
		return nil, err
	}
	for _, p := range all {
		f := cache[p]
		c.Files = append(c.Files, p)
		for k, v := range f.defaults {
			c.defaults[k] = v
			c.setBy["DEFAULT\x00"+k] = p
		}
		for _, name := range f.order {
			if name == "INCLUDES" {
				continue
			}
			s := f.sections[name]
			old := c.sections[name]
			if old == nil {
				old = map[string]string{}
				c.sections[name] = old
				c.order = append(c.order, name)
			}
			for k, v := range s {
				if prev, ok := old[k]; ok {
					if c.known[name] == nil {
						c.known[name] = map[string]string{}
					}
					c.known[name][k] = prev
				}
				old[k] = v
				c.setBy[name+"\x00"+k] = p
			}
		}
	}
	return c, nil
}

// withLocals returns files with, after each X.conf, X.local when it exists and is not listed
// (fail2ban's _expandConfFilesWithLocal).
func withLocals(files []string) []string {
	var out []string
	for _, f := range files {
		out = append(out, f)
		local := strings.TrimSuffix(f, filepath.Ext(f)) + ".local"
		if local != f && !contains(files, local) && exists(local) {
			out = append(out, local)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Sections returns the section names (jails) in the order they first appeared.
func (c *Config) Sections() []string { return append([]string(nil), c.order...) }

// Raw returns the uninterpolated value of option in section, falling back to DEFAULT.
func (c *Config) Raw(section, option string) (string, bool) {
	if v, ok := c.sections[section][option]; ok {
		return v, true
	}
	v, ok := c.defaults[option]
	return v, ok
}

// Own returns the names of the options set in the section itself (not inherited), sorted.
func (c *Config) Own(section string) []string {
	var out []string
	for k := range c.sections[section] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SetBy returns the file that set option in section ("DEFAULT" for the defaults).
func (c *Config) SetBy(section, option string) string { return c.setBy[section+"\x00"+option] }

// MissingError is Get's error for a %(name)s that names no option.
type MissingError struct{ Section, Option, Name string }

func (e *MissingError) Error() string {
	return fmt.Sprintf("[%s] %s: %%(%s)s names no option", e.Section, e.Option, e.Name)
}

// Get returns option of section with %(name)s interpolated as fail2ban does: names are looked
// up in the section, then DEFAULT; __name__ is the section's name; %(default/x)s is DEFAULT's
// x, %(known/x)s the value of x before a later file overrode it (else DEFAULT's), %(sec/x)s
// section sec's x; %% is %. ok is false when the option is not set.
func (c *Config) Get(section, option string) (v string, ok bool, err error) {
	raw, ok := c.Raw(section, option)
	if !ok {
		return "", false, nil
	}
	v, err = c.interpolate(section, option, raw, 0)
	return v, true, err
}

func (c *Config) lookup(section, name string) (string, bool) {
	if name == "__name__" {
		return section, true
	}
	sec, opt, scoped := strings.Cut(name, "/")
	if !scoped {
		return c.Raw(section, name)
	}
	switch strings.ToLower(sec) {
	case "default":
	case "known":
		if v, ok := c.known[section][opt]; ok {
			return v, true
		}
	default:
		if s, ok := c.sections[sec]; ok {
			if v, ok := s[opt]; ok {
				return v, true
			}
		}
	}
	v, ok := c.defaults[opt]
	return v, ok
}

// maxDepth is configparser's MAX_INTERPOLATION_DEPTH.
const maxDepth = 10

func (c *Config) interpolate(section, option, s string, depth int) (string, error) {
	if depth > maxDepth {
		return "", fmt.Errorf("[%s] %s: interpolation deeper than %d (a loop?)", section, option, maxDepth)
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "%%"):
			b.WriteByte('%')
			s = s[2:]
		case strings.HasPrefix(s, "%("):
			end := strings.Index(s, ")s")
			if end < 0 {
				return "", fmt.Errorf("[%s] %s: bad interpolation %q", section, option, s)
			}
			name := strings.ToLower(s[2:end])
			v, ok := c.lookup(section, name)
			if !ok {
				return "", &MissingError{Section: section, Option: option, Name: name}
			}
			if strings.Contains(v, "%") {
				var err error
				if v, err = c.interpolate(section, option, v, depth+1); err != nil {
					return "", err
				}
			}
			b.WriteString(v)
			s = s[end+2:]
		default:
			return "", fmt.Errorf("[%s] %s: '%%' must be followed by '%%' or '(', in %q", section, option, s)
		}
	}
}
