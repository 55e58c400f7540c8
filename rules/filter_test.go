package rules

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

// mustFilter loads a filter or fails the test.
func mustFilter(t testing.TB, spec string, extraFail, extraIgnore []string, files map[string]string) *Filter {
	t.Helper()
	f, err := LoadFilter(spec, extraFail, extraIgnore, mapFS(files))
	if err != nil {
		t.Fatalf("LoadFilter(%q): %v", spec, err)
	}
	return f
}

// mapFS is a readFile over an in-memory set of files.
func mapFS(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		s, ok := files[name]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
}

const (
	attacker = "203.0.113.9"
	victim   = "10.0.0.1" // an address the attacker would like to get banned
	pfx      = "Aug 15 22:34:53 mail postfix/smtpd[4242]: "
	saslPfx  = pfx + "warning: unknown[" + attacker + "]: SASL LOGIN authentication failed: "
)

type matchCase struct {
	name string
	line string
	want MatchResult
	host string // "" when want is Miss
}

func runMatchCases(t *testing.T, f *Filter, cases []matchCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, host, idx := f.Match([]byte(tc.line))
			if res != tc.want {
				t.Fatalf("Match(%q) = %v %v (pattern %d), want %v %s", tc.line, res, host, idx, tc.want, tc.host)
			}
			if tc.want == Miss {
				if host.IsValid() || idx != -1 {
					t.Errorf("Miss with host %v pattern %d, want zero values", host, idx)
				}
				return
			}
			if host.String() != tc.host {
				t.Errorf("host = %v, want %s", host, tc.host)
			}
			if idx < 0 || idx >= len(f.Patterns()) {
				t.Errorf("pattern = %d, want an index into %d patterns", idx, len(f.Patterns()))
			}
		})
	}
}

