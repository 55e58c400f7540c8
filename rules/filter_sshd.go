package rules

// sshdConf is fail2ban 1.0.2's filter.d/sshd.conf in RE2, one line at a time. fail2ban
// follows a connection over several lines (F-MLFID: "Connection from ADDR" gives the address
// to a later "Disconnecting: Too many authentication failures" that has none, "Accepted"
// forgets earlier failures); a line here stands alone. So:
//   - regexes without an address, and those fail2ban marks <F-NOFAIL> (helpers that only
//     feed that memory), are left out: "Disconnecting: Too many authentication failures",
//     "User x not allowed because account is locked", kex_exchange_identification, "Read
//     from socket failed", "Unable to negotiate a ...", "no matching ... found:",
//     pam_unix's "authentication failure", "Received disconnect ...: 11:", "SSH: Server;...",
//     "Connection from", "Accepted", and mode normal's "Connection closed";
//   - Python's conditional groups in "Failed METHOD for ..." become three regexes. A user
//     name that exists (no "invalid user ") is a local account: the address is the one after
//     it. An invalid user's name is the client's and may hold blanks and ": ": the address is
//     the last " from ADDR [port N] [sshN]" that ends the line, or that sshd's key
//     information (": RSA SHA256:...") follows, so that "Invalid user x from 192.0.2.1 port
//     1 ssh2: y" names the client, not 192.0.2.1;
//   - fail2ban's logtype rfc5424 is a prefix here too (_rfc5424, tried first: __prefix_line takes
//     its "HOST sshd " for a daemon without a pid), for every logtype: after
//     RFC 5424's header and stamp (see ParseTime), "HOST sshd PID MSGID SD " where SD is "-"
//     or structured data; PARAM-VALUEs may hold escaped '"' and ']';
//   - fail2ban's journal __prefix_line takes a kernel prefix ("kernel: [  970.699397] ") after
//     the daemon; so does the prefregex here;
//   - in "Connection closed|reset by|Disconnected from [invalid|authenticating user USER] ADDR"
//     (mdre-ddos-other, mdre-extra-other) only " port N" may follow the address, not
//     fail2ban's %(__on_port_opt)s: sshd writes no " on ..." there, and with it a user name
//     "x VICTIM on" made "... user x VICTIM on CLIENT port N [preauth]" read VICTIM;
//   - every other regex whose user name comes before the address reads the last address that
//     sshd's own tail (port, on, [preauth], to the end of the line) follows; "refused connect
//     from \S+ (<HOST>)" and "Bad protocol version identification '...' from <HOST>" are
//     anchored at the end of the line.
//
// Modes: normal (the default), ddos, extra, aggressive (ddos and extra). publickey: nofail
// (the default: a wrong key of an existing user is no failure, of an invalid user it is),
// invalid (the same), any (every wrong key is a failure), ignore (no wrong key is).
const sshdConf = `
[Definition]
_daemon = sshd
__pref = (?:(?:error|fatal): (?:PAM: )?)?
__suff = (?: (?:port \d+|on \S+|\[preauth\])){0,3}\s*
__on_port_opt = (?: (?:port \d+|on \S+)){0,2}
__authng_user = (?: (?:invalid|authenticating) user (?:\S+|.*?))?
_keyinfo = (?:: [A-Z][\w-]* \S+)?
_failed_end = (?: port \d+)?(?: on \S+)?(?: ssh\d*)?%(_keyinfo)s\s*$

_rfc5424 = \s*\S+ %(_daemon)s \d+ \S+ (?:-|(?:\[(?:[^\]"]*|"(?:[^"\\]|\\.)*")*\])+)\s+

prefregex = ^(?:%(_rfc5424)s|%(__prefix_line)s)(?:kernel:\s?\[ *\d+\.\d+\]:?\s+)?%(__pref)s<F-CONTENT>.+</F-CONTENT>$

cmnfailre = ^[aA]uthentication (?:failure|error|failed) for <F-USER>.*</F-USER> from <HOST>(?: via \S+)?%(__suff)s$
            ^User not known to the underlying authentication module for <F-USER>.*</F-USER> from <HOST>%(__suff)s$
            <cmnfailre-failed-pub-<publickey>>
            ^Failed <cmnfailed> for <F-USER>\S+</F-USER> from <HOST>%(__on_port_opt)s(?: ssh\d*)?(?:: |\s*$)
            ^Failed <cmnfailed> for (?:invalid user )?<F-USER>.*</F-USER> from <HOST>%(_failed_end)s
            ^<F-USER>ROOT</F-USER> LOGIN REFUSED FROM <HOST>
            ^[iI](?:llegal|nvalid) user <F-USER>.*</F-USER> from <HOST>%(__suff)s$
            ^User <F-USER>\S+|.*?</F-USER> from <HOST> not allowed because not listed in AllowUsers%(__suff)s$
            ^User <F-USER>\S+|.*?</F-USER> from <HOST> not allowed because listed in DenyUsers%(__suff)s$
            ^User <F-USER>\S+|.*?</F-USER> from <HOST> not allowed because not in any group%(__suff)s$
            ^refused connect from \S+ \(<HOST>\)\s*$
            ^Received disconnect from <HOST>%(__on_port_opt)s:\s*3: .*: Auth fail%(__suff)s$
            ^User <F-USER>\S+|.*?</F-USER> from <HOST> not allowed because a group is listed in DenyGroups%(__suff)s$
            ^User <F-USER>\S+|.*?</F-USER> from <HOST> not allowed because none of user's groups are listed in AllowGroups%(__suff)s$
            ^maximum authentication attempts exceeded for <F-USER>.*</F-USER> from <HOST>%(__on_port_opt)s(?: ssh\d*)?%(__suff)s$
            ^Disconnecting(?: from)?(?: (?:invalid|authenticating)) user <F-USER>.*</F-USER> <HOST>%(__on_port_opt)s:\s*Change of username or service not allowed:\s*\([^\s()]*,[^\s()]*\) -> \([^\s()]*,[^\s()]*\)\s*\[preauth\]\s*$
            <mdre-<mode>-other>

cmnfailed-any = \S+
cmnfailed-ignore = (?!publickey )\S+
cmnfailed-invalid = <cmnfailed-ignore>
cmnfailed-nofail = <cmnfailed-ignore>
cmnfailed = <cmnfailed-<publickey>>

mdre-normal =
mdre-normal-other =

mdre-ddos = ^Did not receive identification string from <HOST>
            ^Bad protocol version identification '.*' from <HOST>%(__on_port_opt)s\s*$
            ^banner exchange: Connection from <HOST>%(__on_port_opt)s: invalid format
mdre-ddos-other = ^(?:Connection (?:closed|reset)|Disconnected) (?:by|from)%(__authng_user)s <HOST>(?: port \d+)?\s+\[preauth\]\s*$

mdre-extra = ^Received disconnect from <HOST>%(__on_port_opt)s:\s*14: No(?: supported)? authentication methods available
             ^Unable to negotiate with <HOST>%(__on_port_opt)s: no matching (?:\w+ ){0,2}\w+ found\.
mdre-extra-other = ^Disconnected(?: from)?(?: (?:invalid|authenticating)) user <F-USER>\S+|.*?</F-USER> <HOST>(?: port \d+)? \[preauth\]\s*$

mdre-aggressive = %(mdre-ddos)s
                  %(mdre-extra)s
mdre-aggressive-other = %(mdre-ddos-other)s

publickey = nofail
cmnfailre-failed-pub-invalid = ^Failed publickey for invalid user <F-USER>.*</F-USER> from <HOST>%(_failed_end)s
cmnfailre-failed-pub-any =
cmnfailre-failed-pub-nofail = <cmnfailre-failed-pub-invalid>
cmnfailre-failed-pub-ignore =

mode = normal

failregex = %(cmnfailre)s
            <mdre-<mode>>

ignoreregex =
`
