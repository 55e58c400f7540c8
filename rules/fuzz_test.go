package rules

import (
	"bytes"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds adds the fail2ban corpus lines (when installed) and our hostile lines. More seeds,
// and crashers found so far, are in testdata/fuzz/<FuzzName>/.
func fuzzSeeds(f *testing.F) {
	for _, path := range []string{postfixCorpus, corpusDir + "/dovecot", corpusDir + "/roundcube-auth", corpusDir + "/nginx-http-auth", corpusDir + "/sshd", corpusDir + "/sshd-journal"} {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				f.Add([]byte(l))
			}
		}
	}
	for _, l := range []string{
		saslPfx + "UGFzc3dvcmQ6, sasl_username=x]: warning: unknown[" + victim + "]: SASL LOGIN authentication failed: x",
		pfx + "warning: unknown[::ffff:" + attacker + "]:25: SASL login authentication failed:",
		pfx + "warning: unknown[2001:DB8:0::1]: SASL PLAIN authentication failed: Connection lost to authentication server",
		pfx + "disconnect from unknown[" + attacker + "] ehlo=1 auth=0/1 quit=1 commands=2/3",
		pfx + "lost connection after DATA from unknown[" + attacker + "]",
		"2026-08-15T22:34:53.085+09:00 mail postfix/smtpd[1]: too many errors after AUTH from unknown[" + attacker + "]",
		"mail d[1]: auth failed for x from 1.2.3.4 port 1",
		"Feb 29 00:00:00 h d[1]: from ::1",
	} {
		f.Add([]byte(l))
	}
	for _, l := range fastCheckLines {
		f.Add([]byte(l))
	}
	for _, tc := range hostileCases() {
		f.Add([]byte(tc.line))
	}
	for _, l := range append(slices.Clone(sshdFastLines), dovecotFastLines...) {
		f.Add([]byte(l))
	}
}

// dovecotFastLines are the edges of the dovecot hand-written matchers (filter_dovecot_fast.go).
var dovecotFastLines = []string{
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts in 2 secs): user=<a>, method=PLAIN, rip=192.0.2.13, lip=203.0.113.17, TLS, session=<YADINsQCDs5BH8Pg>",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<a>, method=PLAIN, rip=192.0.2.13, lip=203.0.113.17, TLS, session=<Y>x>",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<a, rip=10.0.0.1>, rip=192.0.2.13, lip=1.2.3.4, session=<x> ",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<a>, method=x>, rip=192.0.2.13",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<a>, rip=192.0.2.13, lip=1.2.3.4, session=<x> y",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<a>, rip=192.0.2.13, lip=1>2",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): rip=192.0.2.13",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<>, rip=192.0.2.134567, lip=1",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<>, rip=1.2.3.4.5, lip=1",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<>, rip=1.2.3.4:5, lip=1",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<>, rip=::ffff:1.2.3.4, lip=1",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<>, rip=2001:db8::1., lip=1",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<>, method=, rip=1.2.3.4",
	"Jul 02 13:49:31 mail dovecot: imap-login: Aborted login: x (auth failed, 1 attempts): user=<>, rip=1.2.3.4",
	"Jul 02 13:49:31 mail dovecot: imap-login: Info: Disconnected (auth failed, 2 attempts in 4 secs): user=<a>, method=PLAIN, rip=1.2.3.4, lip=5.6.7.8",
	"Jul 02 13:49:31 mail dovecot: pop3-login: Client has quit the connection (auth failed, 1 attempts): rip=1.2.3.4",
	"Jul 02 13:49:31 mail dovecot: auth: Aborted login (auth failed, 1 attempts): rip=1.2.3.4",
	"Jul 02 13:49:31 mail imap-login: Remote closed connection (auth failed, 1 attempts): rip=1.2.3.4",
	"Jul 02 13:49:31 mail dovecot-auth: conn unix:auth (pid=1): auth<1>: Aborted login (auth failed, 1 attempts): rip=1.2.3.4",
	"Jul 02 13:49:31 mail dovecot[1]: imap-login: Aborted login (auth failed, 1 attempts): rip=1.2.3.4",
}