func TestMatchPostfixSASL(t *testing.T) {
	f := mustFilter(t, "postfix-sasl", nil, nil, nil)
	runMatchCases(t, f, []matchCase{
		{"login", saslPfx + "UGFzc3dvcmQ6", Match, attacker},
		{"plain no reason", pfx + "warning: unknown[" + attacker + "]: SASL PLAIN authentication failed:", Match, attacker},
		{"no colon", pfx + "warning: unknown[" + attacker + "]: SASL PLAIN authentication failed", Match, attacker},
		{"lower-case mechanism", pfx + "warning: unknown[" + attacker + "]: SASL login authentication failed: authentication failure", Match, attacker},
		{"cram-md5", pfx + "warning: host.example[" + attacker + "]: SASL CRAM-MD5 authentication failed: PDc3OTEwNTkyNTEyMzA2NDIuMTIyODI1MzA2MUBoZWw+", Match, attacker},
		{"digest-md5", pfx + "warning: unknown[" + attacker + "]: SASL DIGEST-MD5 authentication failed: authentication failure", Match, attacker},
		{"client port", pfx + "warning: unknown[" + attacker + "]:55729: SASL LOGIN authentication failed: authentication failure", Match, attacker},
		{"sasl_username", saslPfx + "UGFzc3dvcmQ6, sasl_username=info@example.com", Match, attacker},
		{"submission", "Aug 15 22:34:53 mail postfix/submission/smtpd[1]: warning: unknown[" + attacker + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", Match, attacker},
		{"smtps instance", "Aug 15 22:34:53 mail postfix-out/smtps/smtpd[1]: warning: unknown[" + attacker + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", Match, attacker},
		{"ipv6", pfx + "warning: unknown[2001:DB8::9]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", Match, "2001:db8::9"},
		{"v4-mapped v6", pfx + "warning: unknown[::ffff:" + attacker + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", Match, attacker},
		{"rfc3339 stamp", "2026-08-15T22:34:53.085+09:00 mail postfix/smtpd[1]: warning: unknown[" + attacker + "]: SASL LOGIN authentication failed: x", Match, attacker},
		{"no stamp (journal)", "mail postfix/smtpd[1]: warning: unknown[" + attacker + "]: SASL LOGIN authentication failed: x", Match, attacker},
		{"crlf", saslPfx + "UGFzc3dvcmQ6\r\n", Match, attacker},
		{"connection lost to auth server", saslPfx + "Connection lost to authentication server", Miss, ""},
		{"other warning", pfx + "warning: hostname foo.example does not resolve to address " + attacker, Miss, ""},
		{"unknown mechanism", pfx + "warning: unknown[" + attacker + "]: SASL XOAUTH2 authentication failed: x", Miss, ""},
		{"bad ipv4", pfx + "warning: unknown[999.1.2.3]: SASL LOGIN authentication failed: x", Miss, ""},
		{"ipv4 leading zero", pfx + "warning: unknown[010.1.2.3]: SASL LOGIN authentication failed: x", Miss, ""},
		{"ipv6 zone", pfx + "warning: unknown[fe80::1%eth0]: SASL LOGIN authentication failed: x", Miss, ""},
		{"host name not address", pfx + "warning: unknown[mail.example.com]: SASL LOGIN authentication failed: x", Miss, ""},
	})
}

// TestMatchHostile feeds lines whose attacker-controlled parts (SASL username, HELO, sender,
// recipient, reverse DNS name, text of other daemons) carry a victim's address or text that
// imitates a failure. The matched host must be the attacker's own, or the line a miss.
func TestMatchHostile(t *testing.T) {
	rcpt := pfx + "NOQUEUE: reject: RCPT from unknown[" + attacker + "]: 554 5.7.1 <x@example.org>: Relay access denied; "
	fakeSASL := "warning: unknown[" + victim + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
	lines := []struct {
		name string
		line string
		host string // wanted host for every filter that matches; "" = every filter must miss
	}{
		{"username with address", saslPfx + "UGFzc3dvcmQ6, sasl_username=[" + victim + "]", attacker},
		{"username imitating failure", saslPfx + "UGFzc3dvcmQ6, sasl_username=x]: " + fakeSASL, attacker},
		{"helo with address", rcpt + "from=<a@example.org> to=<x@example.org> proto=ESMTP helo=<[" + victim + "]>", attacker},
		{"sender imitating failure", rcpt + "from=<]: SASL LOGIN authentication failed: x@[" + victim + "]> to=<x@example.org> proto=ESMTP helo=<x>", attacker},
		{"recipient imitating failure", pfx + "NOQUEUE: reject: RCPT from unknown[" + attacker + "]: 550 5.1.1 <" + fakeSASL + ">: Recipient address rejected: User unknown in local recipient table; from=<a@b> to=<c@d> proto=ESMTP helo=<x>", attacker},
		{"helo imitating failure", pfx + "NOQUEUE: reject: RCPT from unknown[" + attacker + "]: 504 5.5.2 <" + fakeSASL + ">: Helo command rejected: need fully-qualified hostname; proto=SMTP helo=<" + fakeSASL + ">", attacker},
		{"helo imitating failure after connect", pfx + "connect from unknown[" + attacker + "] helo=<" + fakeSASL + ">", ""},
		{"lost connection with injected text", pfx + "lost connection after AUTH from unknown[" + attacker + "] " + fakeSASL, attacker},
		{"other daemon", "Aug 15 22:34:53 mail dovecot[77]: " + fakeSASL, ""},
		{"other daemon quoting postfix", "Aug 15 22:34:53 mail sshd[77]: Invalid user postfix/smtpd[1]: " + fakeSASL, ""},
		{"forged syslog prefix in message", "Aug 15 22:34:53 mail sshd[77]: Aug 15 22:34:53 mail postfix/smtpd[1]: " + fakeSASL, ""},
		{"non-postfix daemon named like a filter word", "Aug 15 22:34:53 mail smtpd[77]: " + fakeSASL, ""},
		{"no daemon", "Aug 15 22:34:53 mail " + fakeSASL, ""},
		{"too many errors with helo", pfx + "too many errors after RCPT from unknown[" + attacker + "]", attacker},
	}
	for _, spec := range []string{"postfix-sasl", "postfix", "postfix[mode=auth]", "postfix[mode=extra]", "postfix[mode=aggressive]", "postfix[mode=ddos]", "postfix[mode=errors]", "postfix[mode=rbl]"} {
		f := mustFilter(t, spec, nil, nil, nil)
		for _, tc := range lines {
			t.Run(spec+"/"+tc.name, func(t *testing.T) {
				res, host, _ := f.Match([]byte(tc.line))
				if res == Miss {
					return
				}
				if tc.host == "" || host.String() != tc.host {
					t.Fatalf("Match = %v %v, want %s", res, host, map[bool]string{true: "a miss", false: "host " + tc.host}[tc.host == ""])
				}
			})
		}
	}
	// And the lines meant to be failures are found where they should be.
	for _, tc := range []struct{ spec, line string }{
		{"postfix-sasl", lines[0].line},
		{"postfix-sasl", lines[1].line},
		{"postfix[mode=auth]", lines[1].line},
		{"postfix", lines[2].line},
		{"postfix", lines[3].line},
		{"postfix", lines[4].line},
		{"postfix", lines[5].line},
		{"postfix[mode=ddos]", lines[7].line},
		{"postfix[mode=errors]", lines[13].line},
	} {
		if res, host, _ := mustFilter(t, tc.spec, nil, nil, nil).Match([]byte(tc.line)); res != Match || host.String() != attacker {
			t.Errorf("%s: Match(%q) = %v %v, want match %s", tc.spec, tc.line, res, host, attacker)
		}
	}
}

func TestMatchPostfixModes(t *testing.T) {
	ddos := []matchCase{
		{"disconnect auth failed", pfx + "disconnect from unknown[" + attacker + "] ehlo=1 auth=0/1 quit=1 commands=2/3", Match, attacker},
		{"disconnect auth ok", pfx + "disconnect from unknown[" + attacker + "] ehlo=1 auth=1 quit=1 commands=3", Miss, ""},
		{"disconnect auth 0/0", pfx + "disconnect from unknown[" + attacker + "] ehlo=1 auth=0/0 quit=1", Miss, ""},
		{"lost after DATA", pfx + "lost connection after DATA from unknown[" + attacker + "]", Miss, ""},
		{"lost after DATAX", pfx + "lost connection after DATAX from unknown[" + attacker + "]", Miss, ""},
		{"lost after DAT", pfx + "lost connection after DAT from unknown[" + attacker + "]", Match, attacker},
		{"lost after EHLO", pfx + "lost connection after EHLO from unknown[" + attacker + "]", Match, attacker},
	}
	runMatchCases(t, mustFilter(t, "postfix[mode=ddos]", nil, nil, nil), ddos)

	extra := []matchCase{
		{"auth", saslPfx + "x", Match, attacker},
		{"auth invalid mechanism", pfx + "warning: unknown[" + attacker + "]: SASL CRAM-MD5 authentication failed: Invalid authentication mechanism", Miss, ""},
		{"normal", pfx + "NOQUEUE: reject: RCPT from unknown[" + attacker + "]: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@b> to=<c@d>", Match, attacker},
		{"ddos not in extra", pfx + "lost connection after EHLO from unknown[" + attacker + "]", Miss, ""},
	}
	runMatchCases(t, mustFilter(t, "postfix[mode=extra]", nil, nil, nil), extra)

	runMatchCases(t, mustFilter(t, `postfix[mode="auth"]`, nil, nil, nil), []matchCase{
		{"quoted mode", saslPfx + "x", Match, attacker},
		{"sasl_username", saslPfx + "x, sasl_username=bob", Match, attacker},
		{"normal not in auth", extra[2].line, Miss, ""},
	})
}

func TestLoadFilterErrors(t *testing.T) {
	files := map[string]string{
		"/etc/f/nohost.conf":   "[Definition]\nfailregex = ^foo\n",
		"/etc/f/bad.conf":      "[Definition]\nfailregex = ok <HOST>\n            bad( <HOST>\n",
		"/etc/f/nodef.conf":    "[Init]\nfoo = 1\n",
		"/etc/f/nofail.conf":   "[Definition]\nignoreregex = x\n",
		"/etc/f/syntax.conf":   "[Definition]\nfailregex = <HOST>\njust text\n",
		"/etc/f/interp.conf":   "[Definition]\nfailregex = %(nope)s <HOST>\n",
		"/etc/f/loop.conf":     "[Definition]\na = %(b)s\nb = %(a)s\nfailregex = %(a)s <HOST>\n",
		"/etc/f/behind.conf":   "[Definition]\n\nfailregex = (?<=x)<HOST>\n",
		"/etc/f/dup.conf":      "[Definition]\nfailregex = <HOST>\nfailregex = <HOST> x\n",
		"/etc/f/nosec.conf":    "failregex = <HOST>\n[Definition]\n",
		"/etc/f/pref.conf":     "[Definition]\nprefregex = ^%(__prefix_line)s\nfailregex = <HOST>\n",
		"/etc/f/dns.conf":      "[Definition]\nfailregex = from <DNS>\n",
		"/etc/f/unclosed.conf": "[Definition]\nfailregex = <F-USER>\\S+ <HOST>\n",
	}
	tests := []struct {
		name, spec string
		extraFail  []string
		extraIgn   []string
		wantErr    string
	}{
		{"empty", "", nil, nil, `filter "": empty`},
		{"unknown mode", "postfix[mode=bogus]", nil, nil, `filter "postfix[mode=bogus]": unknown mode "bogus" (want one of more, normal, auth, rbl, ddos, extra, aggressive, errors)`},
		{"unknown option", "postfix-sasl[mode=auth]", nil, nil, `filter "postfix-sasl[mode=auth]": unknown option "mode"`},
		{"bad option", "postfix[mode]", nil, nil, `filter "postfix[mode]": bad option "mode" (want key=value)`},
		{"unclosed quote", `postfix[mode="auth]`, nil, nil, `missing closing "`},
		{"unknown filter", "sshd-journal", nil, nil, `filter "sshd-journal": unknown filter`},
		{"extra without host", "postfix-sasl", []string{"foo"}, nil, `failregex "foo": no <HOST> group`},
		{"extra bad regex", "postfix-sasl", []string{"(<HOST>"}, nil, `failregex "(<HOST>": error parsing regexp`},
		{"extra empty", "postfix-sasl", []string{" "}, nil, `failregex "": empty`},
		{"ignore bad regex", "postfix-sasl", nil, []string{"a("}, `ignoreregex "a(": error parsing regexp`},
		{"literal bad regex", "from (<HOST>", nil, nil, `failregex "from (<HOST>": error parsing regexp`},
		{"backreference", `(\w)\1 <HOST>`, nil, nil, `invalid escape sequence`},
		{"missing file", "/etc/f/missing.conf", nil, nil, `filter "/etc/f/missing.conf": open /etc/f/missing.conf: file does not exist`},
		{"file without host", "/etc/f/nohost.conf", nil, nil, `/etc/f/nohost.conf:2: failregex "^foo": no <HOST> group`},
		{"file bad regex second line", "/etc/f/bad.conf", nil, nil, `/etc/f/bad.conf:3: failregex "bad( <HOST>": error parsing regexp`},
		{"file no definition", "/etc/f/nodef.conf", nil, nil, `/etc/f/nodef.conf: not a fail2ban filter file (no [Definition] section)`},
		{"file no failregex", "/etc/f/nofail.conf", nil, nil, `/etc/f/nofail.conf: [Definition] has no failregex`},
		{"file syntax", "/etc/f/syntax.conf", nil, nil, `/etc/f/syntax.conf:3: want "key = value", got "just text"`},
		{"file unknown key", "/etc/f/interp.conf", nil, nil, `/etc/f/interp.conf:2: failregex "%(nope)s <HOST>": unknown key "nope"`},
		{"file interpolation loop", "/etc/f/loop.conf", nil, nil, `/etc/f/loop.conf:4: failregex "%(a)s <HOST>": interpolation nested too deeply`},
		{"file lookbehind", "/etc/f/behind.conf", nil, nil, `/etc/f/behind.conf:3: failregex "(?<=x)<HOST>": lookbehind (?<=...) is not supported`},
		{"file duplicate key", "/etc/f/dup.conf", nil, nil, `/etc/f/dup.conf:3: key "failregex" appears twice in [Definition]`},
		{"file key outside section", "/etc/f/nosec.conf", nil, nil, `/etc/f/nosec.conf:1: key "failregex" before any [section]`},
		{"file prefregex without content", "/etc/f/pref.conf", nil, nil, `/etc/f/pref.conf:2: prefregex "^%(__prefix_line)s": no <F-CONTENT> group`},
		{"file dns", "/etc/f/dns.conf", nil, nil, `/etc/f/dns.conf:2: failregex "from <DNS>": <DNS> is not supported`},
		{"file unclosed F- tag", "/etc/f/unclosed.conf", nil, nil, `<F-USER> is not closed`},
		{"file extra without host", "/etc/f/bad.conf", []string{"x"}, nil, `/etc/f/bad.conf:3:`}, // the file's error comes first
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := LoadFilter(tc.spec, tc.extraFail, tc.extraIgn, mapFS(files))
			if err == nil {
				t.Fatalf("LoadFilter(%q) = %v, want error containing %q", tc.spec, f.Patterns(), tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadFilter(%q) error = %q, want it to contain %q", tc.spec, err, tc.wantErr)
			}
		})
	}
	t.Run("nil readFile", func(t *testing.T) {
		_, err := LoadFilter("/etc/f/nohost.conf", nil, nil, nil)
		if err == nil || !strings.Contains(err.Error(), `filter "/etc/f/nohost.conf": cannot read filter files`) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("readFile error is wrapped", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := LoadFilter("x.local", nil, nil, func(string) ([]byte, error) { return nil, boom })
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want it to wrap boom", err)
		}
	})
}

func TestFilterFile(t *testing.T) {
	files := map[string]string{
		"/etc/f/custom.conf": `# a comment
[INCLUDES]
before = common.conf

[DEFAULT]
_srv = myd

[Definition]
_daemon = %(_srv)s
; another comment
failregex = ^%(__prefix_line)sauth failed for \S+ from <HOST>( port \d+)?$   ; inline comment
            ^%(__prefix_line)s<F-USER>\S+</F-USER> blocked from \[<ADDR>\]

            ^%(__prefix_line)sv4 only <IP4>$
ignoreregex = for admin from
`,
		"/etc/f/tags.local": `[Definition]
mode = one
re-one = ^from <HOST>:
re-two = ^to <HOST>;
prefregex = ^%(__prefix_line)s(?:ev|evt): <F-CONTENT>.+</F-CONTENT>$
failregex = <re-<mode>>
[Init]
journalmatch = x
`,
	}
	f := mustFilter(t, "/etc/f/custom.conf", []string{`^%(__prefix_line)sextra <HOST>$`}, []string{`^ \S+ myd\[1\]:`}, files)
	if got, want := f.Name(), "/etc/f/custom.conf"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	wantPatterns := []string{
		`^%(__prefix_line)sauth failed for \S+ from <HOST>( port \d+)?$`,
		`^%(__prefix_line)s<F-USER>\S+</F-USER> blocked from \[<ADDR>\]`,
		`^%(__prefix_line)sv4 only <IP4>$`,
		`^%(__prefix_line)sextra <HOST>$`,
	}
	if got := f.Patterns(); strings.Join(got, "\n") != strings.Join(wantPatterns, "\n") {
		t.Errorf("Patterns() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantPatterns, "\n"))
	}
	runMatchCases(t, f, []matchCase{
		{"first", "Aug 15 22:34:53 h myd[2]: auth failed for bob from " + attacker + " port 22", Match, attacker},
		{"second", "Aug 15 22:34:53 h myd[2]: bob blocked from [2001:db8::1]", Match, "2001:db8::1"},
		{"ip4 tag", "Aug 15 22:34:53 h myd[2]: v4 only " + attacker, Match, attacker},
		{"ip4 tag refuses v6", "Aug 15 22:34:53 h myd[2]: v4 only 2001:db8::1", Miss, ""},
		{"extra", "Aug 15 22:34:53 h myd[2]: extra " + attacker, Match, attacker},
		{"ignored by file", "Aug 15 22:34:53 h myd[2]: auth failed for admin from " + attacker, Ignored, attacker},
		{"ignored by extra", "Aug 15 22:34:53 h myd[1]: extra " + attacker, Ignored, attacker},
		{"other daemon", "Aug 15 22:34:53 h other[2]: auth failed for bob from " + attacker, Miss, ""},
	})
	if _, _, idx := f.Match([]byte("Aug 15 22:34:53 h myd[2]: extra " + attacker)); idx != 3 {
		t.Errorf("extra pattern index = %d, want 3", idx)
	}

	for _, tc := range []struct {
		spec  string
		cases []matchCase
	}{
		{"/etc/f/tags.local", []matchCase{
			{"default mode", "Aug 15 22:34:53 h d[1]: ev: from " + attacker + ":", Match, attacker},
			{"other mode's line", "Aug 15 22:34:53 h d[1]: ev: to " + attacker + ";", Miss, ""},
		}},
		{"/etc/f/tags.local[mode=two]", []matchCase{
			{"option mode", "Aug 15 22:34:53 h d[1]: evt: to " + attacker + ";", Match, attacker},
			{"content anchored", "Aug 15 22:34:53 h d[1]: evt: x to " + attacker + ";", Miss, ""},
		}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			runMatchCases(t, mustFilter(t, tc.spec, nil, nil, files), tc.cases)
		})
	}
}

// TestInstalledPostfixConf loads fail2ban's own postfix.conf as a filter file (its lookaheads
// are emulated) and checks it agrees with the built-in on the corpus. The built-in differs in
// one place, the client name before <HOST> (see postfixConf); the file as fail2ban ships it
// still takes a header_checks line for a failure of an address in the header.
func TestInstalledPostfixConf(t *testing.T) {
	const path = "/etc/fail2ban/filter.d/postfix.conf"
	data := corpusFile(t, postfixCorpus)
	corpusFile(t, path)
	readFile := func(name string) ([]byte, error) { return os.ReadFile(name) }
	for _, mode := range []string{"more", "normal", "auth", "rbl", "ddos", "extra", "aggressive", "errors"} {
		file, err := LoadFilter(path+"[mode="+mode+"]", nil, nil, readFile)
		if err != nil {
			t.Fatalf("LoadFilter(%s): %v", path, err)
		}
		builtin := mustFilter(t, "postfix[mode="+mode+"]", nil, nil, nil)
		hardened := strings.ReplaceAll(strings.Join(file.Patterns(), "\n"), `[^[]*\[<HOST>\]`, `[-._\w]*\[<HOST>\]`)
		if hardened != strings.Join(builtin.Patterns(), "\n") {
			t.Errorf("mode %s: patterns differ beyond the client name:\n%s\n%s", mode, strings.Join(file.Patterns(), "\n"), strings.Join(builtin.Patterns(), "\n"))
		}
		if mode == "extra" || mode == "aggressive" {
			line := "Aug 15 22:34:53 mail postfix/cleanup[456]: 4ABC123DEF: reject: header Subject: x[" + victim + "]: SASL LOGIN authentication failed: y from unknown[" + attacker + "]; from=<a@b> to=<c@d> proto=ESMTP helo=<x>: 5.7.1 no"
			if res, host, _ := file.Match([]byte(line)); res != Match || host.String() != victim {
				t.Errorf("mode %s: fail2ban's file gives %v %v on the header_checks line, want the hole (match %s) this test documents", mode, res, host, victim)
			}
			if res, host, _ := builtin.Match([]byte(line)); res != Miss {
				t.Errorf("mode %s: built-in gives %v %v on the header_checks line, want a miss", mode, res, host)
			}
		}
		for _, c := range parseCorpus(t, "postfix", data) {
			r1, h1, i1 := file.Match([]byte(c.line))
			r2, h2, i2 := builtin.Match([]byte(c.line))
			if r1 != r2 || h1 != h2 || i1 != i2 {
				t.Errorf("mode %s line %d: file %v %v %d, built-in %v %v %d", mode, c.lineNo, r1, h1, i1, r2, h2, i2)
			}
		}
	}
}

func TestNameAndPatterns(t *testing.T) {
	tests := []struct {
		spec, wantName string
		wantPatterns   int
	}{
		{"postfix-sasl", "postfix-sasl", 1},
		{"postfix", "postfix", 2},
		{" postfix[mode=auth] ", "postfix[mode=auth]", 1},
		{`postfix[ mode = "aggressive" ]`, "postfix[mode=aggressive]", 3},
		{"postfix[mode='extra']", "postfix[mode=extra]", 3},
		{"postfix[mode=ddos]", "postfix[mode=ddos]", 1},
		{`warning: \S+\[<HOST>\]`, `warning: \S+\[<HOST>\]`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			f := mustFilter(t, tc.spec, nil, nil, nil)
			if f.Name() != tc.wantName {
				t.Errorf("Name() = %q, want %q", f.Name(), tc.wantName)
			}
			if got := len(f.Patterns()); got != tc.wantPatterns {
				t.Errorf("len(Patterns()) = %d, want %d: %q", got, tc.wantPatterns, f.Patterns())
			}
		})
	}
	f := mustFilter(t, "postfix-sasl", nil, nil, nil)
	p := f.Patterns()
	p[0] = "changed"
	if f.Patterns()[0] == "changed" {
		t.Error("Patterns() returns the filter's own slice")
	}
}

func TestLiteralRegexFilter(t *testing.T) {
	f := mustFilter(t, `auth failure from <HOST>`, nil, []string{`user=root`}, nil)
	runMatchCases(t, f, []matchCase{
		{"match", "Aug 15 22:34:53 h d[1]: auth failure from " + attacker + " user=bob", Match, attacker},
		{"ignored", "Aug 15 22:34:53 h d[1]: auth failure from " + attacker + " user=root", Ignored, attacker},
		{"miss", "Aug 15 22:34:53 h d[1]: auth ok from " + attacker, Miss, ""},
	})
}

// TestPrefilter checks the literal prefilter derived for the built-ins and that it never
// rejects a line a regex would match (the same filter without prefilter is the reference).
func TestPrefilter(t *testing.T) {
	tests := []struct {
		spec string
		want string
	}{
		{"postfix-sasl", `(" authentication failed" & "warning: " & ": SASL ")`},
		{"postfix[mode=auth]", `(" authentication failed:" & "warning: " & ": SASL ")`},
		{"postfix[mode=errors]", `("too many errors after " & "from ")`},
		{"postfix[mode=ddos]", `(("lost connection after " | ("disconnect" & " auth=0/" & " from ") | (" after " & ("PREGREET " | "HANGUP")) | ("COMMAND " & " LIMIT" & ("TIME" | "COUNT" | "LENGTH"))) & "from ")`},
		{"/etc/f/lit.conf", `((" from " & "user ") | ("user " & " by "))`},
		{`(?i)from <HOST>`, `*`},
		{`x(<HOST>|\w+)`, `*`},
	}
	files := map[string]string{"/etc/f/lit.conf": "[Definition]\nfailregex = ^user \\S+ from <HOST>\n  ^user \\S+ by <HOST>\n"}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			f := mustFilter(t, tc.spec, nil, nil, files)
			if got := f.prefilter.String(); got != tc.want {
				t.Errorf("prefilter = %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("unusable extra", func(t *testing.T) {
		f := mustFilter(t, "postfix-sasl", []string{`(?i)X<HOST>`}, nil, nil)
		if f.prefilter != nil {
			t.Errorf("prefilter %s used although a failregex has no literal", f.prefilter)
		}
		if res, _, _ := f.Match([]byte("x" + attacker)); res != Match {
			t.Errorf("case-insensitive extra failregex did not match")
		}
	})
	t.Run("containsLit", func(t *testing.T) {
		for _, tc := range []struct {
			line, lit string
		}{
			{"", "abc"}, {"ab", "abc"}, {"abc", "abc"}, {"xabcx", "abc"}, {"aab aabc", "aabc"},
			{"q q q", "q q"}, {"zzz", "zz"}, {"abcabd", "abd"}, {" authentication failed", " authentication failed"},
		} {
			p := newLit(tc.lit)
			if got, want := p.match([]byte(tc.line)), strings.Contains(tc.line, tc.lit); got != want {
				t.Errorf("match(%q, %q) = %v, want %v (rare byte %q)", tc.line, tc.lit, got, want, tc.lit[p.rare])
			}
		}
	})
	data := corpusFile(t, postfixCorpus)
	for _, spec := range []string{"postfix-sasl", "postfix", "postfix[mode=aggressive]", "postfix[mode=ddos]", "postfix[mode=extra]", "postfix[mode=errors]"} {
		f := mustFilter(t, spec, nil, nil, nil)
		ref := *f
		ref.prefilter = nil
		for _, c := range parseCorpus(t, "postfix", data) {
			r1, h1, _ := f.Match([]byte(c.line))
			r2, h2, _ := ref.Match([]byte(c.line))
			if r1 != r2 || h1 != h2 {
				t.Errorf("%s line %d: with prefilter %v %v, without %v %v", spec, c.lineNo, r1, h1, r2, h2)
			}
		}
	}
}

func TestMatchNoAllocOnMiss(t *testing.T) {
	lines := [][]byte{
		[]byte(pfx + "connect from unknown[" + attacker + "]"),
		[]byte(pfx + "disconnect from unknown[" + attacker + "] ehlo=1 auth=1 quit=1 commands=3"),
		[]byte(pfx + "Anonymous TLS connection established from unknown[" + attacker + "]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"),
	}
	for _, spec := range []string{"postfix-sasl", "postfix", "postfix[mode=auth]", "postfix[mode=errors]"} {
		f := mustFilter(t, spec, nil, nil, nil)
		for _, l := range lines {
			allocs := testing.AllocsPerRun(100, func() {
				if res, _, _ := f.Match(l); res != Miss {
					t.Fatalf("%s matched %q", spec, l)
				}
			})
			if allocs != 0 {
				t.Errorf("%s: Match(%q) allocates %v times, want 0", spec, l, allocs)
			}
		}
	}
}

func TestMatchDoesNotRetainLine(t *testing.T) {
	f := mustFilter(t, "postfix-sasl", nil, nil, nil)
	line := []byte(saslPfx + "x")
	_, host, _ := f.Match(line)
	for i := range line {
		line[i] = 'x'
	}
	if host != netip.MustParseAddr(attacker) {
		t.Errorf("host changed to %v after the line buffer was overwritten", host)
	}
}

func TestMatchResultString(t *testing.T) {
	for r, want := range map[MatchResult]string{Miss: "miss", Match: "match", Ignored: "ignored", 7: "MatchResult(7)"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(r), r.String(), want)
		}
	}
}

