// Package netnstest runs firewall tests inside a private network namespace, so that the iptables they run never see the host's rules.
//
// A package whose tests run iptables calls Main from TestMain:
//
//	func TestMain(m *testing.M) { netnstest.Main(m) }
//
// and each such test starts with Require (or Isolate). Tests that do not
// call them run everywhere.
package netnstest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
)

const (
	// EnvInNetns marks the test process Main re-executed under unshare -n.
	EnvInNetns = "FAIL2BAN_SCAN_IN_NETNS"
	// EnvRequire set to 1 (as in CI) turns Require's skip into a failure.
	EnvRequire = "FAIL2BAN_SCAN_REQUIRE_NETNS"
	// EnvOuter holds the namespace Main started in ("net:[4026531833]");
	// a script that runs a program under unshare -n sets it likewise,
	// for when /proc/1/ns/net cannot be read.
	EnvOuter = "FAIL2BAN_SCAN_OUTER_NETNS"
)

// Main runs the tests. When not yet re-executed (EnvInNetns unset), running
// as root, and "unshare -n" works, it replaces the process with
// "unshare -n -- <test binary> <args>", so the whole test process and every
// command it starts live in a new, empty network namespace. Otherwise it runs
// the tests here; Require then skips the tests that need the namespace.
func Main(m *testing.M) {
	if os.Getenv(EnvInNetns) == "" {
		if unshare, err := canUnshare(); err == nil {
			if exe, err := os.Executable(); err == nil {
				argv := append([]string{"unshare", "-n", "--", exe}, os.Args[1:]...)
				env := append(os.Environ(), EnvInNetns+"=1")
				if outer, err := os.Readlink("/proc/self/ns/net"); err == nil {
					env = append(env, EnvOuter+"="+outer)
				}
				err = syscall.Exec(unshare, argv, env)
				fmt.Fprintf(os.Stderr, "netnstest: exec %s: %v; running without a private network namespace\n", unshare, err)
			}
		}
	}
	os.Exit(m.Run())
}

// canUnshare returns the path of unshare when this process may create a
// network namespace with it.
func canUnshare() (string, error) {
	if os.Geteuid() != 0 {
		return "", errors.New("not running as root")
	}
	unshare, err := lookPath("unshare")
	if err != nil {
		return "", err
	}
	if out, err := exec.Command(unshare, "-n", "true").CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s -n true: %w: %s", unshare, err, out)
	}
	return unshare, nil
}

// lookPath looks in $PATH, then in the sbin directories.
func lookPath(cmd string) (string, error) {
	if p, err := exec.LookPath(cmd); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		if p, err := exec.LookPath(filepath.Join(d, cmd)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", cmd)
}

// Check returns nil when this process, and the calling thread, are in a
// network namespace that is neither PID 1's nor the one Main started in, and
// has no interface but lo (a fresh one), and iptables is installed;
// otherwise it says why not.
func Check() error {
	var outer []string
	host, hostErr := os.Readlink("/proc/1/ns/net")
	if hostErr == nil {
		outer = append(outer, host)
	}
	if ns := os.Getenv(EnvOuter); ns != "" {
		outer = append(outer, ns)
	}
	if len(outer) == 0 {
		why := "not re-executed by netnstest.Main (is it called from TestMain?)"
		if _, err := canUnshare(); err != nil {
			why = err.Error()
		}
		return fmt.Errorf("cannot tell the host's network namespace (%v) and %s", hostErr, why)
	}
	for _, self := range []string{"/proc/self", "/proc/thread-self"} {
		ns, err := os.Readlink(self + "/ns/net")
		if err != nil {
			return fmt.Errorf("cannot tell this process's network namespace: %w", err)
		}
		if slices.Contains(outer, ns) {
			return fmt.Errorf("%s/ns/net is the host's network namespace %s", self, ns)
		}
		dev, err := os.ReadFile(self + "/net/dev")
		if err != nil {
			return fmt.Errorf("cannot list this network namespace's interfaces: %w", err)
		}
		lines := strings.Split(string(dev), "\n")
		for _, l := range lines[min(2, len(lines)):] { // after the two header lines
			if name, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && name != "lo" {
				return fmt.Errorf("network namespace %s has interface %s: not a fresh one", ns, name)
			}
		}
	}
	if _, err := lookPath("iptables"); err != nil {
		return err
	}
	return nil
}

// Require skips the test unless Check passes; with EnvRequire=1 it fails it
// instead.
func Require(t testing.TB) {
	t.Helper()
	if err := Check(); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("needs a private network namespace with iptables (%s=1): %v", EnvRequire, err)
		}
		t.Skipf("needs a private network namespace with iptables: %v (run as root where unshare -n works; %s=1 makes this a failure)", err, EnvRequire)
	}
}

// Isolate calls Require, then moves the calling goroutine's thread into a
// new, empty network namespace of its own, so that the test starts from
// empty tables whatever other tests left behind. Only commands started from
// this goroutine run there; the thread stays locked and is discarded when
// the test's goroutine ends.
func Isolate(t testing.TB) {
	t.Helper()
	Require(t)
	runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
	before, _ := os.Readlink("/proc/thread-self/ns/net")
	if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
		t.Fatalf("unshare(CLONE_NEWNET): %v", err)
	}
	after, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil || after == before {
		t.Fatalf("unshare(CLONE_NEWNET) left the thread in %s (%v)", after, err)
	}
}
