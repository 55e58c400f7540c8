package rules

import (
	"strings"
	"testing"
)

// builtinSpecs are every built-in filter and mode.
var builtinSpecs = []string{"postfix-sasl", "postfix", "postfix[mode=normal]", "postfix[mode=auth]", "postfix[mode=rbl]",
	"postfix[mode=ddos]", "postfix[mode=extra]", "postfix[mode=aggressive]", "postfix[mode=errors]",
	"dovecot", "dovecot[mode=aggressive]", "roundcube-auth", "nginx-http-auth", "nginx-http-auth[mode=auth]",
	"nginx-http-auth[mode=fallback]", "nginx-http-auth[mode=aggressive]", "sshd", "sshd[mode=ddos]", "sshd[mode=extra]",
	"sshd[mode=aggressive]", "sshd[publickey=any]", "sshd[publickey=ignore]"}

// hostileCase is a log line in which a remote party wrote text: the real client is attacker
// (the address postfix itself put in the line), and the text tries to get victim counted.
type hostileCase struct {
	class, name string
	line        string
	host        string   // the only host any built-in filter may report; "" = every one must miss
	mustMatch   []string // the specs that must find host in it
}

// hostileCases are the lines of SECURITY.md's "Log text is hostile", by class of text a remote
// party controls.
func hostileCases() []hostileCase {
	const (
		smtpd    = "Aug 15 22:34:53 mail postfix/smtpd[4242]: "
		cleanup  = "Aug 15 22:34:53 mail postfix/cleanup[456]: 4ABC123DEF: "
		smtp     = "Aug 15 22:34:53 mail postfix/smtp[789]: 4ABC123DEF: "
		screen   = "Aug 15 22:34:53 mail postfix/postscreen[3]: "
		fakeSASL = "warning: unknown[" + victim + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
		fakeLine = "Aug 15 22:34:53 mail postfix/smtpd[1]: " + fakeSASL
		fakeRej  = "NOQUEUE: reject: RCPT from unknown[" + victim + "]: 554 5.7.1 <a@b>: Relay access denied"
		// what postfix writes after the attacker's text of a cleanup line (cleanup_message.c)
		origin = " from unknown[" + attacker + "]; from=<a@example.org> to=<b@example.net> proto=ESMTP helo=<x>"
	)
	sasl := []string{"postfix-sasl", "postfix[mode=auth]", "postfix[mode=extra]", "postfix[mode=aggressive]"}
	reject := []string{"postfix", "postfix[mode=normal]", "postfix[mode=extra]", "postfix[mode=aggressive]"}
	rcpt := smtpd + "NOQUEUE: reject: RCPT from unknown[" + attacker + "]: 554 5.7.1 <x@example.org>: Relay access denied; "
	long := strings.Repeat("a", 70<<10)
	return append([]hostileCase{
		// The client's reverse DNS name (a PTR record the attacker writes; postfix logs it
		// only when it is a valid host name that resolves back, else "unknown").
		{"host name", "address in the name, sasl", smtpd + "warning: 10.0.0.1.example.org[" + attacker + "]: SASL LOGIN authentication failed: x", attacker, sasl},
		{"host name", "address in the name, reject", smtpd + "NOQUEUE: reject: RCPT from 10-0-0-1.example.org[" + attacker + "]: 554 5.7.1 <x@y>: Relay access denied; from=<a@b> to=<x@y> proto=ESMTP helo=<x>", attacker, reject},
		{"host name", "not a host name before the bracket", smtpd + "warning: \xffx[" + victim + "]: SASL LOGIN authentication failed: x", "", nil},
		{"host name", "blank before the bracket", smtpd + "warning: a b[" + victim + "]: SASL LOGIN authentication failed: x", "", nil},

		// HELO
		{"helo", "address", rcpt + "from=<a@example.org> to=<x@example.org> proto=ESMTP helo=<[" + victim + "]>", attacker, reject},
		{"helo", "failure", rcpt + "from=<a@b> to=<x@y> proto=ESMTP helo=<x[" + victim + "]: SASL LOGIN authentication failed: x>", attacker, reject},
		{"helo", "rejected helo is the failure", smtpd + "NOQUEUE: reject: RCPT from unknown[" + attacker + "]: 504 5.5.2 <" + fakeSASL + ">: Helo command rejected: need fully-qualified hostname; proto=SMTP helo=<" + fakeSASL + ">", attacker, reject},
		{"helo", "after connect", smtpd + "connect from unknown[" + attacker + "] helo=<" + fakeSASL + ">", "", nil},
		{"helo", "postscreen pregreet", screen + "PREGREET 40 after 0.1 from [" + attacker + "]:4711: EHLO " + fakeLine + `\r\n`, attacker, []string{"postfix[mode=ddos]"}},
		{"helo", "improper pipelining", smtpd + "improper command pipelining after CONNECT from unknown[" + attacker + "]: EHLO " + fakeSASL + `\r\n`, attacker, reject},

		// MAIL FROM
		{"sender", "failure", rcpt + "from=<x[" + victim + "]: SASL PLAIN authentication failed: @b> to=<x@y> proto=ESMTP helo=<x>", attacker, reject},
		{"sender", "reject", rcpt + "from=<" + fakeRej + "> to=<x@y> proto=ESMTP helo=<x>", attacker, reject},
		{"sender", "illegal syntax warning", smtpd + "warning: Illegal address syntax from unknown[" + attacker + "] in MAIL command: <x[" + victim + "]: SASL LOGIN authentication failed: y>", "", nil},

		// RCPT TO
		{"recipient", "failure", smtpd + "NOQUEUE: reject: RCPT from unknown[" + attacker + "]: 550 5.1.1 <" + fakeSASL + ">: Recipient address rejected: User unknown in local recipient table; from=<a@b> to=<c@d> proto=ESMTP helo=<x>", attacker, reject},
		{"recipient", "quoted local part", smtpd + `NOQUEUE: reject: RCPT from unknown[` + attacker + `]: 550 5.1.1 <"x[` + victim + `]: SASL LOGIN authentication failed: "@example.org>: Recipient address rejected: User unknown; from=<a@b> to=<c@d> proto=ESMTP helo=<x>`, attacker, reject},
		{"recipient", "delivery of a quoted local part", smtp + `to=<"x[` + victim + `]: SASL LOGIN authentication failed: "@example.net>, relay=mx.example.net[198.51.100.2]:25, delay=1, status=sent (250 ok)`, "", nil},

		// SASL user name and the reason text after the failure
		{"sasl username", "address", saslPfx + "UGFzc3dvcmQ6, sasl_username=[" + victim + "]", attacker, sasl},
		{"sasl username", "failure", saslPfx + "UGFzc3dvcmQ6, sasl_username=x]: " + fakeSASL, attacker, sasl},
		{"sasl username", "whole line", saslPfx + "UGFzc3dvcmQ6, sasl_username=" + fakeLine, attacker, sasl},

		// header_checks, body_checks, mime_header_checks and milters: the attacker's message
		// text comes before the client (cleanup_message.c cleanup_act_log).
		{"header check", "reject with failure (issue 10)", cleanup + "reject: header Subject: x[" + victim + "]: SASL LOGIN authentication failed: y" + origin + ": 5.7.1 no", "", nil},
		{"header check", "reject with port and failure", cleanup + "reject: header Subject: x[" + victim + "]:25: SASL PLAIN authentication failed:" + origin + ": 5.7.1 no", "", nil},
		{"header check", "reject with address, no blank", cleanup + "reject: header X:x[" + victim + "]: SASL LOGIN authentication failed:" + origin, "", nil},
		{"header check", "reject with smtpd reject", cleanup + "reject: header Subject: " + fakeRej + origin + ": 5.7.1 no", "", nil},
		{"header check", "reject with the origin forged", cleanup + "reject: header Subject: x from unknown[" + victim + "]; from=<a@b> to=<c@d> proto=ESMTP helo=<x>" + origin + ": 5.7.1 no", "", nil},
		{"header check", "reject with a whole line", cleanup + "reject: header Subject: " + fakeLine + origin + ": 5.7.1 no", "", nil},
		{"header check", "warn action", cleanup + "warning: header Subject: x[" + victim + "]: SASL LOGIN authentication failed: y" + origin + ": look", "", nil},
		{"header check", "warn action without queue id", "Aug 15 22:34:53 mail postfix/cleanup[456]: warning: header Subject: x[" + victim + "]: SASL LOGIN authentication failed: y" + origin, "", nil},
		{"body check", "reject", cleanup + "reject: body x[" + victim + "]: SASL LOGIN authentication failed: y" + origin + ": 5.7.1 no", "", nil},
		{"body check", "reject, forged command", cleanup + "reject: body RCPT from x[" + victim + "]: 554 5.7.1 Service unavailable" + origin + ": 5.7.1 no", "", nil},
		{"mime header check", "attachment name", cleanup + `reject: mime-header Content-Disposition: attachment; filename="x[` + victim + `]: SASL LOGIN authentication failed: .exe"` + origin + ": 5.7.1 no .exe", "", nil},
		{"milter", "reply text", cleanup + "milter-reject: END-OF-MESSAGE from unknown[" + attacker + "]: 5.7.1 " + fakeSASL + "; from=<a@b> to=<c@d> proto=ESMTP helo=<x>", "", nil},

		// Remote servers' replies to our own deliveries
		{"bounce", "reply with failure", smtp + "to=<u@example.net>, relay=mx.example.net[198.51.100.2]:25, delay=1, status=bounced (host mx.example.net[198.51.100.2] said: 550 5.7.1 " + fakeSASL + " (in reply to RCPT TO command))", "", nil},
		{"bounce", "reply with reject", smtp + "host mx.example.net[198.51.100.2] said: 554 " + fakeRej + " (in reply to RCPT TO command)", "", nil},
		{"bounce", "refused to talk", smtp + "host mx.example.net[198.51.100.2] refused to talk to me: 554 " + fakeRej, "", nil},
		{"bounce", "non-delivery notification", "Aug 15 22:34:53 mail postfix/bounce[5]: 4ABC123DEF: sender non-delivery notification: 5BCD234EF0", "", nil},

		// Control characters, invalid UTF-8, long lines
		{"CR", "before a forged line", smtpd + "connect from unknown[" + attacker + "]\r" + fakeLine, "", nil},
		{"CR", "after a failure", saslPfx + "x\r" + fakeLine, attacker, []string{"postfix[mode=auth]"}},
		{"CR", "in the helo", rcpt + "from=<a@b> to=<x@y> proto=ESMTP helo=<\r" + fakeLine + ">", attacker, reject},
		{"NUL", "before a forged line", smtpd + "connect from unknown[" + attacker + "]\x00" + fakeLine, "", nil},
		{"NUL", "in the user name", saslPfx + "x, sasl_username=a\x00" + fakeSASL, attacker, sasl},
		{"NUL", "leading, after a crash", "\x00\x00\x00" + fakeLine, "", nil},
		{"invalid UTF-8", "in the helo", rcpt + "from=<a@b> to=<x@y> proto=ESMTP helo=<\xff\xfe[" + victim + "]>", attacker, reject},
		{"invalid UTF-8", "in the user name", saslPfx + "x, sasl_username=\xc3(" + fakeSASL, attacker, sasl},
		{"long line", "70 KiB helo then a failure", rcpt + "from=<a@b> to=<x@y> proto=ESMTP helo=<" + long + fakeSASL + ">", attacker, reject},
		{"long line", "cut at 64 KiB", (rcpt + "from=<a@b> to=<x@y> proto=ESMTP helo=<" + long)[:64<<10], attacker, reject},
		{"long line", "70 KiB header then a failure", cleanup + "reject: header Subject: " + long + "x[" + victim + "]: SASL LOGIN authentication failed:" + origin, "", nil},

		// Syslog prefixes inside the message
		{"fake prefix", "other daemon", "Aug 15 22:34:53 mail dovecot[77]: " + fakeSASL, "", nil},
		{"fake prefix", "other daemon quoting postfix", "Aug 15 22:34:53 mail sshd[77]: Invalid user postfix/smtpd[1]: " + fakeSASL, "", nil},
		{"fake prefix", "whole line in another daemon's message", "Aug 15 22:34:53 mail sshd[77]: " + fakeLine, "", nil},
		{"fake prefix", "non-postfix daemon named smtpd", "Aug 15 22:34:53 mail smtpd[77]: " + fakeSASL, "", nil},
		{"fake prefix", "no daemon", "Aug 15 22:34:53 mail " + fakeSASL, "", nil},
		{"fake prefix", "journal message with a newline", "2026-08-15T22:34:53.085123+00:00 mx1 postfix/smtpd[950]: connect from unknown[" + attacker + "] " + fakeLine, "", nil},
		{"fake prefix", "line with a newline", smtpd + "connect from unknown[" + attacker + "]\n" + fakeLine, "", nil},
	}, hostileMailServerCases()...)
}

// TestHostileLines: in no line of hostileCases does a built-in filter (any mode) report
// anyone but the real client; and where the line is a failure of the real client, the filters
// meant for it find it.
func TestHostileLines(t *testing.T) {
	filters := map[string]*Filter{}
	for _, spec := range builtinSpecs {
		filters[spec] = mustFilter(t, spec, nil, nil, nil)
	}
	for _, tc := range hostileCases() {
		for _, spec := range builtinSpecs {
			t.Run(tc.class+"/"+tc.name+"/"+spec, func(t *testing.T) {
				res, host, idx := filters[spec].Match([]byte(tc.line))
				if res != Miss && (tc.host == "" || host.String() != tc.host) {
					t.Fatalf("Match = %v %v (pattern %d), want %s\n  %q", res, host, idx, map[bool]string{true: "a miss", false: "host " + tc.host}[tc.host == ""], tc.line)
				}
				for _, s := range tc.mustMatch {
					if s == spec && res != Match {
						t.Fatalf("Match = %v, want a match of %s\n  %q", res, tc.host, tc.line)
					}
				}
			})
		}
	}
}
