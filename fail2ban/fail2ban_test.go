package fail2ban

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/fail2bantest"
)

func TestRunningJailsRealServer(t *testing.T) {
	s := fail2bantest.Start(t, "sshd-test", "postfix-sasl", "dovecot")
	jails, running, err := RunningJails(context.Background(), s.Socket)
	if err != nil || !running {
		t.Fatalf("RunningJails(%s) = %q, running %v, error %v; want the jails, running", s.Socket, jails, running, err)
	}
	if want := []string{"dovecot", "postfix-sasl", "sshd-test"}; !slices.Equal(jails, want) {
		t.Fatalf("RunningJails(%s) = %q, want %q", s.Socket, jails, want)
	}
	if got, want := Clashes([]string{"postfix-rbl", "postfix-sasl"}, jails), []string{"postfix-sasl"}; !slices.Equal(got, want) {
		t.Errorf("Clashes = %q, want %q", got, want)
	}
	// Asked twice over fresh connections: the first one was closed cleanly.
	if again, _, err := RunningJails(context.Background(), s.Socket); err != nil || !slices.Equal(again, jails) {
		t.Errorf("second RunningJails = %q, %v; want %q", again, err, jails)
	}

	// Killed, fail2ban leaves its socket file behind, and nobody listens.
	s.Kill(t)
	if _, err := os.Stat(s.Socket); err != nil {
		t.Fatalf("after SIGKILL: %v; want the stale socket file kept", err)
	}
	jails, running, err = RunningJails(context.Background(), s.Socket)
	if err != nil || running || jails != nil {
		t.Errorf("RunningJails(%s) after SIGKILL = %q, running %v, error %v; want not running, no error", s.Socket, jails, running, err)
	}
}

func TestRunningJailsRealServerNoJails(t *testing.T) {
	s := fail2bantest.Start(t)
	jails, running, err := RunningJails(context.Background(), s.Socket)
	if err != nil || !running || len(jails) != 0 {
		t.Fatalf("RunningJails(%s) = %q, running %v, error %v; want no jails, running", s.Socket, jails, running, err)
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
