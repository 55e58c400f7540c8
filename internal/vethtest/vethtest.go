// Package vethtest proves bans with real packets: a second network namespace joined to the test's by a veth pair, a TCP server on our side and clients on the other.
//
// Inside the namespace of netnstest.Isolate (the calling goroutine's locked
// thread), Setup builds:
//
//	test's namespace                        peer namespace (held by "unshare -n cat")
//	veth0 192.0.2.1/24, 2001:db8::1/64  <->  veth1 192.0.2.10, .11/24, 2001:db8::10, ::11/64
//	TCP server on port 25 (IPv4 and IPv6)
//
// and Dial connects from one client address on the peer's side. Check
// turns a firewall's work into the outcome each client must see, so that
// every banaction (iptables, ipset, nftables) is proved the same way: see
// Enforced.
package vethtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"testing"
	"time"
)

// Addresses of the two sides. Banned* are meant to be banned, Other* not.
var (
	Server4       = netip.MustParseAddr("192.0.2.1")
	Server6       = netip.MustParseAddr("2001:db8::1")
	Banned4       = netip.MustParseAddr("192.0.2.10")
	Other4        = netip.MustParseAddr("192.0.2.11")
	Banned6       = netip.MustParseAddr("2001:db8::10")
	Other6        = netip.MustParseAddr("2001:db8::11")
	Port          = 25
	DropTimeout   = 2 * time.Second // how long a dropped SYN is waited for (a first IPv6 SYN or ICMPv6 error is sometimes retried after 1 s)
	setupCommands = [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", "192.0.2.1/24", "dev", "veth0"},
		{"addr", "add", "2001:db8::1/64", "dev", "veth0", "nodad"},
		{"link", "set", "veth0", "up"},
	}
	peerCommands = [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", "192.0.2.10/24", "dev", "veth1"},
		{"addr", "add", "192.0.2.11/24", "dev", "veth1"},
		{"addr", "add", "2001:db8::10/64", "dev", "veth1", "nodad"},
		{"addr", "add", "2001:db8::11/64", "dev", "veth1", "nodad"},
		{"link", "set", "veth1", "up"},
	}
)

// Outcome is what a client's connection attempt met.
type Outcome int

const (
	Connected Outcome = iota
	Refused           // a TCP RST or ICMP port unreachable: REJECT
	TimedOut          // no answer within DropTimeout: DROP
	Failed            // anything else
)

func (o Outcome) String() string {
	return [...]string{"connected", "refused", "timed out", "failed"}[o]
}

// Net is the pair of namespaces.
type Net struct {
	peerNS *os.File // the peer's /proc/PID/ns/net
}

