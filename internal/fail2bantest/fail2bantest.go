// Package fail2bantest starts a real fail2ban-server for tests, with jails of its own and no
// actions, so that it never touches a firewall.
package fail2bantest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireEnv set to 1 (as in CI) turns the skips for a missing fail2ban
// (fail2ban-server, and python3 that it runs on) into failures.
const RequireEnv = "FAIL2BAN_SCAN_REQUIRE_FAIL2BAN"

// RequireTool returns the path of the named fail2ban program, or skips the test (fails it
// under RequireEnv=1).
func RequireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s required (%s=1): %v", name, RequireEnv, err)
		}
		t.Skipf("%s not installed (install fail2ban, or set %s=1 to make this a failure): %v", name, RequireEnv, err)
	}
	return p
}

// Server is a real fail2ban-server running in the foreground.
type Server struct {
	Socket string // the server's unix socket
	cmd    *exec.Cmd
	exited chan error // receives Wait's result once
}

// Start starts fail2ban-server with its own configuration in a temp
// dir: a jail per name, polling one empty log file, with no actions (it never
// touches a firewall), database in memory. It returns once the server has
// loaded its jails (it printed "Server ready"), and kills it at the end of
// the test.
func Start(t *testing.T, jails ...string) *Server {
	t.Helper()
	bin := RequireTool(t, "fail2ban-server")
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	logFile := filepath.Join(dir, "mail.log")
	serverLog := filepath.Join(dir, "fail2ban.log")
	s := &Server{Socket: filepath.Join(dir, "f2b.sock"), exited: make(chan error, 1)}
	pidFile := filepath.Join(dir, "f2b.pid")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mainConf := fmt.Sprintf(`[Definition]
loglevel = INFO
logtarget = %s
syslogsocket = auto
socket = %s
pidfile = %s
allowipv6 = auto
dbfile = :memory:
dbpurgeage = 1d
`, serverLog, s.Socket, pidFile)
	jailConf := fmt.Sprintf(`[DEFAULT]
backend = polling
logpath = %s
filter =
action =
banaction =
`, logFile)
	for _, j := range jails {
		jailConf += fmt.Sprintf("\n[%s]\nenabled = true\nfailregex = ^%s failure from <HOST>$\n", j, j)
	}
	for name, text := range map[string]string{"fail2ban.conf": mainConf, "jail.conf": jailConf} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// -f: foreground, so that the process is the server and can be killed;
	// -x: start even if a socket file is in the way.
	s.cmd = exec.Command(bin, "-f", "-x", "-c", conf, "-s", s.Socket, "-p", pidFile, "--logtarget", serverLog)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.cmd, err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() { s.Kill(t) })

	// The server's in-process client prints "Server ready" once it has sent
	// the whole configuration (fail2ban's own tests wait for it the same way).
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(out.Name())
		if strings.Contains(string(b), "Server ready") {
			return s
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			log, _ := os.ReadFile(serverLog)
			t.Fatalf("%s exited before ready: %v\nstdout:\n%s\nlog:\n%s", s.cmd, err, b, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(serverLog)
			t.Fatalf("%s not ready after 15s\nstdout:\n%s\nlog:\n%s", s.cmd, b, log)
		}
	}
}

// Kill sends SIGKILL, as a crash would, and waits for the process to end.
func (s *Server) Kill(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGKILL)
	err := <-s.exited
	s.exited <- err
}
