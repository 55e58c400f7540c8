package rules

// The hostile lines of the built-in filters for the rest of a mail server: each line is what
// the daemon writes when a client (attacker) chose its user name, HELO, URL or header, and
// that text imitates the daemon's own so that victim is read as the client. hostileCases
// appends them to the postfix table, and TestHostileLines runs every line against every
// built-in.
func hostileMailServerCases() []hostileCase {
	const (
		sshd  = "Aug 15 22:34:53 mail sshd[4242]: "
		dove  = "Aug 15 22:34:53 mail dovecot: "
		rc    = "Aug 15 22:34:53 mail roundcube: IMAP Error: "
		rcOwn = "[15-Aug-2026 22:34:53 +0200]: "
		ngx   = "2026/08/15 22:34:53 [error] 2865#0: *66647 "
		rcEnd = " in /usr/share/roundcube/program/lib/Roundcube/rcube_imap.php on line 200 (POST /?_task=login&_action=login)"
	)
	all := func(s ...string) []string { return s }
	sshdAll := all("sshd", "sshd[mode=ddos]", "sshd[mode=extra]", "sshd[mode=aggressive]")
	doveAll := all("dovecot", "dovecot[mode=aggressive]")
	ngxAuth := all("nginx-http-auth", "nginx-http-auth[mode=auth]", "nginx-http-auth[mode=aggressive]")
	return []hostileCase{
		// sshd: an invalid user's name is the client's, and may hold blanks and ": ".
		{"sshd user name", "invalid user, from in the name", sshd + "Invalid user x from " + victim + " from " + attacker + " port 4711", attacker, sshdAll},
		{"sshd user name", "invalid user, name ends like sshd's tail", sshd + "Invalid user x from " + victim + " port 22 from " + attacker + " port 4711", attacker, sshdAll},
		{"sshd user name", "invalid user, name is a whole line", sshd + "Invalid user Aug 15 22:34:53 mail sshd[1]: Invalid user x from " + victim + " port 22 from " + attacker + " port 4711", attacker, sshdAll},
		{"sshd user name", "failed password, from in the name", sshd + "Failed password for invalid user x from " + victim + " port 1 ssh2 from " + attacker + " port 4711 ssh2", attacker, sshdAll},
		{"sshd user name", "failed password, name imitates key info", sshd + "Failed password for invalid user x from " + victim + " port 1 ssh2: y from " + attacker + " port 4711 ssh2", attacker, sshdAll},
		{"sshd user name", "failed publickey, name imitates key info", sshd + "Failed publickey for invalid user x from " + victim + " port 1 ssh2: RSA from " + attacker + " port 4711 ssh2: RSA SHA256:v3dpapGleDaUKf", attacker, sshdAll},
		{"sshd user name", "failed none, name without blanks", sshd + "Failed none for invalid user " + victim + " from " + attacker + " port 4711 ssh2", attacker, sshdAll},
		{"sshd user name", "authentication failure", sshd + "error: PAM: Authentication failure for x from " + victim + " from " + attacker, attacker, sshdAll},
		{"sshd user name", "max attempts", sshd + "error: maximum authentication attempts exceeded for invalid user x from " + victim + " port 1 ssh2 from " + attacker + " port 4711 ssh2 [preauth]", attacker, sshdAll},
		{"sshd user name", "change of user name", sshd + "Disconnecting invalid user x " + victim + " port 1: Change of username or service not allowed: (a,b) -> (c,d) [preauth] " + attacker + " port 4711: Change of username or service not allowed: (x " + victim + " port 1: Change of username or service not allowed: (a,b) -> (c,d) [preauth],ssh-connection) -> (y,ssh-connection) [preauth]", "", nil},
		{"sshd user name", "closed by authenticating user", sshd + "Connection closed by authenticating user x " + victim + " port 1 [preauth] " + attacker + " port 4711 [preauth]", attacker, all("sshd[mode=ddos]", "sshd[mode=aggressive]")},
		{"sshd user name", "closed by invalid user, name ends in on", sshd + "Connection closed by invalid user x " + victim + " on " + attacker + " port 4711 [preauth]", attacker, nil},
		{"sshd user name", "disconnected invalid user, name ends in on", sshd + "Disconnected from invalid user x " + victim + " on " + attacker + " port 4711 [preauth]", attacker, nil},
		{"sshd user name", "disconnected invalid user", sshd + "Disconnected from invalid user x " + victim + " port 1 [preauth] " + attacker + " port 4711 [preauth]", attacker, all("sshd[mode=extra]")},
		{"sshd ident", "bad protocol version", sshd + "Bad protocol version identification 'x' from " + victim + " port 1' from " + attacker + " port 4711", attacker, all("sshd[mode=ddos]", "sshd[mode=aggressive]")},
		{"sshd ident", "tcp wrappers ident user", sshd + "refused connect from x (" + victim + ") y@" + attacker + " (" + attacker + ")", attacker, nil},
		{"sshd rfc 5424", "invalid user, from in the name", "<38>1 2026-08-15T22:34:53Z mail sshd 4242 - - Invalid user x from " + victim + " port 22 from " + attacker + " port 4711", attacker, sshdAll},
		{"sshd rfc 5424", "structured data then a user name", `<38>1 2026-08-15T22:34:53Z mail sshd 4242 - [x@1 a="b\"] Invalid user y from ` + victim + ` port 22"] Invalid user x from ` + victim + " port 22 from " + attacker + " port 4711", attacker, sshdAll},
		{"sshd fake prefix", "sshd quoted in another daemon", "Aug 15 22:34:53 mail dovecot: imap-login: sshd[1]: Invalid user x from " + victim + " port 22", "", nil},

		// dovecot: the user name in user=<...>, pam(...), passwd-file(...).
		{"dovecot user name", "rip in the user name", dove + "imap-login: Aborted login (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=" + victim + ", lip=192.0.2.1>, method=PLAIN, rip=" + attacker + ", lip=192.0.2.1, TLS, session=<abc>", attacker, doveAll},
		{"dovecot user name", "pam user with a comma", dove + "auth-worker(304): pam(x," + victim + "," + attacker + "): pam_authenticate() failed: Authentication failure (password mismatch?)", "", nil},
		{"dovecot user name", "passwd-file user with a parenthesis", dove + "auth: passwd-file(x," + victim + "): unknown user y," + attacker + "): unknown user", "", nil},
		{"dovecot user name", "pam_unix ruser with rhost", "Aug 15 22:34:53 mail auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=x rhost=" + victim + " rhost=" + attacker + "  user=x rhost=" + victim, "", nil},
		{"dovecot fake prefix", "dovecot quoted by sshd", sshd + "Invalid user imap-login: Aborted login (auth failed, 1 attempts): rip=" + victim + ", lip=1.2.3.4 from " + attacker + " port 1", attacker, sshdAll},

		// roundcube: the user name, and an X-Forwarded-For header after the address.
		{"roundcube user name", "from in the name", rc + "Login failed for x from " + victim + " from " + attacker + ". AUTHENTICATE PLAIN: Authentication failed." + rcEnd, attacker, all("roundcube-auth")},
		{"roundcube user name", "name imitates the tail", rc + "Login failed for x from " + victim + "." + rcEnd + " from " + attacker + ". AUTHENTICATE PLAIN: Authentication failed." + rcEnd, attacker, nil},
		{"roundcube user name", "own log, failed login", rcOwn + "Failed login for x from " + victim + " in session abc from " + attacker + " in session def (error: 0)", attacker, all("roundcube-auth")},
		{"roundcube header", "forwarded-for closes the parenthesis", rc + "Login failed for x from " + attacker + "(X-Forwarded-For: y) from " + victim + "(z). AUTHENTICATE PLAIN: Authentication failed." + rcEnd, "", nil},

		// nginx: the user name of basic authentication, the URL and the Host header.
		{"nginx user name", "name imitates the tail", ngx + `user "x": password mismatch, client: ` + victim + `, server: s, request: "GET / HTTP/1.1", host: "h": was not found in "/etc/nginx/.htpasswd", client: ` + attacker + `, server: www.example.org, request: "GET / HTTP/1.1", host: "www.example.org"`, attacker, ngxAuth},
		{"nginx URL", "request with the tail", ngx + `user "x": password mismatch, client: ` + attacker + `, server: www.example.org, request: "GET /?,client:` + victim + ` HTTP/1.1", host: "www.example.org"`, attacker, ngxAuth},
		{"nginx fake prefix", "nginx line in another daemon", sshd + `Invalid user [error] 1#0: *1 user "x": password mismatch, client: ` + victim + `, server: s, request: "GET / HTTP/1.1", host: "h" from ` + attacker + " port 1", attacker, sshdAll},
	}
}
