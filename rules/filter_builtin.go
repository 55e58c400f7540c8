package rules

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// builtinFilter is a filter shipped in the binary, written in fail2ban's filter file format and
// loaded like a filter file.
type builtinFilter struct {
	conf  string
	modes []string // allowed values of the mode option; nil: no mode option
}

// lookupBuiltin returns the built-in filter of that name.
func lookupBuiltin(name string) (builtinFilter, bool) {
	switch name {
	case "postfix-sasl":
		return builtinFilter{conf: postfixSASLConf}, true
	case "postfix":
		return builtinFilter{conf: postfixConf, modes: []string{"more", "normal", "auth", "rbl", "ddos", "extra", "aggressive", "errors"}}, true
	}
	return builtinFilter{}, false
}

// postfixSASLConf is fail2ban 0.11's postfix-sasl filter (the 0.9 file as amended by gh-1245),
// with two additions: an optional client port after the address (smtpd_client_port_logging)
// and the ", sasl_username=..." that newer Postfix appends. Neither can move the <HOST>
// slot: the address is the first [...] after "warning: " and the pattern is anchored at the
// start of the message. A failure caused by a lost connection to the authentication server is
// not the client's doing and is not a match (fail2ban 0.11 used the same lookahead).
const postfixSASLConf = `
[Definition]
_daemon = postfix(-\w+)?/(?:submission/|smtps/)?smtp[ds]
_port = (?::\d+)?
failregex = ^%(__prefix_line)swarning: [-._\w]+\[<HOST>\]%(_port)s: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed(?!: Connection lost to authentication server)(:[ A-Za-z0-9+/:]*={0,2})?(?:, sasl_username=.*)?\s*$
ignoreregex =
`

// postfixConf is fail2ban 1.0.2's filter.d/postfix.conf, regexes unchanged: its lookaheads
// are emulated (see lookahead) at positions the line's parse fixes, so they behave as in
// Python. Modes: more (default; normal, which includes rbl), normal, auth, rbl, ddos, extra
// (auth + normal), aggressive (all), errors ("too many errors" only).
const postfixConf = `
[Definition]
_daemon = postfix(-\w+)?/\w+(?:/smtp[ds])?
_port = (?::\d+)?
_pref = [A-Z]{4}

prefregex = ^%(__prefix_line)s<mdpr-<mode>> <F-CONTENT>.+</F-CONTENT>$

exre-user = |[Uu](?:ser unknown|ndeliverable address)

mdpr-normal = (?:\w+: (?:milter-)?reject:|(?:improper command pipelining|too many errors) after \S+)
mdre-normal=^%(_pref)s from [^[]*\[<HOST>\]%(_port)s: [45][50][04] [45]\.\d\.\d+ (?:(?:<[^>]*>)?: )?(?:(?:Helo command|(?:Sender|Recipient) address) rejected: )?(?:Service unavailable|(?:Client host|Command|Data command) rejected|Relay access denied|(?:Host|Domain) not found|need fully-qualified hostname|match%(exre-user)s)\b
            ^from [^[]*\[<HOST>\]%(_port)s:?

mdpr-auth = warning:
mdre-auth = ^[^[]*\[<HOST>\]%(_port)s: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed:(?! Connection lost to authentication server| Invalid authentication mechanism)
mdre-auth2= ^[^[]*\[<HOST>\]%(_port)s: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed:(?! Connection lost to authentication server)

mdpr-rbl = %(mdpr-normal)s
mdre-rbl  = ^%(_pref)s from [^[]*\[<HOST>\]%(_port)s: [45]54 [45]\.7\.1 Service unavailable; Client host \[\S+\] blocked\b

mdpr-more = %(mdpr-normal)s
mdre-more = %(mdre-normal)s

mdpr-ddos = (?:lost connection after(?! DATA) [A-Z]+|disconnect(?= from \S+(?: \S+=\d+)* auth=0/(?:[1-9]|\d\d+))|(?:PREGREET \d+|HANGUP) after \S+|COMMAND (?:TIME|COUNT|LENGTH) LIMIT)
mdre-ddos = ^from [^[]*\[<HOST>\]%(_port)s:?

mdpr-extra = (?:%(mdpr-auth)s|%(mdpr-normal)s)
mdre-extra = %(mdre-auth)s
            %(mdre-normal)s

mdpr-aggressive = (?:%(mdpr-auth)s|%(mdpr-normal)s|%(mdpr-ddos)s)
mdre-aggressive = %(mdre-auth2)s
                  %(mdre-normal)s

mdpr-errors = too many errors after \S+
mdre-errors = ^from [^[]*\[<HOST>\]%(_port)s$

failregex = <mdre-<mode>>

mode = more

ignoreregex =
`