// sshdFastLines are the edges of the sshd hand-written matchers (filter_sshd_fast.go): where
// they must give up or agree with the regex.
var sshdFastLines = []string{
	"Aug 15 22:34:53 mail sshd[1]: Failed password for root from 192.0.2.7: x",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for root from 192.0.2.7:: x",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for root from 2001:db8::1 port 22 ssh2",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for root from 2001:db8:: port 22 ssh2",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for root from ::ffff:192.0.2.7 port 22 ssh2",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for root from 192.0.2.7 on eth0: x",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for root from 192.0.2.7 port 22 on x port 1 ssh2",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for root from 192.0.2.7\tport 22",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for  from 192.0.2.7 port 22 ssh2",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for from 192.0.2.7 port 22 ssh2",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for invalid user from 192.0.2.7 port 22 ssh2",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for invalid user x from 192.0.2.7 port 22 ssh2: RSA SHA256:x",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for invalid user x from 192.0.2.7 port 22 ssh2: RSA SHA256:x y",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for invalid user x from 192.0.2.7 port 22 ssh2: rsa x",
	"Aug 15 22:34:53 mail sshd[1]: Failed publickey for invalid user x from 192.0.2.7 port 22 ssh2: RSA SHA256:x",
	"Aug 15 22:34:53 mail sshd[1]: Failed publickey for root from 192.0.2.7 port 22 ssh2: RSA SHA256:x",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for invalid user x from 1.2.3.4 from 192.0.2.7 port 22 ssh2",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for invalid user x from 192.0.2.7 port 22 ssh2 from 1.2.3.4x",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for invalid user x from 1.2.3.4567 port 22 ssh2",
	"Aug 15 22:34:53 mail sshd[1]: Failed password for invalid user x from 1.2.3 port 22 ssh2",
	"Aug 15 22:34:53 mail sshd[1]: error: PAM: Invalid user x from 192.0.2.7 port 22 [preauth]",
	"Aug 15 22:34:53 mail sshd[1]: Invalid user  from 192.0.2.7 port 22",
	"Aug 15 22:34:53 mail sshd[1]: Invalid user from 192.0.2.7 port 22",
	"Aug 15 22:34:53 mail sshd[1]: illegal user x from 192.0.2.7 on y port 1 [preauth] ",
	"Aug 15 22:34:53 mail sshd[1]: Invalid user x from 192.0.2.7 port 1 port 2 port 3 port 4",
	"Aug 15 22:34:53 mail sshd[1]: Invalid user x from 192.0.2.7 port",
	"Aug 15 22:34:53 mail sshd[1]: kernel: [  970.699397] Invalid user x from 192.0.2.7",
	"Aug 15 22:34:53 mail sshd 1 - - Invalid user x from 192.0.2.7",
	"<38>1 2026-08-15T22:34:53Z mail sshd 1 - - Invalid user x from 192.0.2.7",
	"Aug 15 22:34:53 mail sshd[1]: error: ",
	"Aug 15 22:34:53 mail sshd[1]: fatal: PAM: Invalid user x from 192.0.2.7",
	"sshd[1]: Invalid user x from 192.0.2.7",
}

var fuzzFiles = map[string]string{
	"/f/look.conf": `[Definition]
_daemon = d
prefregex = ^%(__prefix_line)s(?:ev(?! x)|evt(?=: \S+ \[)): <F-CONTENT>.+</F-CONTENT>$
failregex = ^(?:<F-USER>\S+</F-USER> )?\[<HOST>\](?!:0)
            ^auth failed for \S+ from <IP4>( port \d+)?$
            ^six <IP6>\b
ignoreregex = user=root
`,
}

