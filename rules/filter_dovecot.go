package rules

// dovecotConf is fail2ban 1.0.2's filter.d/dovecot.conf in RE2, with these changes, each so
// that text a client chose (its user name) cannot stand where the address is read:
//   - %(_daemon)s also names the processes that log without "dovecot: " in front
//     (auth-worker, pop3-login, ...): our __prefix_line requires a daemon (see commonKey);
//   - in "(auth failed, ...): user=<USER>, method=..., rip=<HOST>" the user is .* (greedy),
//     so the address is the last "rip=" that dovecot's own tail (", lip=..., TLS, session=<>")
//     follows, never one a user name such as "x>, rip=192.0.2.1" wrote (fail2ban: [^>]*);
//   - in "pam(USER,<HOST>,<session>)" and "passwd-file(USER,<HOST>)" the user cannot hold a
//     blank, ',' or parentheses (fail2ban: \S+ and \S*), so the address is the one after the
//     first ',' and the ')' is dovecot's; dovecot's default auth_username_chars allows none
//     of them anyway. The third field is a session id "<...>" or empty, and "unknown user"
//     and the like end the line but for dovecot's "(...)" notes (fail2ban: \S* and no end).
//
// Modes: normal (the default) and aggressive (also "no auth attempts" and the like).
const dovecotConf = `
[Definition]
_daemon = (?:dovecot(?:-auth)?|auth(?:-worker)?|(?:pop3|imap|managesieve|submission)-login)
_auth_worker = (?:dovecot: )?auth(?:-worker)?
_auth_worker_info = (?:conn \w+:auth(?:-worker)? \([^\)]+\): auth(?:-worker)?<\d+>: )?
_bypass_reject_reason = (?:: (?:\w+\([^\):]*\) \w+|[^\(]+))*
_user = [^\s(),]*
_session = (?:,(?:<[^\s()<>]*>)?)?
_tail = (?: user=<.*>,)?(?: method=\S+,)? rip=<HOST>(?:[^>]*(?:, session=<\S+>)?)\s*$

prefregex = ^%(__prefix_line)s(?:%(_auth_worker)s(?:\([^\)]+\))?: )?(?:%(__pam_auth)s(?:\(dovecot:auth\))?: |(?:pop3|imap|managesieve|submission)-login: )?(?:Info: )?%(_auth_worker_info)s<F-CONTENT>.+</F-CONTENT>$

failregex = ^authentication failure; logname=\S* uid=\S* euid=\S* tty=dovecot ruser=\S* rhost=<HOST>(?:\s+user=\S*)?\s*$
            ^(?:Aborted login|Disconnected|Remote closed connection|Client has quit the connection)%(_bypass_reject_reason)s \((?:auth failed, \d+ attempts(?: in \d+ secs)?|tried to use (?:disabled|disallowed) \S+ auth|proxy dest auth failed)\):%(_tail)s
            ^pam\(%(_user)s,<HOST>%(_session)s\): pam_authenticate\(\) failed: (?:User not known to the underlying authentication module: \d+ Time\(s\)|Authentication failure \([Pp]assword mismatch\?\)|Permission denied)\s*$
            ^[a-z\-]{3,15}\(%(_user)s,<HOST>%(_session)s\): (?:[Uu]nknown user|[Ii]nvalid credentials|[Pp]assword mismatch)(?: \([^()]*\))*\s*$
            <mdre-<mode>>

mdre-aggressive = ^(?:Aborted login|Disconnected|Remote closed connection|Client has quit the connection)%(_bypass_reject_reason)s \((?:no auth attempts|disconnected before auth was ready,|client didn't finish \S+ auth,)(?: (?:in|waited) \d+ secs)?\):%(_tail)s
mdre-normal =

mode = normal

ignoreregex =
`
