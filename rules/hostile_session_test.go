package rules

import (
	"fmt"
	"testing"
)

// TestHostileSessions: the sshd connection memory (Session) never blames anyone but the real
// client. Every hostile line is fed to a session of every built-in, then a failure line
// without an address of the same connection, which takes the address the memory holds: it
// must be the line's real client or none. Then sequences aimed at the memory itself.
func TestHostileSessions(t *testing.T) {
	const (
		pfx       = "Aug 15 22:34:53 mail sshd[4242]: "
		tooMany   = pfx + "Disconnecting: Too many authentication failures [preauth]"
		otherConn = "Aug 15 22:34:53 mail sshd[4243]: "
	)
	for _, spec := range builtinSpecs {
		f := mustFilter(t, spec, nil, nil, nil)
		for _, tc := range hostileCases() {
			s := f.NewSession()
			for i, line := range []string{tc.line, tooMany} {
				res, host, idx := s.Match([]byte(line))
				if res != Miss && (tc.host == "" || host.String() != tc.host) {
					t.Errorf("%s: %s/%s: line %d: Match = %v %v (pattern %d), want the real client %q or a miss\n  %q", spec, tc.class, tc.name, i, res, host, idx, tc.host, line)
				}
			}
		}
	}

	sequences := []struct {
		name  string
		lines []string
		want  []string // per line: the host reported, "" a miss
		specs []string
	}{
		{"another connection's address", []string{
			pfx + "Connection from " + victim + " port 1 on 192.0.2.1 port 22",
			otherConn + "Disconnecting: Too many authentication failures [preauth]",
			otherConn + "Connection closed by " + attacker + " port 4711 [preauth]",
		}, []string{"", "", attacker}, []string{"sshd"}},
		{"no pid, no memory", []string{
			"Aug 15 22:34:53 mail sshd: Connection from " + victim + " port 1 on 192.0.2.1 port 22",
			"Aug 15 22:34:53 mail sshd: Disconnecting: Too many authentication failures [preauth]",
		}, []string{"", ""}, builtinSpecs},
		{"pam rhost twice", []string{
			pfx + "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" + attacker + " user=a rhost=" + victim,
			pfx + "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" + attacker + " user=b rhost=" + victim,
			tooMany,
		}, []string{"", "", ""}, builtinSpecs},
		{"closed by a user named like an address", []string{
			tooMany,
			pfx + "Connection closed by invalid user x " + victim + " port 1 [preauth] " + attacker + " port 4711",
		}, []string{"", ""}, []string{"sshd", "sshd[mode=extra]", "sshd[publickey=any]"}},
		{"accepted user named like an address", []string{
			pfx + "Failed password for root from " + attacker + " port 4711 ssh2",
			pfx + "Accepted password for x from " + victim + " port 1 ssh2 from " + attacker + " port 4711 ssh2",
		}, []string{attacker, ""}, []string{"sshd"}},
		{"pending failure forgotten by a close", []string{
			tooMany,
			pfx + "Received disconnect from " + attacker + " port 4711:11: Bye Bye [preauth]",
			pfx + "Connection from " + victim + " port 1 on 192.0.2.1 port 22",
			pfx + "Connection closed by " + victim + " port 1",
		}, []string{"", attacker, "", ""}, []string{"sshd"}},
	}
	for _, sq := range sequences {
		for _, spec := range sq.specs {
			s := mustFilter(t, spec, nil, nil, nil).NewSession()
			for i, line := range sq.lines {
				res, host, _ := s.Match([]byte(line))
				got := ""
				if res == Match {
					got = host.String()
				}
				if got != sq.want[i] {
					t.Errorf("%s: %s: line %d: got %q, want %q\n  %q", spec, sq.name, i, got, sq.want[i], line)
				}
			}
		}
	}
}

// TestSessionBounded: a flood of connections that never end keeps the memory at
// maxConnections, and the oldest are the ones dropped.
func TestSessionBounded(t *testing.T) {
	s := mustFilter(t, "sshd", nil, nil, nil).NewSession()
	n := 3 * maxConnections
	for i := 0; i < n; i++ {
		s.Match([]byte(fmt.Sprintf("Aug 15 22:34:53 mail sshd[%d]: Disconnecting: Too many authentication failures [preauth]", i)))
		if len(s.mem.conns) > maxConnections || len(s.mem.order) > 2*maxConnections+1 {
			t.Fatalf("after %d connections: %d remembered, %d in order; want at most %d", i+1, len(s.mem.conns), len(s.mem.order), maxConnections)
		}
	}
	closed := func(pid int) string {
		res, host, _ := s.Match([]byte(fmt.Sprintf("Aug 15 22:34:54 mail sshd[%d]: Connection closed by %s port 1 [preauth]", pid, attacker)))
		if res != Match {
			return ""
		}
		return host.String()
	}
	if got := closed(0); got != "" {
		t.Errorf("oldest connection: got %q, want it dropped (a miss)", got)
	}
	if got := closed(n - 1); got != attacker {
		t.Errorf("newest connection: got %q, want %s", got, attacker)
	}
}
