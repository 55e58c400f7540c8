package rules

// nginxHTTPAuthConf is fail2ban 1.0.2's filter.d/nginx-http-auth.conf, unchanged: it is RE2
// already. The user name (the client's) comes before the address, and what follows the
// address ("server: \S*, request: "\S+ \S+ HTTP/d.d", host: "\S+"" to the end of the line)
// has no room for a blank, so a user name that imitates the tail cannot be taken for it.
// nginx's error log is not syslog: ParseTime reads its "2012/04/09 11:53:29" stamps.
//
// Modes: normal (the default) and auth: wrong user or password; fallback: TLS handshakes
// with a record too long or too short (port scans); aggressive: both.
const nginxHTTPAuthConf = `
[Definition]
mode = normal

mdre-auth = ^\s*\[error\] \d+#\d+: \*\d+ user "(?:[^"]+|.*?)":? (?:password mismatch|was not found in "[^\"]*"), client: <HOST>, server: \S*, request: "\S+ \S+ HTTP/\d+\.\d+", host: "\S+"(?:, referrer: "\S+")?\s*$
mdre-fallback = ^\s*\[crit\] \d+#\d+: \*\d+ SSL_do_handshake\(\) failed \(SSL: error:\S+(?: \S+){1,3} too (?:long|short)\)[^,]*, client: <HOST>
mdre-normal = %(mdre-auth)s
mdre-aggressive = %(mdre-auth)s
                  %(mdre-fallback)s

failregex = <mdre-<mode>>

ignoreregex =
`
