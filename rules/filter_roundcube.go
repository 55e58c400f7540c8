package rules

// roundcubeConf is fail2ban 1.0.2's filter.d/roundcube-auth.conf in RE2. Roundcube writes
// "Login failed for USER from ADDR. REPLY in FILE.php on line N (METHOD URL)", USER and
// (through an IMAP server that echoes it) part of REPLY being the client's. Python's
// (?(...)) lookahead loop and (?P=user) back reference are gone:
//   - the user is .* (greedy) without parentheses, so the address is the last " from ADDR"
//     that roundcube's own tail follows, and an X-Forwarded-For header that closes the
//     parentheses after the address and writes " from 192.0.2.1(" cannot move it;
//   - REPLY has no word "from" (fail2ban: no " from "), except in a trailing " user=..."
//     echo, which fail2ban required to equal the user and which is any text here: the
//     corpus's injection cases come out the same. As in fail2ban, an IMAP server that echoes
//     the user name in its reply lets a user name end in ". x" after an address of its choice
//     and be read as that address; dovecot and Cyrus do not echo it.
//
// The time stamps of roundcube's own log ("[17-Jan-2016 11:09:06 +0200]: ...") are read by
// ParseTime; the prefregex takes what is left after it (": ...") as fail2ban takes "[]: ...".
const roundcubeConf = `
[Definition]
_word = (?:[^f\s]\S*|f(?:[^r\s]\S*)?|fr(?:[^o\s]\S*)?|fro(?:[^m\s]\S*)?|from\S+)
_reply = (?:%(_word)s(?:\s+%(_word)s)*)?

prefregex = ^\s*(?:\[\])?(?:%(__hostname)s\s*(?:roundcube(?:\[\d*\])?:)?\s*(?:<\w+>)? IMAP Error)?: <F-CONTENT>.+</F-CONTENT>$

failregex = ^(?:FAILED login|Login failed) for <F-USER>[^()]*</F-USER> from <HOST>(?:(?:\([^\)]*\))?\. %(_reply)s(?: user=.*)? in \S+\.php on line \d+ \(\S+ \S+\))?$
            ^(?:<\w+> )?Failed login for <F-USER>.*</F-USER> from <HOST> in session \w+(?: \(error: \d\))?$

ignoreregex = Could not connect to .* Connection refused
`