var benchLines = struct{ miss, saslHit, rejectHit []byte }{
	miss:      []byte("Aug 15 22:34:53 mail postfix/smtpd[12345]: disconnect from unknown[192.0.2.7] ehlo=1 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=6"),
	saslHit:   []byte("Aug 15 22:34:53 mail postfix/submission/smtpd[12345]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=admin@example.com"),
	rejectHit: []byte("Aug 15 22:34:53 mail postfix/smtpd[12345]: NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 554 5.7.1 <spam@example.org>: Relay access denied; from=<a@example.net> to=<spam@example.org> proto=ESMTP helo=<x>"),
}

func benchMatch(b *testing.B, spec string, line []byte, want MatchResult) {
	f := mustFilter(b, spec, nil, nil, nil)
	if res, _, _ := f.Match(line); res != want {
		b.Fatalf("%s: Match = %v, want %v", spec, res, want)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		f.Match(line)
	}
}

func BenchmarkMatchMiss(b *testing.B) {
	b.Run("postfix-sasl", func(b *testing.B) { benchMatch(b, "postfix-sasl", benchLines.miss, Miss) })
	b.Run("postfix[mode=more]", func(b *testing.B) { benchMatch(b, "postfix[mode=more]", benchLines.miss, Miss) })
	b.Run("postfix[mode=aggressive]", func(b *testing.B) { benchMatch(b, "postfix[mode=aggressive]", benchLines.miss, Miss) })
}

