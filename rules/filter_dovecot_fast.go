package rules

import "bytes"

// Hand-written matchers for the dovecot built-in's hot lines (see builtinMatcher): its
// prefregex after %(__prefix_line)s and "Aborted login (auth failed, N attempts ...): user=<...>,
// method=..., rip=ADDR, lip=...". They give up (the regex decides) on all but the usual shapes
// and are checked against the regexes by TestFastMatchersAgree and FuzzMatch.

// matchDovecotDaemon matches dovecot's %(_daemon)s,
// (?:dovecot(?:-auth)?|auth(?:-worker)?|(?:pop3|imap|managesieve|submission)-login), at b[p:]:
// each alternative taken whole is the only one that what follows the daemon can accept.
func matchDovecotDaemon(b []byte, p int) int {
	switch {
	case hasPrefixAt(b, p, "dovecot-auth"):
		return p + len("dovecot-auth")
	case hasPrefixAt(b, p, "dovecot"):
		return p + len("dovecot")
	case hasPrefixAt(b, p, "auth-worker"):
		return p + len("auth-worker")
	case hasPrefixAt(b, p, "auth"):
		return p + len("auth")
	}
	for _, s := range []string{"pop3-login", "imap-login", "managesieve-login", "submission-login"} {
		if hasPrefixAt(b, p, s) {
			return p + len(s)
		}
	}
	return -1
}

// matchDovecotPref matches the dovecot prefregex after %(__prefix_line)s when no auth-worker,
// pam_unix or "conn ..." part follows: an optional "(pop3|imap|managesieve|submission)-login: "
// and "Info: ".
func matchDovecotPref(b []byte) (fastLoc, bool) {
	if hasPrefixAt(b, 0, "dovecot: ") || hasPrefixAt(b, 0, "auth") || hasPrefixAt(b, 0, "pam_unix") {
		return fastLoc{}, false
	}
	p := 0
	for _, s := range []string{"pop3-login: ", "imap-login: ", "managesieve-login: ", "submission-login: "} {
		if hasPrefixAt(b, 0, s) {
			p = len(s)
			break
		}
	}
	if hasPrefixAt(b, p, "Info: ") {
		p += len("Info: ")
	}
	if hasPrefixAt(b, p, "conn ") {
		return fastLoc{}, false
	}
	return fastLoc{end: p, host: [2]int{-1, -1}, look: -1}, true
}

// dovecotHost scans <HOST> at b[p:] where anything but '>' may follow it: the run of
// [0-9A-Fa-f:.] that starts there, when the regex's first choice takes it whole (an IPv4
// address exactly, or an IPv6 one whose first ':' comes before any '.', and no '.' at the end).
func dovecotHost(b []byte, p int) (int, bool) {
	q := p
	for q < len(b) && (isHex(b[q]) || b[q] == ':' || b[q] == '.') {
		q++
	}
	if q == p || b[q-1] == '.' {
		return 0, false
	}
	t := b[p:q]
	if i, d := bytes.IndexByte(t, ':'), bytes.IndexByte(t, '.'); i >= 0 && d >= 0 && d < i {
		return 0, false // \d{1,3}(?:\.\d{1,3}){3} might take a prefix
	}
	return q, addrToken(t)
}

// matchDovecotAuthFailed: the dovecot failregex
//
//	^(?:Aborted login|Disconnected|Remote closed connection|Client has quit the connection)%(_bypass_reject_reason)s \((?:auth failed, \d+ attempts(?: in \d+ secs)?|...)\):%(_tail)s
//
// for "auth failed" without a reject reason; the address is the last " rip=", which the
// regex's greedy user=<.*> reaches when what comes before it is user=<...>, and/or method=...,.
func matchDovecotAuthFailed(b []byte) (fastLoc, bool) {
	p := -1
	for _, s := range []string{"Aborted login", "Disconnected", "Remote closed connection", "Client has quit the connection"} {
		if hasPrefixAt(b, 0, s) {
			p = len(s)
			break
		}
	}
	if p < 0 {
		return fastLoc{miss: true}, false
	}
	if !hasPrefixAt(b, p, " (auth failed, ") {
		return fastLoc{}, false
	}
	q := skipDigits(b, p+len(" (auth failed, "))
	if q == p+len(" (auth failed, ") || !hasPrefixAt(b, q, " attempts") {
		return fastLoc{}, false
	}
	q += len(" attempts")
	if hasPrefixAt(b, q, " in ") {
		if r := skipDigits(b, q+len(" in ")); r > q+len(" in ") && hasPrefixAt(b, r, " secs") {
			q = r + len(" secs")
		}
	}
	if !hasPrefixAt(b, q, "):") {
		return fastLoc{}, false
	}
	r := b[q+2:]
	i := bytes.LastIndex(r, []byte(" rip="))
	if i < 0 || !dovecotBeforeRip(r[:i]) {
		return fastLoc{}, false
	}
	h0 := q + 2 + i + len(" rip=")
	h1, ok := dovecotHost(b, h0)
	if !ok || !dovecotTail(b[h1:]) {
		return fastLoc{}, false
	}
	return fastLoc{end: len(b), host: [2]int{h0, h1}, look: -1}, true
}

// dovecotBeforeRip reports whether s is (?: user=<.*>,)?(?: method=\S+,)? in a way that puts
// " rip=" right after s.
func dovecotBeforeRip(s []byte) bool {
	user := func(s []byte) bool {
		return len(s) == 0 || len(s) >= len(" user=<>,") && bytes.HasPrefix(s, []byte(" user=<")) && bytes.HasSuffix(s, []byte(">,")) && bytes.IndexByte(s, '\n') < 0
	}
	if user(s) {
		return true
	}
	m := bytes.LastIndex(s, []byte(" method="))
	if m < 0 || s[len(s)-1] != ',' {
		return false
	}
	v := s[m+len(" method=") : len(s)-1]
	return len(v) > 0 && skipRENonSpace(v, 0) == len(v) && user(s[:m])
}

// dovecotTail reports whether t is (?:[^>]*(?:, session=<\S+>)?)\s*$ with at most one '>'.
func dovecotTail(t []byte) bool {
	j := bytes.IndexByte(t, '>')
	if j < 0 {
		return true
	}
	if !allSpace(t, j+1) {
		return false
	}
	k := bytes.LastIndex(t[:j], []byte(", session=<"))
	if k < 0 {
		return false
	}
	v := t[k+len(", session=<") : j]
	return len(v) > 0 && skipRENonSpace(v, 0) == len(v)
}