// Setup builds the pair and starts the server. It must be called from the
// goroutine netnstest.Isolate moved into a fresh namespace; the peer and the
// server go away with the test.
func Setup(t testing.TB) *Net {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if err != nil {
		if ip, err = exec.LookPath("/usr/sbin/ip"); err != nil {
			t.Fatalf("vethtest: ip (iproute2) not found: %v", err)
		}
	}
	// The peer namespace lives as long as this cat reads its stdin.
	holder := exec.Command("unshare", "-n", "cat")
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatalf("vethtest: start the peer namespace: %v", err)
	}
	t.Cleanup(func() { stdin.Close(); _ = holder.Wait() })
	pid := holder.Process.Pid
	// unshare execs cat once the namespace is made: wait until the child's
	// namespace differs from ours (bounded, no sleep: each read yields).
	self, _ := os.Readlink("/proc/thread-self/ns/net")
	deadline := time.Now().Add(5 * time.Second)
	for {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err == nil && ns != self {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vethtest: the peer (pid %d) has no namespace of its own after 5 s", pid)
		}
		runtime.Gosched()
	}
	n := &Net{}
	if n.peerNS, err = os.Open(fmt.Sprintf("/proc/%d/ns/net", pid)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.peerNS.Close() })

	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("vethtest: ip %v: %v: %s", args, err, out)
		}
	}
	run("link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", fmt.Sprint(pid))
	for _, c := range setupCommands {
		run(c...)
	}
	if err := n.inPeer(func() error {
		for _, c := range peerCommands {
			if out, err := exec.Command(ip, c...).CombinedOutput(); err != nil {
				return fmt.Errorf("ip %v in the peer: %w: %s", c, err, out)
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("vethtest: %v", err)
	}

	// The server: this goroutine's thread is in the test's namespace, so the
	// socket is made there.
	ln, err := net.Listen("tcp", fmt.Sprintf("[::]:%d", Port))
	if err != nil {
		t.Fatalf("vethtest: listen: %v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// Every client connects before the test starts: a link just made can lose the first
	// IPv6 connection (seen now and then, a "before any ban" check timing out), which is
	// the set-up's doing, not the firewall's.
	deadline = time.Now().Add(10 * time.Second)
	for _, src := range []netip.Addr{Banned4, Other4, Banned6, Other6} {
		for {
			out, err := n.Dial(src)
			if out == Connected {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("vethtest: %s cannot reach the server after 10 s: %s (%v)", src, out, err)
			}
		}
	}
	return n
}

// inPeer runs f on a thread of its own moved into the peer's namespace;
// commands f starts run there too. The thread is never given back: it ends
// with its goroutine.
func (n *Net) inPeer(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(n.peerNS.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns to the peer: %w", err)
			return
		}
		done <- f()
	}()
	return <-done
}

// Dial connects from src, a client address, to the server's port in the
// same family, and says what it met.
func (n *Net) Dial(src netip.Addr) (Outcome, error) {
	dst := Server4
	if src.Is6() {
		dst = Server6
	}
	var out Outcome
	err := n.inPeer(func() error {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: DropTimeout}
		var ne net.Error
		c, err := d.Dial("tcp", netip.AddrPortFrom(dst, uint16(Port)).String())
		switch {
		case err == nil:
			_, _ = io.Copy(io.Discard, c) // the server closes at once
			c.Close()
			out = Connected
		case errors.Is(err, syscall.ECONNREFUSED):
			out = Refused
		case errors.As(err, &ne) && ne.Timeout():
			out = TimedOut
		default:
			out = Failed
			return err
		}
		return nil
	})
	return out, err
}

// Expect dials from every client at once and fails t for each one whose
// outcome is not want's.
func (n *Net) Expect(t testing.TB, what string, want map[netip.Addr]Outcome) {
	t.Helper()
	type result struct {
		src netip.Addr
		out Outcome
		err error
	}
	start := time.Now()
	defer func() {
		t.Logf("%s: %d clients checked in %v", what, len(want), time.Since(start).Round(time.Millisecond))
	}()
	results := make(chan result, len(want))
	for src := range want {
		go func() {
			s := time.Now()
			out, err := n.Dial(src)
			t.Logf("  %s: %s in %v", src, out, time.Since(s).Round(time.Millisecond))
			results <- result{src, out, err}
		}()
	}
	for range want {
		r := <-results
		if r.out != want[r.src] {
			t.Errorf("%s: %s -> port %d: %s (%v), want %s", what, r.src, Port, r.out, r.err, want[r.src])
		}
	}
}

// Enforced is the proof for one firewall: ban bans Banned4 and Banned6 with
// blockType (REJECT or DROP) and leaves Other4 and Other6 alone; flush undoes
// by hand what a scan must heal (ipset flush, iptables -F). It checks with
// real connections that the banned addresses are refused (REJECT) or get no
// answer (DROP) and the others connect; that after flush the banned connect
// again (so the check can fail); and that after ban again, as the next scan,
// they are blocked again.
func (n *Net) Enforced(t testing.TB, blockType string, ban func() error, flush func() error) {
	t.Helper()
	blocked := Refused
	if blockType == "DROP" {
		blocked = TimedOut
	}
	n.Expect(t, "before any ban", map[netip.Addr]Outcome{Banned4: Connected, Other4: Connected, Banned6: Connected, Other6: Connected})
	if err := ban(); err != nil {
		t.Fatalf("ban: %v", err)
	}
	want := map[netip.Addr]Outcome{Banned4: blocked, Other4: Connected, Banned6: blocked, Other6: Connected}
	n.Expect(t, "banned", want)
	if err := flush(); err != nil {
		t.Fatalf("flush by hand: %v", err)
	}
	n.Expect(t, "flushed by hand", map[netip.Addr]Outcome{Banned4: Connected, Other4: Connected, Banned6: Connected, Other6: Connected})
	if err := ban(); err != nil {
		t.Fatalf("heal: %v", err)
	}
	n.Expect(t, "healed", want)
}
