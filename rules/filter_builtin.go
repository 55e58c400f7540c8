package rules

import (
	"bytes"
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
	conf    string
	choices map[string][]string // allowed values of options that take one of a list (mode)
}

// lookupBuiltin returns the built-in filter of that name.
func lookupBuiltin(name string) (builtinFilter, bool) {
	switch name {
	case "postfix-sasl":
		return builtinFilter{conf: postfixSASLConf}, true
	case "postfix":
		return builtinFilter{conf: postfixConf, choices: map[string][]string{"mode": {"more", "normal", "auth", "rbl", "ddos", "extra", "aggressive", "errors"}}}, true
	case "dovecot":
		return builtinFilter{conf: dovecotConf, choices: map[string][]string{"mode": {"normal", "aggressive"}}}, true
	case "roundcube-auth":
		return builtinFilter{conf: roundcubeConf}, true
	case "nginx-http-auth":
		return builtinFilter{conf: nginxHTTPAuthConf, choices: map[string][]string{"mode": {"normal", "auth", "fallback", "aggressive"}}}, true
	case "sshd":
		return builtinFilter{conf: sshdConf, choices: map[string][]string{"mode": {"normal", "ddos", "extra", "aggressive"}, "publickey": {"nofail", "invalid", "any", "ignore"}}}, true
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

// postfixConf is fail2ban 1.0.2's filter.d/postfix.conf with one change: the client name
// before <HOST>, [^[]* there (any text up to the first '['), is [-._\w]* here — what postfix
// writes as a client name, a valid host name (valid_hostname(3): letters, digits, '-', '_',
// '.') or "unknown". fail2ban's [^[]* lets text a remote party wrote stand in for the name:
// in mode extra and aggressive the SASL patterns, tried on the text after a cleanup
// "QUEUEID: reject:", took "header Subject: x[VICTIM]: SASL LOGIN authentication failed:
// ... from unknown[CLIENT]; from=<...>" (a header_checks REJECT the sender's message
// triggers) for a failure of VICTIM. A postfix message whose first word is not a client name
// (cleanup's "header ...", "body ...", smtpd's "Illegal address syntax from ...") now never
// reaches a [<HOST>]. No line of fail2ban's sample corpus changes. Its lookaheads are
// emulated (see lookahead) at positions the line's parse fixes, so they behave as in Python.
// Modes: more (default; normal, which includes rbl), normal, auth, rbl, ddos, extra (auth +
// normal), aggressive (all), errors ("too many errors" only).
const postfixConf = `
[Definition]
_daemon = postfix(-\w+)?/\w+(?:/smtp[ds])?
_port = (?::\d+)?
_pref = [A-Z]{4}

prefregex = ^%(__prefix_line)s<mdpr-<mode>> <F-CONTENT>.+</F-CONTENT>$

exre-user = |[Uu](?:ser unknown|ndeliverable address)

mdpr-normal = (?:\w+: (?:milter-)?reject:|(?:improper command pipelining|too many errors) after \S+)
mdre-normal=^%(_pref)s from [-._\w]*\[<HOST>\]%(_port)s: [45][50][04] [45]\.\d\.\d+ (?:(?:<[^>]*>)?: )?(?:(?:Helo command|(?:Sender|Recipient) address) rejected: )?(?:Service unavailable|(?:Client host|Command|Data command) rejected|Relay access denied|(?:Host|Domain) not found|need fully-qualified hostname|match%(exre-user)s)\b
            ^from [-._\w]*\[<HOST>\]%(_port)s:?

mdpr-auth = warning:
mdre-auth = ^[-._\w]*\[<HOST>\]%(_port)s: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed:(?! Connection lost to authentication server| Invalid authentication mechanism)
mdre-auth2= ^[-._\w]*\[<HOST>\]%(_port)s: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed:(?! Connection lost to authentication server)

mdpr-rbl = %(mdpr-normal)s
mdre-rbl  = ^%(_pref)s from [-._\w]*\[<HOST>\]%(_port)s: [45]54 [45]\.7\.1 Service unavailable; Client host \[\S+\] blocked\b

mdpr-more = %(mdpr-normal)s
mdre-more = %(mdre-normal)s

mdpr-ddos = (?:lost connection after(?! DATA) [A-Z]+|disconnect(?= from \S+(?: \S+=\d+)* auth=0/(?:[1-9]|\d\d+))|(?:PREGREET \d+|HANGUP) after \S+|COMMAND (?:TIME|COUNT|LENGTH) LIMIT)
mdre-ddos = ^from [-._\w]*\[<HOST>\]%(_port)s:?

mdpr-extra = (?:%(mdpr-auth)s|%(mdpr-normal)s)
mdre-extra = %(mdre-auth)s
            %(mdre-normal)s

mdpr-aggressive = (?:%(mdpr-auth)s|%(mdpr-normal)s|%(mdpr-ddos)s)
mdre-aggressive = %(mdre-auth2)s
                  %(mdre-normal)s

mdpr-errors = too many errors after \S+
mdre-errors = ^from [-._\w]*\[<HOST>\]%(_port)s$

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
			if c, ok := b.choices[k]; ok && !slices.Contains(c, v) {
				return nil, fmt.Errorf("filter %q: unknown %s %q (want one of %s)", spec, k, v, strings.Join(c, ", "))
			}
		}
		d, err := defFromINI(ini, "", opts)
		if err != nil {
			return nil, fmt.Errorf("filter %q: built-in: %w", spec, err)
		}
		d.name, d.builtin = canonicalSpec(base, opts), true
		if base == "sshd" {
			mode, pk := "normal", "nofail"
			if v, ok := opts["mode"]; ok {
				mode = v
			}
			if v, ok := opts["publickey"]; ok {
				pk = v
			}
			d.sshd = newSSHDMemory(mode, pk)
		}
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
		if !hasDefinitionHeader(data) {
			// Not a filter: say nothing of what it holds, it may be any file (/etc/shadow).
			return nil, fmt.Errorf("%s: not a fail2ban filter file (no [Definition] section)", base)
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
	return nil, fmt.Errorf("filter %q: unknown filter (want postfix-sasl, postfix[mode=...], dovecot, roundcube-auth, nginx-http-auth, sshd[mode=...], a filter file path, or a regex with <HOST>)", spec)
}

// hasDefinitionHeader reports whether data has a "[Definition]" section header line, as
// parseINI reads one. Errors about a file without one must not quote it: it is not a filter
// file, and may be anything its path names.
func hasDefinitionHeader(data []byte) bool {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if bytes.HasPrefix(line, []byte("[Definition]")) {
			return true
		}
	}
	return false
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

// Hand-written matchers for the regexes of the built-in filters.
//
// Go's regexp spends a microsecond or more on a matching postfix line, mostly in the generic
// __prefix_line. The regexes below, recognised by their exact text wherever they come from,
// also have a hand-written matcher, which Match tries first. Such a matcher only ever reports
// a match: ok means the regex matches and the first match (leftmost-first, the one
// FindSubmatchIndex returns) has the positions given. Anything else — a miss, or a line whose
// shape the matcher does not follow — reports !ok and the regex decides, so a matcher may be
// stricter than its regex but never more lenient. Each follows its regex's preferred choice
// (greedy loops take all they can, optional parts are taken) and gives up where that choice
// fails and the regex would try another: the first success on that path is the regex's first
// match. FuzzMatch compares the results with those of the regexes alone.

// fastLoc is what a hand-written matcher found: the end of the match (the start of the
// content, for a prefregex), the span of its <HOST> group (host[0] < 0: none) and the position
// of its lookahead group (-1: none). When the matcher gives up, miss says that the regex
// cannot match either (set only where the matcher's checks are the regex's own), so Match
// need not run it.
type fastLoc struct {
	end  int
	host [2]int
	look int
	miss bool
}

// fastMatcher matches one regex by hand; see above.
type fastMatcher func(b []byte) (fastLoc, bool)

// daemonMatcher matches a %(_daemon)s regex by hand: the end of its first match at b[p:], or -1.
type daemonMatcher func(b []byte, p int) int

// builtinMatcher returns the hand-written matcher for a regex (as written, <HOST> and
// %(__prefix_line)s unexpanded, after LoadFilter's rewriting of a prefregex's
// <F-CONTENT>.+</F-CONTENT>$), and whether it matches after %(__prefix_line)s (which the
// caller scans with scanPrefixLine). hosts and looks are how many <HOST> groups and lookaheads
// the matcher reports.
func builtinMatcher(src string) (m fastMatcher, afterPrefix bool, hosts, looks int) {
	if tail, ok := strings.CutPrefix(src, "^"+prefixPlaceholder); ok {
		switch tail {
		case `(?:(?:dovecot: )?auth(?:-worker)?(?:\([^\)]+\))?: )?(?:pam_unix(?:\(dovecot:auth\))?: |(?:pop3|imap|managesieve|submission)-login: )?(?:Info: )?(?:conn \w+:auth(?:-worker)? \([^\)]+\): auth(?:-worker)?<\d+>: )?<F-CONTENT></F-CONTENT>`: // dovecot prefregex
			return matchDovecotPref, true, 0, 0
		case `warning: <F-CONTENT></F-CONTENT>`: // postfix[mode=auth] prefregex
			return matchWarningPref, true, 0, 0
		case `(?:\w+: (?:milter-)?reject:|(?:improper command pipelining|too many errors) after \S+) <F-CONTENT></F-CONTENT>`: // postfix[mode=more|normal|rbl] prefregex
			return matchNormalPref, true, 0, 0
		case `warning: [-._\w]+\[<HOST>\](?::\d+)?: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed(?!: Connection lost to authentication server)(:[ A-Za-z0-9+/:]*={0,2})?(?:, sasl_username=.*)?\s*$`: // postfix-sasl
			return matchSASL, true, 1, 1
		}
		return nil, false, 0, 0
	}
	switch src {
	case `^[-._\w]*\[<HOST>\](?::\d+)?: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed:(?! Connection lost to authentication server| Invalid authentication mechanism)`, // postfix mdre-auth
		`^[-._\w]*\[<HOST>\](?::\d+)?: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed:(?! Connection lost to authentication server)`: // postfix mdre-auth2
		return matchAuth, false, 1, 1
	case `^[A-Z]{4} from [-._\w]*\[<HOST>\](?::\d+)?: [45][50][04] [45]\.\d\.\d+ (?:(?:<[^>]*>)?: )?(?:(?:Helo command|(?:Sender|Recipient) address) rejected: )?(?:Service unavailable|(?:Client host|Command|Data command) rejected|Relay access denied|(?:Host|Domain) not found|need fully-qualified hostname|match|[Uu](?:ser unknown|ndeliverable address))\b`: // postfix mdre-normal
		return matchNormalReject, false, 1, 0
	case `^from [-._\w]*\[<HOST>\](?::\d+)?:?`: // postfix mdre-normal, mdre-ddos
		return matchFromHost, false, 1, 0
	case `^(?:Aborted login|Disconnected|Remote closed connection|Client has quit the connection)(?:: (?:\w+\([^\):]*\) \w+|[^\(]+))* \((?:auth failed, \d+ attempts(?: in \d+ secs)?|tried to use (?:disabled|disallowed) \S+ auth|proxy dest auth failed)\):(?: user=<.*>,)?(?: method=\S+,)? rip=<HOST>(?:[^>]*(?:, session=<\S+>)?)\s*$`: // dovecot
		return matchDovecotAuthFailed, false, 1, 0
	case sshdPrefSrc:
		return matchSSHDPref, false, 0, 0
	case `^Failed (?!publickey )\S+ for <F-USER>\S+</F-USER> from <HOST>(?: (?:port \d+|on \S+)){0,2}(?: ssh\d*)?(?:: |\s*$)`: // sshd, publickey nofail|invalid|ignore
		return matchSSHDFailed(len("Failed ")), false, 1, 1
	case `^Failed \S+ for <F-USER>\S+</F-USER> from <HOST>(?: (?:port \d+|on \S+)){0,2}(?: ssh\d*)?(?:: |\s*$)`: // sshd[publickey=any]
		return matchSSHDFailed(-1), false, 1, 0
	case `^Failed (?!publickey )\S+ for (?:invalid user )?<F-USER>.*</F-USER> from <HOST>(?: port \d+)?(?: on \S+)?(?: ssh\d*)?(?:: [A-Z][\w-]* \S+)?\s*$`:
		return matchSSHDFailedInvalid(len("Failed ")), false, 1, 1
	case `^Failed \S+ for (?:invalid user )?<F-USER>.*</F-USER> from <HOST>(?: port \d+)?(?: on \S+)?(?: ssh\d*)?(?:: [A-Z][\w-]* \S+)?\s*$`:
		return matchSSHDFailedInvalid(-1), false, 1, 0
	case `^[iI](?:llegal|nvalid) user <F-USER>.*</F-USER> from <HOST>(?: (?:port \d+|on \S+|\[preauth\])){0,3}\s*$`: // sshd
		return matchSSHDInvalidUser, false, 1, 0
	}
	return nil, false, 0, 0
}

// builtinDaemon returns the hand-written matcher of a _daemon regex of the built-in filters.
func builtinDaemon(daemon string) daemonMatcher {
	switch daemon {
	case `postfix(-\w+)?/\w+(?:/smtp[ds])?`: // postfix
		return matchPostfixDaemon
	case `postfix(-\w+)?/(?:submission/|smtps/)?smtp[ds]`: // postfix-sasl
		return matchPostfixSASLDaemon
	case `(?:dovecot(?:-auth)?|auth(?:-worker)?|(?:pop3|imap|managesieve|submission)-login)`: // dovecot
		return matchDovecotDaemon
	}
	return nil
}

// scanPrefixLine matches our __prefix_line (see commonKey) at the start of b, with daemon
// matching %(_daemon)s, for lines of the usual shape "host daemon[pid]: ": no <facility.level>,
// @vserver_, pid before the daemon, (...) or brackets around it, or [ID n x]. It returns the
// end of the regex's first match, or !ok.
//
//	\s*(?:<[^.]+\.[^.]+>\s+)?(?:\S+\s+)?(?:@vserver_\S+\s+)?
//	(?:(?:\[\d+\])?:\s+[\[\(]?D(?:\(\S+\))?[\]\)]?:?|[\[\(]?D(?:\(\S+\))?[\]\)]?(?:\[\d+\])?:?)
//	\s+(?:\[ID \d+ \S+\]\s+)?
func scanPrefixLine(b []byte, daemon daemonMatcher) (int, bool) {
	p := skipRESpace(b, 0)
	if p == len(b) || b[p] == '<' { // no host name, or <facility.level>
		return 0, false
	}
	q := skipRENonSpace(b, p) // the host name, taken
	p = skipRESpace(b, q)
	if p == q || p == len(b) {
		return 0, false
	}
	switch b[p] {
	case '@', // @vserver_
		'[', ':', // the first alternative: (?:\[\d+\])?:\s+
		'(': // [\[\(]? before the daemon
		return 0, false
	}
	d := daemon(b, p)
	if d < 0 || d == len(b) {
		return 0, false
	}
	switch b[d] {
	case '(', ']', ')': // (?:\(\S+\))?[\]\)]?
		return 0, false
	case '[': // (?:\[\d+\])?
		k := skipDigits(b, d+1)
		if k == d+1 || k == len(b) || b[k] != ']' {
			return 0, false
		}
		d = k + 1
	}
	if d < len(b) && b[d] == ':' {
		d++
	}
	e := skipRESpace(b, d)
	if e == d || e < len(b) && b[e] == '[' { // \s+, then no [ID n x]
		return 0, false
	}
	return e, true
}

// matchPostfixDaemon matches postfix(-\w+)?/\w+(?:/smtp[ds])? at b[p:].
func matchPostfixDaemon(b []byte, p int) int {
	if p = skipPostfixInstance(b, p); p < 0 {
		return -1
	}
	q := skipWord(b, p)
	if q == p {
		return -1
	}
	if hasPrefixAt(b, q, "/smtp") && q+5 < len(b) && (b[q+5] == 'd' || b[q+5] == 's') {
		q += 6
	}
	return q
}

// matchPostfixSASLDaemon matches postfix(-\w+)?/(?:submission/|smtps/)?smtp[ds] at b[p:].
// After "smtps/" that is not followed by smtp[ds] it gives up: the regex would then match
// "smtps" alone.
func matchPostfixSASLDaemon(b []byte, p int) int {
	if p = skipPostfixInstance(b, p); p < 0 {
		return -1
	}
	if hasPrefixAt(b, p, "submission/") {
		p += len("submission/")
	} else if hasPrefixAt(b, p, "smtps/") {
		p += len("smtps/")
	}
	if !hasPrefixAt(b, p, "smtp") || p+4 >= len(b) || b[p+4] != 'd' && b[p+4] != 's' {
		return -1
	}
	return p + 5
}

// skipPostfixInstance matches postfix(-\w+)?/ at b[p:] and returns its end, or -1.
func skipPostfixInstance(b []byte, p int) int {
	if !hasPrefixAt(b, p, "postfix") {
		return -1
	}
	p += len("postfix")
	if p < len(b) && b[p] == '-' {
		if q := skipWord(b, p+1); q > p+1 {
			p = q
		}
	}
	if p == len(b) || b[p] != '/' {
		return -1
	}
	return p + 1
}

// matchWarningPref: "warning: " (postfix[mode=auth]'s prefregex after the prefix).
func matchWarningPref(b []byte) (fastLoc, bool) {
	if !bytes.HasPrefix(b, []byte("warning: ")) {
		return fastLoc{}, false
	}
	return fastLoc{end: len("warning: "), host: [2]int{-1, -1}, look: -1}, true
}

// matchNormalPref: postfix's mdpr-normal and the space after it,
//
//	(?:\w+: (?:milter-)?reject:|(?:improper command pipelining|too many errors) after \S+)[ ]
func matchNormalPref(b []byte) (fastLoc, bool) {
	if p := skipWord(b, 0); p > 0 && hasPrefixAt(b, p, ": ") {
		p += 2
		if hasPrefixAt(b, p, "milter-") {
			p += len("milter-")
		}
		if !hasPrefixAt(b, p, "reject: ") {
			return fastLoc{}, false
		}
		return fastLoc{end: p + len("reject: "), host: [2]int{-1, -1}, look: -1}, true
	}
	for _, s := range []string{"improper command pipelining after ", "too many errors after "} {
		if hasPrefixAt(b, 0, s) {
			p := skipRENonSpace(b, len(s))
			if p == len(s) || p == len(b) || b[p] != ' ' {
				return fastLoc{}, false
			}
			return fastLoc{end: p + 1, host: [2]int{-1, -1}, look: -1}, true
		}
	}
	return fastLoc{}, false
}

// matchSASL: postfix-sasl's failregex after the prefix,
//
//	warning: [-._\w]+\[<HOST>\](?::\d+)?: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed(?!: Connection lost to authentication server)(:[ A-Za-z0-9+/:]*={0,2})?(?:, sasl_username=.*)?\s*$
func matchSASL(b []byte) (fastLoc, bool) {
	const warning = "warning: "
	if !bytes.HasPrefix(b, []byte(warning)) {
		return fastLoc{}, false
	}
	i := bytes.IndexByte(b[len(warning):], '[') + len(warning)
	if i <= len(warning) || !isClientName(b[len(warning):i]) {
		return fastLoc{}, false
	}
	h0, h1, p := bracketHost(b, i)
	if p = saslFailed(b, p); p < 0 {
		return fastLoc{}, false
	}
	loc := fastLoc{end: len(b), host: [2]int{h0, h1}, look: p}
	// (:[ A-Za-z0-9+/:]*={0,2})?: taking the most is never worse, as what follows can
	// consume neither these characters (but trailing blanks, which \s* takes as well) nor '='.
	if p < len(b) && b[p] == ':' {
		p++
		for p < len(b) && (isWordByte(b[p]) && b[p] != '_' || b[p] == ' ' || b[p] == '+' || b[p] == '/' || b[p] == ':') {
			p++
		}
		for n := 0; n < 2 && p < len(b) && b[p] == '='; n++ {
			p++
		}
	}
	// (?:, sasl_username=.*)?: the dot stops at a newline only.
	if hasPrefixAt(b, p, ", sasl_username=") {
		p += len(", sasl_username=")
		if nl := bytes.IndexByte(b[p:], '\n'); nl >= 0 {
			p += nl
		} else {
			p = len(b)
		}
	}
	if skipRESpace(b, p) != len(b) { // \s*$
		return fastLoc{}, false
	}
	return loc, true
}

// matchAuth: postfix's mdre-auth and mdre-auth2,
//
//	^[-._\w]*\[<HOST>\](?::\d+)?: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed:(?!...)
func matchAuth(b []byte) (fastLoc, bool) {
	i := bytes.IndexByte(b, '[')
	if i < 0 || !isClientName(b[:i]) {
		return fastLoc{}, false
	}
	h0, h1, p := bracketHost(b, i)
	if p = saslFailed(b, p); p < 0 || p == len(b) || b[p] != ':' {
		return fastLoc{}, false
	}
	return fastLoc{end: p + 1, host: [2]int{h0, h1}, look: p + 1}, true
}

// matchNormalReject: postfix's first mdre-normal,
//
//	^[A-Z]{4} from [-._\w]*\[<HOST>\](?::\d+)?: [45][50][04] [45]\.\d\.\d+ (?:(?:<[^>]*>)?: )?(?:(?:Helo command|(?:Sender|Recipient) address) rejected: )?(?:Service unavailable|(?:Client host|Command|Data command) rejected|Relay access denied|(?:Host|Domain) not found|need fully-qualified hostname|match|[Uu](?:ser unknown|ndeliverable address))\b
//
// Only the host and the pattern are reported, so any match will do.
func matchNormalReject(b []byte) (fastLoc, bool) {
	const from = "XXXX from "
	if len(b) < len(from) || !hasPrefixAt(b, 4, from[4:]) {
		return fastLoc{}, false
	}
	for _, c := range b[:4] {
		if c < 'A' || c > 'Z' {
			return fastLoc{}, false
		}
	}
	i := bytes.IndexByte(b[len(from):], '[') + len(from)
	if i < len(from) || !isClientName(b[len(from):i]) {
		return fastLoc{}, false
	}
	h0, h1, p := bracketHost(b, i)
	if p < 0 {
		return fastLoc{}, false
	}
	p = skipPort(b, p)
	// : [45][50][04] [45]\.\d\.\d+[ ]
	if p+11 > len(b) || b[p] != ':' || b[p+1] != ' ' || b[p+2] != '4' && b[p+2] != '5' || b[p+3] != '5' && b[p+3] != '0' ||
		b[p+4] != '0' && b[p+4] != '4' || b[p+5] != ' ' || b[p+6] != '4' && b[p+6] != '5' || b[p+7] != '.' || !isDigit(b[p+8]) ||
		b[p+9] != '.' || !isDigit(b[p+10]) {
		return fastLoc{}, false
	}
	if p = skipDigits(b, p+10); p == len(b) || b[p] != ' ' {
		return fastLoc{}, false
	}
	p++
	// (?:(?:<[^>]*>)?: )?: a '<' or ':' here can only be taken by it.
	if p < len(b) && b[p] == '<' {
		k := bytes.IndexByte(b[p:], '>')
		if k < 0 {
			return fastLoc{}, false
		}
		p += k + 1
		if !hasPrefixAt(b, p, ": ") {
			return fastLoc{}, false
		}
		p += 2
	} else if hasPrefixAt(b, p, ": ") {
		p += 2
	}
	for _, s := range []string{"Helo command rejected: ", "Sender address rejected: ", "Recipient address rejected: "} {
		if hasPrefixAt(b, p, s) {
			p += len(s)
			break
		}
	}
	for _, s := range []string{"Service unavailable", "Client host rejected", "Command rejected", "Data command rejected",
		"Relay access denied", "Host not found", "Domain not found", "need fully-qualified hostname", "match",
		"User unknown", "user unknown", "Undeliverable address", "undeliverable address"} {
		if hasPrefixAt(b, p, s) && (p+len(s) == len(b) || !isWordByte(b[p+len(s)])) { // \b after a word character
			return fastLoc{end: p + len(s), host: [2]int{h0, h1}, look: -1}, true
		}
	}
	return fastLoc{}, false
}

// matchFromHost: postfix's second mdre-normal, ^from [-._\w]*\[<HOST>\](?::\d+)?:?
func matchFromHost(b []byte) (fastLoc, bool) {
	if !bytes.HasPrefix(b, []byte("from ")) {
		return fastLoc{}, false
	}
	i := bytes.IndexByte(b[len("from "):], '[') + len("from ")
	if i < len("from ") || !isClientName(b[len("from "):i]) {
		return fastLoc{}, false
	}
	h0, h1, p := bracketHost(b, i)
	if p < 0 {
		return fastLoc{}, false
	}
	if p = skipPort(b, p); p < len(b) && b[p] == ':' {
		p++
	}
	return fastLoc{end: p, host: [2]int{h0, h1}, look: -1}, true
}

// isClientName reports whether all of s matches [-._\w]*, the client name before [<HOST>] in
// the built-in filters (see postfixConf).
func isClientName(s []byte) bool {
	for _, c := range s {
		if !isWordByte(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// bracketHost matches \[<HOST>\] at b[i] == '[': the host is all up to the next ']', as
// <HOST> cannot match a ']'. It returns the host's span and the end, or p < 0.
func bracketHost(b []byte, i int) (h0, h1, p int) {
	j := bytes.IndexByte(b[i+1:], ']')
	if j < 0 || !matchesHostRE(b[i+1:i+1+j]) {
		return 0, 0, -1
	}
	return i + 1, i + 1 + j, i + 2 + j
}

// saslFailed matches (?::\d+)?: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed
// at b[p:] (p < 0: no match yet) and returns its end, or -1. The port is taken when there is
// one: without it, ": SASL" cannot match ":1". The mechanism is compared in ASCII only (the
// regex's (?i) also accepts U+017F for S; the regex decides those lines).
func saslFailed(b []byte, p int) int {
	if p < 0 {
		return -1
	}
	p = skipPort(b, p)
	if !hasPrefixAt(b, p, ": SASL ") {
		return -1
	}
	p += len(": SASL ")
	m := 0
	for _, mech := range []string{"LOGIN", "PLAIN", "CRAM-MD5", "DIGEST-MD5"} {
		if hasPrefixFoldAt(b, p, mech) {
			m = len(mech)
			break
		}
	}
	if m == 0 || !hasPrefixAt(b, p+m, " authentication failed") {
		return -1
	}
	return p + m + len(" authentication failed")
}

// skipPort skips (?::\d+)? when it can be taken.
func skipPort(b []byte, p int) int {
	if p+1 < len(b) && b[p] == ':' && isDigit(b[p+1]) {
		return skipDigits(b, p+1)
	}
	return p
}

// matchesHostRE reports whether all of s matches <HOST>: ip4RE|ip6RE.
func matchesHostRE(s []byte) bool {
	// \d{1,3}(?:\.\d{1,3}){3}
	dots, n, ip4 := 0, 0, true
	for _, c := range s {
		switch {
		case isDigit(c) && n < 3:
			n++
		case c == '.' && n > 0:
			dots, n = dots+1, 0
		default:
			ip4 = false
		}
		if !ip4 {
			break
		}
	}
	if ip4 && dots == 3 && n > 0 {
		return true
	}
	// [0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*[0-9A-Fa-f:]
	i := 0
	for i < len(s) && i < 4 && isHex(s[i]) {
		i++
	}
	if i == len(s) || s[i] != ':' || i+1 == len(s) {
		return false
	}
	for _, c := range s[i+1 : len(s)-1] {
		if !isHex(c) && c != ':' && c != '.' {
			return false
		}
	}
	last := s[len(s)-1]
	return isHex(last) || last == ':'
}

func hasPrefixAt(b []byte, p int, s string) bool {
	return p <= len(b) && len(b)-p >= len(s) && string(b[p:p+len(s)]) == s
}

// hasPrefixFoldAt is hasPrefixAt with ASCII letters of s matching either case.
func hasPrefixFoldAt(b []byte, p int, s string) bool {
	if p > len(b) || len(b)-p < len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c, d := b[p+i], s[i]
		if 'A' <= d && d <= 'Z' {
			c = lower(c)
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// isRESpace is RE2's \s: [\t\n\f\r ].
func isRESpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// isWordByte is RE2's \w: [0-9A-Za-z_].
func isWordByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func skipRESpace(b []byte, p int) int {
	for p < len(b) && isRESpace(b[p]) {
		p++
	}
	return p
}

func skipRENonSpace(b []byte, p int) int {
	for p < len(b) && !isRESpace(b[p]) {
		p++
	}
	return p
}

func skipWord(b []byte, p int) int {
	for p < len(b) && isWordByte(b[p]) {
		p++
	}
	return p
}

func skipDigits(b []byte, p int) int {
	for p < len(b) && isDigit(b[p]) {
		p++
	}
	return p
}
