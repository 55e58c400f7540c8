package rules

import "bytes"

// Hand-written matchers for the sshd built-in's hot regexes (see builtinMatcher): its
// prefregex, "Failed METHOD for USER from ADDR ...", "Failed METHOD for [invalid user] USER
// from ADDR ..." and "Invalid user USER from ADDR ...". Each gives up (!ok, the regex
// decides) on anything but the usual shapes, says miss where the regex cannot match either
// (its fixed start is not there), and is checked against its regex by FuzzMatch.

// sshdPrefSrc is the sshd prefregex as builtinMatcher sees it.
const sshdPrefSrc = `^(?:\s*\S+ sshd \d+ \S+ (?:-|(?:\[(?:[^\]"]*|"(?:[^"\\]|\\.)*")*\])+)\s+|%(__prefix_line)s)(?:kernel:\s?\[ *\d+\.\d+\]:?\s+)?(?:(?:error|fatal): (?:PAM: )?)?<F-CONTENT></F-CONTENT>`

// matchSSHDDaemon matches sshd's %(_daemon)s, "sshd".
func matchSSHDDaemon(b []byte, p int) int {
	if !hasPrefixAt(b, p, "sshd") {
		return -1
	}
	return p + len("sshd")
}

// matchSSHDPref matches sshdPrefSrc on the usual "host sshd[pid]: [error: ]" lines: not
// RFC 5424's "host sshd PID ..." (tried first by the regex), nor a kernel prefix.
func matchSSHDPref(b []byte) (fastLoc, bool) {
	p := skipRESpace(b, 0)
	if q := skipRENonSpace(b, p); q > p && hasPrefixAt(b, q, " sshd ") {
		return fastLoc{}, false // the RFC 5424 alternative may match
	}
	e, ok := scanPrefixLine(b, matchSSHDDaemon)
	if !ok || hasPrefixAt(b, e, "kernel:") {
		return fastLoc{}, false
	}
	if hasPrefixAt(b, e, "error: ") || hasPrefixAt(b, e, "fatal: ") {
		e += len("error: ")
		if hasPrefixAt(b, e, "PAM: ") {
			e += len("PAM: ")
		}
	}
	return fastLoc{end: e, host: [2]int{-1, -1}, look: -1}, true
}

// sshdHost scans the address at b[p:] as <HOST> (ip4RE|ip6RE) when it is a whole token: a
// run of [0-9A-Fa-f:.] that the end of b or a blank follows and that does not end in ':' (so
// that no shorter match of the regex can be followed by ": "). It returns the token's end.
func sshdHost(b []byte, p int) (int, bool) {
	q := p
	for q < len(b) && (isHex(b[q]) || b[q] == ':' || b[q] == '.') {
		q++
	}
	if q == p || b[q-1] == ':' || b[q-1] == '.' || q < len(b) && b[q] != ' ' {
		return 0, false
	}
	// ip4RE cannot match a prefix that the rest of the regex (a blank or the end) follows.
	return q, addrToken(b[p:q])
}

// addrToken reports whether t, a run of [0-9A-Fa-f:.], has the shape of the filters' address
// regexes as a whole: with a ':', [0-9A-Fa-f]{0,4}: then anything (ip6RE; the caller checks
// how it ends); without, \d{1,3}(?:\.\d{1,3}){3} (ip4RE).
func addrToken(t []byte) bool {
	if i := bytes.IndexByte(t, ':'); i >= 0 {
		for _, c := range t[:i] {
			if !isHex(c) {
				return false
			}
		}
		return i <= 4
	}
	groups, n := 0, 0
	for _, c := range t {
		switch {
		case isDigit(c) && n < 3:
			n++
		case c == '.' && n > 0:
			groups, n = groups+1, 0
		default:
			return false
		}
	}
	return groups == 3 && n > 0
}

// skipItems takes up to max of sshd's " port N", " on X" (when on), " [preauth]" (when
// preauth) at b[p:], one way only: each starts differently and is taken whole.
func skipItems(b []byte, p, max int, on, preauth bool) int {
	for range max {
		switch {
		case hasPrefixAt(b, p, " port ") && skipDigits(b, p+len(" port ")) > p+len(" port "):
			p = skipDigits(b, p+len(" port "))
		case on && hasPrefixAt(b, p, " on ") && skipRENonSpace(b, p+len(" on ")) > p+len(" on "):
			p = skipRENonSpace(b, p+len(" on "))
		case preauth && hasPrefixAt(b, p, " [preauth]"):
			p += len(" [preauth]")
		default:
			return p
		}
	}
	return p
}

// allSpace reports whether b[p:] is \s*.
func allSpace(b []byte, p int) bool { return skipRESpace(b, p) == len(b) }