// plainFilter returns f matching with its regexes alone: no literal prefilter, no
// hand-written matchers (builtinMatcher), lookaheads by regex. It is the reference for both.
func plainFilter(f *Filter) *Filter {
	ref := *f
	ref.prefilter = nil
	plain := func(p *pattern) *pattern {
		q := *p
		q.fast, q.daemon = nil, nil
		q.looks = slices.Clone(p.looks)
		for i := range q.looks {
			q.looks[i].lits = nil
		}
		return &q
	}
	if f.pref != nil {
		ref.pref = plain(f.pref)
	}
	ref.fail = nil
	for _, p := range f.fail {
		ref.fail = append(ref.fail, plain(p))
	}
	return &ref
}

// fuzzSpecs are the filters FuzzMatch tries: all those with hand-written matchers, and others.
var fuzzSpecs = []string{"postfix-sasl", "postfix", "postfix[mode=auth]", "postfix[mode=extra]", "postfix[mode=aggressive]", "postfix[mode=errors]",
	"dovecot[mode=aggressive]", "roundcube-auth", "nginx-http-auth[mode=aggressive]", "sshd[mode=aggressive]", "sshd[publickey=any]", "/f/look.conf", `from <HOST>`}

// FuzzMatch: Match never panics; a result is consistent (Miss has no host, a match names a
// pattern); a host is valid, not v4-mapped, and written in the line; a built-in filter never
// matches a header or body check line, and elsewhere its host is in the message's first
// [...] (see firstBracket); and
// neither the literal prefilter nor the hand-written matchers ever change a result
// (plainFilter is the reference). The seeds in testdata/fuzz/FuzzMatch/hostile_* are the
// lines of TestHostileLines.
func FuzzMatch(f *testing.F) {
	fuzzSeeds(f)
	var filters, refs []*Filter
	for _, s := range fuzzSpecs {
		flt := mustFilter(f, s, nil, nil, fuzzFiles)
		filters, refs = append(filters, flt), append(refs, plainFilter(flt))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		orig := bytes.Clone(line)
		for i, flt := range filters {
			res, host, idx := flt.Match(line)
			if !bytes.Equal(line, orig) {
				t.Fatalf("%s: Match modified its input", fuzzSpecs[i])
			}
			r2, h2, i2 := refs[i].Match(line)
			if res != r2 || host != h2 || idx != i2 {
				t.Fatalf("%s: Match(%q) = %v %v %d, regexes alone %v %v %d", fuzzSpecs[i], line, res, host, idx, r2, h2, i2)
			}
			if res == Miss {
				if host.IsValid() || idx != -1 {
					t.Fatalf("%s: Miss with host %v pattern %d", fuzzSpecs[i], host, idx)
				}
				continue
			}
			if res != Match && res != Ignored {
				t.Fatalf("%s: result %v", fuzzSpecs[i], res)
			}
			if idx < 0 || idx >= len(flt.Patterns()) {
				t.Fatalf("%s: pattern %d of %d", fuzzSpecs[i], idx, len(flt.Patterns()))
			}
			if !host.IsValid() || host.Is4In6() || host.Zone() != "" {
				t.Fatalf("%s: bad host %v", fuzzSpecs[i], host)
			}
			if !writtenIn(line, host) {
				t.Fatalf("%s: host %v is not written in %q", fuzzSpecs[i], host, line)
			}
			if builtin := !strings.HasPrefix(fuzzSpecs[i], "/") && !strings.Contains(fuzzSpecs[i], "<HOST>"); builtin {
				first, check, ok := firstBracket(line)
				if check {
					t.Fatalf("%s: %v %v in a header or body check line, where the client comes after the sender's text: %q", fuzzSpecs[i], res, host, line)
				}
				if ok && first != host {
					t.Fatalf("%s: host %v, but the message's first [...] holds %v: %q", fuzzSpecs[i], host, first, line)
				}
			}
		}
	})
}

// checkLineRE is the start of a message of cleanup's header_checks, body_checks and
// mime_header_checks actions (postfix 3.x cleanup_message.c): "QUEUEID: ACTION: CLASS TEXT
// from CLIENT; from=<SENDER> ...", TEXT the sender's.
var checkLineRE = regexp.MustCompile(`^\w+: [\w-]+: (?:header|body|mime-header|nested-header) `)

