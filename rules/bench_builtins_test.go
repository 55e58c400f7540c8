package rules

import "testing"

// BenchmarkBuiltinMatch: failure lines and an unrelated line of each new built-in, through
// Filter.Match and, for sshd, through a Session (its connection memory). The hot failures
// have hand-written matchers (see builtinMatcher); the literal prefilter turns most other
// lines away.
func BenchmarkBuiltinMatch(b *testing.B) {
	for _, bc := range []struct{ name, spec, hit, miss string }{
		{"dovecot-auth-failed", "dovecot", "Jul 02 13:49:31 mail dovecot: imap-login: Aborted login (auth failed, 1 attempts): user=<test>, method=PLAIN, rip=192.0.2.13, lip=203.0.113.17, TLS, session=<YADINsQCDs5BH8Pg>",
			"Jul 02 13:49:31 mail dovecot: imap-login: Login: user=<test>, method=PLAIN, rip=192.0.2.13, lip=203.0.113.17, mpid=1, TLS, session=<YADINsQCDs5BH8Pg>"},
		{"sshd-invalid-user", "sshd", "Aug 15 22:34:53 mail sshd[4242]: Invalid user admin from 192.0.2.7 port 4711",
			"Aug 15 22:34:53 mail sshd[4242]: Received disconnect from 192.0.2.7 port 4711:11: Bye Bye [preauth]"},
		{"sshd-failed-password", "sshd", "Aug 15 22:34:53 mail sshd[4242]: Failed password for root from 192.0.2.7 port 4711 ssh2",
			"Aug 15 22:34:53 mail sshd[4242]: Accepted publickey for root from 192.0.2.8 port 4711 ssh2: RSA SHA256:v3dpapGleDaUKf"},
		{"dovecot", "dovecot", "Jul 02 13:49:31 mail dovecot[442]: pop3-login: Aborted login (auth failed, 1 attempts in 17 secs): user=<test>, method=PLAIN, rip=192.0.2.13, lip=203.0.113.17, session=<YADINsQCDs5BH8Pg>",
			"Jul 02 13:49:31 mail dovecot[442]: imap(test)<1234><abc>: Logged out in=50 out=800"},
		{"roundcube", "roundcube-auth", "[17-Jan-2016 11:09:06 +0200]: <j2pncet8> IMAP Error: Login failed for user@example.com from 192.0.2.2. AUTHENTICATE PLAIN: Authentication failed. in /usr/share/roundcubemail/program/lib/Roundcube/rcube_imap.php on line 197 (POST /?_task=login&_action=login)",
			"[17-Jan-2016 11:09:06 +0200]: <j2pncet8> Successful login for user@example.com (ID: 1) from 192.0.2.2 in session abc"},
		{"nginx", "nginx-http-auth", `2012/04/09 11:53:36 [error] 2865#0: *66647 user "xyz": password mismatch, client: 192.0.43.10, server: www.myhost.com, request: "GET / HTTP/1.1", host: "www.myhost.com"`,
			`2012/04/09 11:53:36 [error] 2865#0: *66647 open() "/var/www/favicon.ico" failed (2: No such file or directory), client: 192.0.43.10, server: www.myhost.com`},
		{"sshd", "sshd", "Aug 15 22:34:53 mail sshd[4242]: Failed password for invalid user admin from 192.0.2.7 port 4711 ssh2",
			"Aug 15 22:34:53 mail sshd[4242]: pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)"},
	} {
		f := mustFilter(b, bc.spec, nil, nil, nil)
		for _, l := range []struct{ kind, line string }{{"hit", bc.hit}, {"miss", bc.miss}} {
			line := []byte(l.line)
			b.Run(bc.name+"/"+l.kind, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					f.Match(line)
				}
			})
			if bc.spec == "sshd" {
				s := f.NewSession()
				b.Run(bc.name+"/session-"+l.kind, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						s.Match(line)
					}
				})
			}
		}
	}
}