// sshdFailedMethod scans "Failed \S+ for " and returns the end (-1: the regex cannot match
// there: \S+ ends at the first blank).
func sshdFailedMethod(b []byte) int {
	const failed = "Failed "
	if !hasPrefixAt(b, 0, failed) {
		return -1
	}
	m := skipRENonSpace(b, len(failed))
	if m == len(failed) || !hasPrefixAt(b, m, " for ") {
		return -1
	}
	return m + len(" for ")
}

// matchSSHDFailed: ^Failed (?!publickey )\S+ for \S+ from <HOST>(?: (?:port \d+|on \S+)){0,2}(?: ssh\d*)?(?:: |\s*$)
// (look: the lookahead's position, -1 without one: publickey=any).
func matchSSHDFailed(look int) fastMatcher {
	return func(b []byte) (fastLoc, bool) {
		u := sshdFailedMethod(b)
		if u < 0 {
			return fastLoc{miss: true}, false
		}
		f := skipRENonSpace(b, u)
		if f == u || !hasPrefixAt(b, f, " from ") {
			return fastLoc{miss: true}, false // \S+ then " from " is one way only
		}
		h0 := f + len(" from ")
		h1, ok := sshdHost(b, h0)
		if !ok {
			return fastLoc{}, false
		}
		p := skipItems(b, h1, 2, true, false)
		if hasPrefixAt(b, p, " ssh") {
			p = skipDigits(b, p+len(" ssh"))
		}
		if !hasPrefixAt(b, p, ": ") && !allSpace(b, p) {
			return fastLoc{}, false
		}
		return fastLoc{end: len(b), host: [2]int{h0, h1}, look: look}, true
	}
}

// sshdLastFrom returns the address after the last " from " that starts at or after b[p]
// (where the user name .* starts), when sshd's
// tail (checked by tail from the address's end) follows it to the end of the line: the
// greedy user name .* before it takes every earlier " from ".
func sshdLastFrom(b []byte, p int, tail func(b []byte, p int) bool) (fastLoc, bool) {
	i := bytes.LastIndex(b[p:], []byte(" from "))
	if i < 0 {
		return fastLoc{}, false
	}
	h0 := p + i + len(" from ")
	h1, ok := sshdHost(b, h0)
	if !ok || !tail(b, h1) {
		return fastLoc{}, false
	}
	return fastLoc{end: len(b), host: [2]int{h0, h1}, look: -1}, true
}

// failedEnd is _failed_end: (?: port \d+)?(?: on \S+)?(?: ssh\d*)?(?:: [A-Z][\w-]* \S+)?\s*$
func failedEnd(b []byte, p int) bool {
	p = skipItems(b, p, 1, false, false)
	p = skipItemsOn(b, p)
	if hasPrefixAt(b, p, " ssh") {
		p = skipDigits(b, p+len(" ssh"))
	}
	if hasPrefixAt(b, p, ": ") && p+2 < len(b) && 'A' <= b[p+2] && b[p+2] <= 'Z' {
		q := p + 3
		for q < len(b) && (isWordByte(b[q]) || b[q] == '-') {
			q++
		}
		if r := skipRENonSpace(b, q+1); q < len(b) && b[q] == ' ' && r > q+1 {
			p = r
		}
	}
	return allSpace(b, p)
}

// skipItemsOn takes one " on \S+" at b[p:].
func skipItemsOn(b []byte, p int) int {
	if hasPrefixAt(b, p, " on ") && skipRENonSpace(b, p+len(" on ")) > p+len(" on ") {
		return skipRENonSpace(b, p+len(" on "))
	}
	return p
}

// matchSSHDFailedInvalid: ^Failed (?!publickey )\S+ for (?:invalid user )?.* from <HOST>%(_failed_end)s
func matchSSHDFailedInvalid(look int) fastMatcher {
	return func(b []byte) (fastLoc, bool) {
		u := sshdFailedMethod(b)
		if u < 0 {
			return fastLoc{miss: true}, false
		}
		l, ok := sshdLastFrom(b, u, failedEnd)
		l.look = look
		return l, ok
	}
}

// matchSSHDInvalidUser: ^[iI](?:llegal|nvalid) user .* from <HOST>(?: (?:port \d+|on \S+|\[preauth\])){0,3}\s*$
func matchSSHDInvalidUser(b []byte) (fastLoc, bool) {
	if len(b) == 0 || b[0] != 'i' && b[0] != 'I' || !hasPrefixAt(b, 1, "nvalid user ") && !hasPrefixAt(b, 1, "llegal user ") {
		return fastLoc{miss: true}, false
	}
	if bytes.Index(b, []byte(" from ")) < 0 {
		return fastLoc{miss: true}, false
	}
	return sshdLastFrom(b, len("invalid user "), func(b []byte, p int) bool {
		return allSpace(b, skipItems(b, p, 3, true, true))
	})
}
