package fail2ban

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireEnv set to 1 (as in CI) turns the skips for a missing fail2ban
// (fail2ban-server, and python3 that it runs on) into failures.
const requireEnv = "FAIL2BAN_SCAN_REQUIRE_FAIL2BAN"

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%s required (%s=1): %v", name, requireEnv, err)
		}
		t.Skipf("%s not installed (install fail2ban, or set %s=1 to make this a failure): %v", name, requireEnv, err)
	}
	return p
}

// server is a real fail2ban-server running in the foreground.
type server struct {
	socket string
	cmd    *exec.Cmd
	exited chan error // receives Wait's result once
}

// startServer starts fail2ban-server with its own configuration in a temp
// dir: a jail per name, polling one empty log file, with no actions (it never
// touches a firewall), database in memory. It returns once the server has
// loaded its jails (it printed "Server ready"), and kills it at the end of
// the test.
func startServer(t *testing.T, jails ...string) *server {
	t.Helper()
	bin := requireTool(t, "fail2ban-server")
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	logFile := filepath.Join(dir, "mail.log")
	serverLog := filepath.Join(dir, "fail2ban.log")
	s := &server{socket: filepath.Join(dir, "f2b.sock"), exited: make(chan error, 1)}
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
`, serverLog, s.socket, pidFile)
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
	s.cmd = exec.Command(bin, "-f", "-x", "-c", conf, "-s", s.socket, "-p", pidFile, "--logtarget", serverLog)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.cmd, err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() { s.kill(t) })

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

// kill sends SIGKILL, as a crash would, and waits for the process to end.
func (s *server) kill(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGKILL)
	err := <-s.exited
	s.exited <- err
}

func TestRunningJailsRealServer(t *testing.T) {
	s := startServer(t, "sshd-test", "postfix-sasl", "dovecot")
	jails, running, err := RunningJails(context.Background(), s.socket)
	if err != nil || !running {
		t.Fatalf("RunningJails(%s) = %q, running %v, error %v; want the jails, running", s.socket, jails, running, err)
	}
	if want := []string{"dovecot", "postfix-sasl", "sshd-test"}; !slices.Equal(jails, want) {
		t.Fatalf("RunningJails(%s) = %q, want %q", s.socket, jails, want)
	}
	if got, want := Clashes([]string{"postfix-rbl", "postfix-sasl"}, jails), []string{"postfix-sasl"}; !slices.Equal(got, want) {
		t.Errorf("Clashes = %q, want %q", got, want)
	}
	// Asked twice over fresh connections: the first one was closed cleanly.
	if again, _, err := RunningJails(context.Background(), s.socket); err != nil || !slices.Equal(again, jails) {
		t.Errorf("second RunningJails = %q, %v; want %q", again, err, jails)
	}

	// Killed, fail2ban leaves its socket file behind, and nobody listens.
	s.kill(t)
	if _, err := os.Stat(s.socket); err != nil {
		t.Fatalf("after SIGKILL: %v; want the stale socket file kept", err)
	}
	jails, running, err = RunningJails(context.Background(), s.socket)
	if err != nil || running || jails != nil {
		t.Errorf("RunningJails(%s) after SIGKILL = %q, running %v, error %v; want not running, no error", s.socket, jails, running, err)
	}
}

func TestRunningJailsRealServerNoJails(t *testing.T) {
	s := startServer(t)
	jails, running, err := RunningJails(context.Background(), s.socket)
	if err != nil || !running || len(jails) != 0 {
		t.Fatalf("RunningJails(%s) = %q, running %v, error %v; want no jails, running", s.socket, jails, running, err)
	}
}

// staleSocket returns the path of a unix socket file whose listener is
// closed: what a killed server leaves.
func staleSocket(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("stale socket %s: %v, %v", path, fi, err)
	}
	return path
}

func TestRunningJailsNotRunning(t *testing.T) {
	for _, tc := range []struct {
		name   string
		socket func(t *testing.T) string
	}{
		{"missing socket", func(t *testing.T) string { return filepath.Join(t.TempDir(), "fail2ban.sock") }},
		{"missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "run", "fail2ban", "fail2ban.sock") }},
		{"stale socket", staleSocket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			socket := tc.socket(t)
			jails, running, err := RunningJails(context.Background(), socket)
			if err != nil || running || jails != nil {
				t.Errorf("RunningJails(%s) = %q, running %v, error %v; want not running, no error", socket, jails, running, err)
			}
		})
	}
}

// listen serves each connection on a real unix socket with answer, and
// returns the socket's path.
func listen(t *testing.T, answer func(net.Conn)) string {
	path := filepath.Join(t.TempDir(), "f2b.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				answer(c)
			}()
		}
	}()
	return path
}

// silent accepts, reads what comes, and never answers.
func silent(c net.Conn) { io.Copy(io.Discard, c) }

func TestRunningJailsTimeout(t *testing.T) {
	socket := listen(t, silent)
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"caller's deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}},
		{"own bound", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			jails, running, err := RunningJails(ctx, socket)
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), socket) {
				t.Fatalf("RunningJails(%s) error = %v, want a deadline error naming the socket", socket, err)
			}
			if !running || jails != nil {
				t.Errorf("RunningJails(%s) = %q, running %v; want no jails, running", socket, jails, running)
			}
		})
	}
}

func TestRunningJailsBadReply(t *testing.T) {
	end := string(endMarker)
	for _, tc := range []struct {
		name, reply, wantErr string
	}{
		{"closed", "", "connection closed after 0 bytes"},
		{"cut short", "\x80\x05\x95", "connection closed after 3 bytes"},
		{"not pickle", "nonsense" + end, "unsupported opcode 0x6e"},
		// pickle.dumps("ERROR: x", 5), as asyncserver.py answers a bad request
		{"protocol error", "\x80\x05\x95\x0c\x00\x00\x00\x00\x00\x00\x00\x8c\x08ERROR: x\x94." + end, `status answered "ERROR: x"`},
		// pickle.dumps((1, "x"), 5)
		{"command failed", "\x80\x05\x95\x09\x00\x00\x00\x00\x00\x00\x00K\x01\x8c\x01x\x94\x86\x94." + end, `status failed: code 1, result "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			socket := listen(t, func(c net.Conn) {
				c.Read(make([]byte, 1024))
				io.WriteString(c, tc.reply)
			})
			jails, running, err := RunningJails(context.Background(), socket)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), socket) {
				t.Fatalf("RunningJails(%s) error = %v, want one naming the socket and containing %q", socket, err, tc.wantErr)
			}
			if !running || jails != nil {
				t.Errorf("RunningJails(%s) = %q, running %v; want no jails, running", socket, jails, running)
			}
		})
	}
}

func TestClashes(t *testing.T) {
	for _, tc := range []struct {
		name               string
		ours, theirs, want []string
	}{
		{"none", []string{"postfix"}, []string{"sshd"}, nil},
		{"no fail2ban jails", []string{"postfix"}, nil, nil},
		{"sorted", []string{"sshd", "postfix", "dovecot"}, []string{"postfix", "sshd"}, []string{"postfix", "sshd"}},
		{"each once", []string{"sshd", "sshd"}, []string{"sshd"}, []string{"sshd"}},
		{"exact names", []string{"SSHD", "sshd-x"}, []string{"sshd"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Clashes(tc.ours, tc.theirs); !slices.Equal(got, tc.want) {
				t.Errorf("Clashes(%q, %q) = %q, want %q", tc.ours, tc.theirs, got, tc.want)
			}
		})
	}
}