// loadDefinition reads a built-in filter or a filter file (spec without a <HOST> tag).
func loadDefinition(spec string, readFile func(string) ([]byte, error)) (*filterDef, error) {
	base, opts, err := splitSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", spec, err)
	}
	if b, ok := lookupBuiltin(base); ok {
		ini, err := parseINI(base, []byte(b.conf))
		if err != nil {
			return nil, fmt.Errorf("filter %q: built-in: %w", spec, err)
		}
		def := ini.Definition()
		for k, v := range opts {
			if _, ok := def[k]; !ok {
				return nil, fmt.Errorf("filter %q: unknown option %q (want one of %s)", spec, k, strings.Join(sortedKeys(def), ", "))
			}
			if k == "mode" && !slices.Contains(b.modes, v) {
				return nil, fmt.Errorf("filter %q: unknown mode %q (want one of %s)", spec, v, strings.Join(b.modes, ", "))
			}
		}
		d, err := defFromINI(ini, "", opts)
		if err != nil {
			return nil, fmt.Errorf("filter %q: built-in: %w", spec, err)
		}
		d.name, d.builtin = canonicalSpec(base, opts), true
		return d, nil
	}
	if strings.Contains(base, "/") || strings.HasSuffix(base, ".conf") || strings.HasSuffix(base, ".local") {
		if readFile == nil {
			return nil, fmt.Errorf("filter %q: cannot read filter files here", spec)
		}
		data, err := readFile(base)
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", spec, err)
		}
		ini, err := parseINI(base, data)
		if err != nil {
			return nil, err
		}
		d, err := defFromINI(ini, base, opts)
		if err != nil {
			return nil, err
		}
		d.name = spec
		return d, nil
	}
	return nil, fmt.Errorf("filter %q: unknown filter (want postfix-sasl, postfix[mode=...], a filter file path, or a regex with <HOST>)", spec)
}

// Definition returns the [Definition] section (empty if none).
func (ini *iniFile) Definition() map[string]iniValue {
	if d := ini.secs["Definition"]; d != nil {
		return d
	}
	return map[string]iniValue{}
}

// defFromINI takes prefregex, failregex and ignoreregex from [Definition]. file is "" for a
// built-in.
func defFromINI(ini *iniFile, file string, opts map[string]string) (*filterDef, error) {
	d := &filterDef{file: file, res: newResolver(ini, opts)}
	where := "filter"
	if file != "" {
		where = file
	}
	def := ini.secs["Definition"]
	if def == nil {
		return nil, fmt.Errorf("%s: no [Definition] section", where)
	}
	fr, ok := def["failregex"]
	if !ok {
		return nil, fmt.Errorf("%s: [Definition] has no failregex", where)
	}
	d.fail = valueLines(fr)
	d.ignore = valueLines(def["ignoreregex"])
	if pr, ok := def["prefregex"]; ok {
		if l := valueLines(pr); len(l) > 0 {
			if len(l) > 1 {
				return nil, d.errAt(l[1], errors.New("prefregex: want one regex"))
			}
			d.pref = &l[0]
		}
	}
	return d, nil
}

// valueLines returns the non-empty lines of a value with their file lines.
func valueLines(v iniValue) []srcLine {
	var out []srcLine
	for i, p := range v.parts {
		if p != "" {
			out = append(out, srcLine{text: p, line: v.lines[i]})
		}
	}
	return out
}

var specRE = regexp.MustCompile(`^([^\[\]]+)\[(.*)\]$`)

// splitSpec splits "name[k=v, k2="v 2"]" into the name and its options (keys lower-cased).
func splitSpec(spec string) (string, map[string]string, error) {
	m := specRE.FindStringSubmatch(spec)
	if m == nil {
		return spec, nil, nil
	}
	base, rest := strings.TrimSpace(m[1]), m[2]
	opts := map[string]string{}
	for strings.TrimSpace(rest) != "" {
		rest = strings.TrimLeft(rest, " \t")
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return "", nil, fmt.Errorf("bad option %q (want key=value)", strings.TrimSpace(strings.SplitN(rest, ",", 2)[0]))
		}
		key := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
			end := strings.IndexByte(rest[1:], rest[0])
			if end < 0 {
				return "", nil, fmt.Errorf("option %q: missing closing %c", key, rest[0])
			}
			val, rest = rest[1:1+end], strings.TrimLeft(rest[2+end:], " \t")
			if rest != "" && rest[0] != ',' {
				return "", nil, fmt.Errorf("option %q: want ',' after the quoted value", key)
			}
		} else {
			c := strings.IndexByte(rest, ',')
			if c < 0 {
				c = len(rest)
			}
			val, rest = strings.TrimSpace(rest[:c]), rest[c:]
		}
		rest = strings.TrimPrefix(rest, ",")
		if _, dup := opts[key]; dup {
			return "", nil, fmt.Errorf("option %q given twice", key)
		}
		opts[key] = val
	}
	return base, opts, nil
}

// canonicalSpec writes name[k=v,...] with sorted keys, quoting values that need it.
func canonicalSpec(base string, opts map[string]string) string {
	if len(opts) == 0 {
		return base
	}
	var parts []string
	for _, k := range sortedKeys(opts) {
		v := opts[k]
		if v == "" || strings.ContainsAny(v, `,]"' `) {
			v = `"` + v + `"`
		}
		parts = append(parts, k+"="+v)
	}
	return base + "[" + strings.Join(parts, ", ") + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