// firstBracket returns the address in the first [...] of a postfix line's message (after the
// syslog prefix, for lines of the usual shape: scanPrefixLine), and whether the message is a
// header or body check (checkLineRE). The postfix messages the built-in filters count
// (smtpd's, postscreen's) name the client there, before any text a remote party wrote; a '['
// before it is someone else's. A check line has the sender's text first and the client after
// it. !ok: no such prefix, or no address there.
func firstBracket(line []byte) (first netip.Addr, check, ok bool) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
	_, n := scanStamp(line)
	e, ok := scanPrefixLine(line[n:], matchPostfixDaemon)
	if !ok {
		return netip.Addr{}, false, false
	}
	msg := line[n+e:]
	check = checkLineRE.Match(msg)
	i := bytes.IndexByte(msg, '[')
	if i < 0 {
		return netip.Addr{}, check, false
	}
	j := bytes.IndexByte(msg[i:], ']')
	if j < 0 {
		return netip.Addr{}, check, false
	}
	first, ok = parseHost(msg[i+1 : i+j])
	return first, check, ok
}

// writtenIn reports whether some substring of line is an address text for host.
func writtenIn(line []byte, host netip.Addr) bool {
	isAddrByte := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.'
	}
	for i := range line {
		if !isAddrByte(line[i]) {
			continue
		}
		for j := i + 1; j <= len(line) && j-i <= 45 && isAddrByte(line[j-1]); j++ {
			if a, err := netip.ParseAddr(string(line[i:j])); err == nil && a.Unmap() == host {
				return true
			}
		}
	}
	return false
}

// FuzzParseTime: ParseTime never panics; a syslog stamp (no year, not TAI64N) lands no more than 24 h after now; a
// result comes with a stamp scanStamp recognises.
func FuzzParseTime(f *testing.F) {
	fuzzSeeds(f)
	for _, s := range []string{"Feb 29 12:00:00", "Dec 31 23:59:60 x", "2026-08-15T22:34:53.085+09:00", "2026-08-15 22:34:53,085", "2026-02-29T00:00:00Z", "Mar  7  02:09:33 x", "2026-08-15T22:34:53+0900", "9999-12-31T23:59:59-23:59"} {
		f.Add([]byte(s))
	}
	loc, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 8, 15, 12, 0, 0, 0, loc)
	f.Fuzz(func(t *testing.T, line []byte) {
		got, err := ParseTime(line, now, loc)
		st, n := scanStamp(line)
		if n < 0 || n > len(line) {
			t.Fatalf("scanStamp length %d for %d bytes", n, len(line))
		}
		if err != nil {
			return
		}
		if n == 0 {
			t.Fatalf("ParseTime(%q) = %v but scanStamp found no stamp", line, got)
		}
		if st.year == 0 && !st.tai && got.After(now.Add(24*time.Hour)) { // TAI64N is absolute, as RFC 3339
			t.Fatalf("ParseTime(%q) = %v, more than 24h after %v", line, got, now)
		}
	})
}

// FuzzParseHost: parseHost, with its IPv4 fast path, says what netip.ParseAddr says of the same
// bytes (an address without a zone, unmapped), for every input.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"192.0.2.7", "0.0.0.0", "255.255.255.255", "256.0.0.1", "01.2.3.4", "1.2.3",
		"1.2.3.4.", "1..2.3", "1.2.3.0004", "::1", "::ffff:192.0.2.7", "fe80::1%eth0", "1.2.3.4/32", "", "1.2.3.4 "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, err := netip.ParseAddr(string(b))
		wantOK := err == nil && want.Zone() == ""
		if wantOK {
			want = want.Unmap()
		} else {
			want = netip.Addr{}
		}
		if got, ok := parseHost(b); ok != wantOK || got != want {
			t.Errorf("parseHost(%q) = %v, %v; netip: %v, %v", b, got, ok, want, wantOK)
		}
	})
}