func BenchmarkMatchHit(b *testing.B) {
	b.Run("postfix-sasl", func(b *testing.B) { benchMatch(b, "postfix-sasl", benchLines.saslHit, Match) })
	b.Run("postfix[mode=auth]", func(b *testing.B) { benchMatch(b, "postfix[mode=auth]", benchLines.saslHit, Match) })
	b.Run("postfix[mode=more]", func(b *testing.B) { benchMatch(b, "postfix[mode=more]", benchLines.rejectHit, Match) })
	b.Run("postfix[mode=aggressive]", func(b *testing.B) { benchMatch(b, "postfix[mode=aggressive]", benchLines.saslHit, Match) })
}

func BenchmarkLoadFilter(b *testing.B) {
	for b.Loop() {
		if _, err := LoadFilter("postfix[mode=aggressive]", nil, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFastMatchersAttached: the built-in filters' regexes get their hand-written matchers
// (builtinMatcher), so that a change to a built-in regex that loses one is noticed.
func TestFastMatchersAttached(t *testing.T) {
	for _, tc := range []struct {
		spec string
		pref bool   // the prefregex has one
		fail []bool // which failregexes have one
	}{
		{"postfix-sasl", false, []bool{true}},
		{"postfix", true, []bool{true, true}},
		{"postfix[mode=normal]", true, []bool{true, true}},
		{"postfix[mode=auth]", true, []bool{true}},
		{"postfix[mode=rbl]", true, []bool{false}},
		{"postfix[mode=extra]", false, []bool{true, true, true}},
		{"postfix[mode=aggressive]", false, []bool{true, true, true}},
		{"postfix[mode=ddos]", false, []bool{true}},
		{"postfix[mode=errors]", false, []bool{false}},
	} {
		f := mustFilter(t, tc.spec, nil, nil, nil)
		if got := f.pref != nil && f.pref.fast != nil; got != tc.pref {
			t.Errorf("%s: prefregex has a hand-written matcher: %v, want %v", tc.spec, got, tc.pref)
		}
		var got []bool
		for _, p := range f.fail {
			got = append(got, p.fast != nil)
		}
		if !slices.Equal(got, tc.fail) {
			t.Errorf("%s: failregexes with a hand-written matcher %v, want %v", tc.spec, got, tc.fail)
		}
	}
	// Not with another daemon, nor when a filter changes part of __prefix_line.
	files := map[string]string{
		"/f/daemon.conf": "[Definition]\n_daemon = postfix/smtpd\nfailregex = ^%(__prefix_line)swarning: [-._\\w]+\\[<HOST>\\](?::\\d+)?: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed(?!: Connection lost to authentication server)(:[ A-Za-z0-9+/:]*={0,2})?(?:, sasl_username=.*)?\\s*$\n",
		"/f/pid.conf":    "[Definition]\n__pid_re = (?:\\[\\w+\\])\n_daemon = postfix(-\\w+)?/(?:submission/|smtps/)?smtp[ds]\nfailregex = ^%(__prefix_line)swarning: [-._\\w]+\\[<HOST>\\](?::\\d+)?: SASL ((?i)LOGIN|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed(?!: Connection lost to authentication server)(:[ A-Za-z0-9+/:]*={0,2})?(?:, sasl_username=.*)?\\s*$\n",
	}
	for _, spec := range []string{"/f/daemon.conf", "/f/pid.conf"} {
		if f := mustFilter(t, spec, nil, nil, files); f.fail[0].fast != nil {
			t.Errorf("%s: hand-written matcher attached", spec)
		}
	}
	if f := mustFilter(t, "postfix-sasl", nil, nil, nil); mustFilter(t, "/f/pid.conf", nil, nil, files).fail[0].src != f.fail[0].src {
		t.Errorf("/f/pid.conf: failregex differs from postfix-sasl's, the test proves nothing")
	}
}

// fastCheckLines are lines around the shapes the hand-written matchers follow and where they
// must give up. TestFastMatchersAgree also tries every one-byte edit of each.
var fastCheckLines = func() []string {
	sasl := "warning: unknown[" + attacker + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
	rej := "NOQUEUE: reject: RCPT from unknown[" + attacker + "]: 554 5.7.1 <spam@example.org>: Relay access denied; from=<a@b> to=<c@d> proto=ESMTP helo=<x>"
	var lines []string
	for _, pre := range []string{
		"Aug 15 22:34:53 mail postfix/smtpd[1]: ", "mail postfix/smtpd[1]: ", "postfix/smtpd[1]: ", "  mail \t postfix/smtpd[1]:\t ",
		"Aug 15 22:34:53 <mail.info> mail postfix/smtpd[1]: ", "Aug 15 22:34:53 mail @vserver_x postfix/smtpd[1]: ",
		"Aug 15 22:34:53 mail [1]: postfix/smtpd: ", "Aug 15 22:34:53 mail : postfix/smtpd ", "Aug 15 22:34:53 mail (postfix/smtpd) ",
		"Aug 15 22:34:53 mail [postfix/smtpd][1]: ", "Aug 15 22:34:53 mail postfix/smtpd(x)[1]: ", "Aug 15 22:34:53 mail postfix/smtpd[1]: [ID 1 mail.info] ",
		"Aug 15 22:34:53 mail postfix/smtpd[x]: ", "Aug 15 22:34:53 mail postfix/smtpd: ", "Aug 15 22:34:53 mail postfix/smtpd ",
		"Aug 15 22:34:53 mail postfix-out/smtps/smtpd[1]: ", "Aug 15 22:34:53 mail postfix/smtps/smtp[1]: ", "Aug 15 22:34:53 mail postfix/smtps/x[1]: ",
		"Aug 15 22:34:53 mail postfix/submission/smtpd[1]: ", "Aug 15 22:34:53 mail postfix/smtps[1]: ", "Aug 15 22:34:53 mail postfix-/smtpd[1]: ",
		"Aug 15 22:34:53 mail postfix/submission/x[1]: ", "Aug 15 22:34:53 mail postfix/smtpd/smtps[1]: ", "2026-08-15T22:34:53.085+09:00 mail postfix/smtpd[1]:  ",
		"Aug 15 22:34:53 mail postfix/smtpd[1]:\v", "Aug 15 22:34:53 mail postfix/smtpd]: ", "Aug 15 22:34:53 mail postfix/smtpd[1]::",
	} {
		lines = append(lines, pre+sasl, pre+rej)
	}
	p := "Aug 15 22:34:53 mail postfix/smtpd[1]: "
	for _, msg := range []string{
		"warning: unknown[" + attacker + "]: SASL LOGIN authentication failed: Connection lost to authentication server",
		"warning: unknown[" + attacker + "]: SASL LOGIN authentication failed: Invalid authentication mechanism",
		"warning: unknown[" + attacker + "]:587: SASL plain authentication failed:",
		"warning: unknown[" + attacker + "]:: SASL PLAIN authentication failed:",
		"warning: unknown[" + attacker + "]:x: SASL PLAIN authentication failed:",
		"warning: unknown[2001:db8::1]: SASL DIGEST-MD5 authentication failed: x=, sasl_username=a\nb",
		"warning: unknown[2001:db8::1]: SASL DIGEST-MD5 authentication failed: x=, sasl_username=a\n \t",
		"warning: unknown[2001:db8::1]: SASL DIGEſT-MD5 authentication failed: x",
		"warning: unknown[2001:db8::1]: SASL cram-md5 authentication failed: a b c== \t ",
		"warning: unknown[2001:db8::1]: SASL CRAM-MD5 authentication failed: a b c=== ",
		"warning: unknown[2001:db8::1]: SASL CRAM-MD5 authentication failed: a_b",
		"warning: unknown[2001:db8::1]: SASL CRAM-MD5 authentication failed:, sasl_username=",
		"warning: unknown[2001:db8::1]: SASL CRAM-MD5 authentication failed , sasl_username=x",
		"warning: unknown[1.2.3.4.5]: SASL LOGIN authentication failed:",
		"warning: unknown[1234::1]: SASL LOGIN authentication failed:",
		"warning: unknown[12345::1]: SASL LOGIN authentication failed:",
		"warning: unknown[::]: SASL LOGIN authentication failed:",
		"warning: unknown[1.2.3.]: SASL LOGIN authentication failed:",
		"warning: unknown[1::2.]: SASL LOGIN authentication failed:",
		"warning: unknown[999.2.3.4]: SASL LOGIN authentication failed:",
		"warning: unknown[[1.2.3.4]: SASL LOGIN authentication failed:",
		"warning: un[known][1.2.3.4]: SASL LOGIN authentication failed:",
		"warning: [1.2.3.4]: SASL LOGIN authentication failed:",
		"warning: a b[1.2.3.4]: SASL LOGIN authentication failed:",
		"warning:  a[1.2.3.4]: SASL LOGIN authentication failed:",
		"NOQUEUE: milter-reject: RCPT from x[" + attacker + "]:25: 550 5.7.1 Command rejected",
		"NOQUEUE: reject: RCPT from x[" + attacker + "]: 450 4.1.8 <a@b>: Sender address rejected: Domain not found; from=<a@b>",
		"NOQUEUE: reject: RCPT from x[" + attacker + "]: 550 5.1.1 : Recipient address rejected: undeliverable address",
		"NOQUEUE: reject: RCPT from x[" + attacker + "]: 550 5.1.1 : matches",
		"NOQUEUE: reject: RCPT from x[" + attacker + "]: 550 5.1.1 matché",
		"NOQUEUE: reject: RCPT from x[" + attacker + "]: 550 5.1.1 <a>b>: Relay access denied",
		"NOQUEUE: reject: RCPT from x[" + attacker + "]: 550 5.1.1 <a: Relay access denied",
		"NOQUEUE: reject: RCPT from x[" + attacker + "]: 550 5.1.12345 Helo command rejected: need fully-qualified hostname",
		"NOQUEUE: reject: rcpt from x[" + attacker + "]: 550 5.1.1 Relay access denied",
		"NOQUEUE:  reject: RCPT from x[" + attacker + "]: 550 5.1.1 Relay access denied",
		"improper command pipelining after CONNECT from unknown[" + attacker + "]: \\r\\n",
		"too many errors after AUTH from unknown[" + attacker + "]",
		"too many errors after\tAUTH from unknown[" + attacker + "]",
		"too many errors after  from unknown[" + attacker + "]",
		"too many errors after AUTH\tfrom unknown[" + attacker + "]",
		"lost connection after AUTH from unknown[" + attacker + "]",
	} {
		lines = append(lines, p+msg)
	}
	// <facility.level> may hold blanks and a whole forged line: the host name is not its first word.
	fake := "warning: x[::1]: SASL LOGIN authentication failed: x"
	lines = append(lines, "<a. postfix/smtpd[1]: "+fake+"> mail postfix/smtpd[2]: warning: y[::2]: SASL LOGIN authentication failed: y")
	return lines
}()

// TestFastMatchersAgree compares Match with the regexes alone (plainFilter) on the corpus,
// on fastCheckLines and on every one-byte deletion, and insertion or replacement of some
// bytes that the matchers look for, in each of them. FuzzMatch goes further.
func TestFastMatchersAgree(t *testing.T) {
	lines := map[string]bool{}
	if data, err := os.ReadFile(postfixCorpus); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			lines[l] = true
		}
	}
	for _, p := range []string{corpusDir + "/sshd", corpusDir + "/sshd-journal", corpusDir + "/dovecot"} {
		if data, err := os.ReadFile(p); err == nil {
			for _, l := range strings.Split(string(data), "\n") {
				lines[l] = true
			}
		}
	}
	for _, l := range slices.Concat(fastCheckLines, sshdFastLines, dovecotFastLines) {
		lines[l] = true
		for i := range len(l) {
			lines[l[:i]+l[i+1:]] = true
			for _, c := range []string{" ", "\n", "[", "]", ":", "1", "a", "/", "."} {
				lines[l[:i]+c+l[i:]] = true
				lines[l[:i]+c+l[i+1:]] = true
			}
		}
	}
	for _, spec := range []string{"postfix-sasl", "postfix", "postfix[mode=auth]", "postfix[mode=aggressive]", "sshd", "sshd[publickey=any]", "sshd[mode=aggressive]", "dovecot", "dovecot[mode=aggressive]"} {
		f := mustFilter(t, spec, nil, nil, nil)
		ref := plainFilter(f)
		n, bad := 0, 0
		for l := range lines {
			res, host, idx := f.Match([]byte(l))
			r2, h2, i2 := ref.Match([]byte(l))
			if res != r2 || host != h2 || idx != i2 {
				if bad++; bad <= 5 {
					t.Errorf("%s: Match(%q) = %v %v %d, regexes alone %v %v %d", spec, l, res, host, idx, r2, h2, i2)
				}
			}
			if res == Match {
				n++
			}
		}
		t.Logf("%s: %d lines, %d match", spec, len(lines), n)
	}
}
