// Command fwbench times fw.Reconcile against one iptables process per ban; bench/fw.sh runs it inside unshare -n.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/coreos/go-iptables/iptables"

	"github.com/fail2ban-scan/fail2ban-scan/fw"
	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

func main() {
	n := flag.Int("n", 10000, "number of bans")
	bin := flag.String("iptables", "iptables", "iptables command (e.g. iptables-legacy); ip6tables is derived by name")
	flag.Parse()
	if err := run(*n, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "fwbench:", err)
		os.Exit(1)
	}
}

// rounds of Reconcile timings; the per-IP baseline runs once (it takes seconds).
const rounds = 9

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func run(n int, bin string) error {
	// Never change the host's tables.
	if err := netnstest.Check(); err != nil {
		return fmt.Errorf("refusing to run outside a fresh network namespace: %w", err)
	}
	bans := make([]netip.Prefix, n)
	for i := range bans {
		bans[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}

	// Baseline: what fail2ban's iptables action does, one process per IP
	// (iptables -w -I f2b-J 1 -s IP -j REJECT ...), run through go-iptables.
	ipt, err := iptables.New(iptables.Path(bin))
	if err != nil {
		return err
	}
	const base = "f2b-baseline"
	if err := ipt.NewChain("filter", base); err != nil {
		return err
	}
	start := time.Now()
	for _, p := range bans {
		if err := ipt.Insert("filter", base, 1, "-s", p.Addr().String(), "-j", "REJECT", "--reject-with", "icmp-port-unreachable"); err != nil {
			return err
		}
	}
	perIP := time.Since(start)
	if err := ipt.ClearAndDeleteChain("filter", base); err != nil {
		return err
	}

	// A fresh namespace for Reconcile, so that the baseline's leftovers
	// cannot slow it down. Every process below is started from this
	// goroutine, now locked to the thread that owns the namespace.
	runtime.LockOSThread()
	if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
	}

	// Reconcile: first with every ban new, then a rerun with nothing new;
	// the median of rounds, each from an empty table.
	f := fw.New(fw.Options{IPTables: bin, IP6Tables: "ip6" + bin[len("ip"):]})
	ctx := context.Background()
	jails := []fw.Jail{{Name: "bench", Ports: []string{"smtp", "465", "submission"}, Protocol: "tcp", Bans: bans}}
	binPath, err := exec.LookPath(bin)
	if err != nil {
		return err
	}
	saveCmd := binPath + "-save"
	var firsts, reruns, saves []time.Duration
	for range rounds {
		start = time.Now()
		plan, err := f.Reconcile(ctx, jails, nil, false)
		firsts = append(firsts, time.Since(start))
		if err != nil {
			return err
		}
		if got := len(plan.Families[fw.IPv4].Ops); got != n+3 {
			return fmt.Errorf("first Reconcile made %d changes, want %d", got, n+3)
		}
		start = time.Now()
		plan, err = f.Reconcile(ctx, jails, nil, false)
		reruns = append(reruns, time.Since(start))
		if err != nil {
			return err
		}
		if !plan.Empty() {
			return fmt.Errorf("rerun was not a no-op:\n%s", plan)
		}
		// What a rerun cannot avoid: iptables-save reading the 10k rules.
		start = time.Now()
		if out, err := exec.Command(saveCmd, "-t", "filter").CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", saveCmd, err, out)
		}
		saves = append(saves, time.Since(start))
		if _, err := f.Flush(ctx, []string{"bench"}); err != nil {
			return err
		}
	}
	first, rerun, save := median(firsts), median(reruns), median(saves)

	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	speedup := float64(perIP) / float64(first)
	rerunRatio := float64(rerun) / float64(first)
	fmt.Printf("backend:                 %s\n", bin)
	fmt.Printf("%d x iptables -I:     %s\n", n, ms(perIP))
	fmt.Printf("Reconcile, %d new:    %s (median of %d)\n", n, ms(first), rounds)
	fmt.Printf("Reconcile, nothing new:  %s (median of %d)\n", ms(rerun), rounds)
	fmt.Printf("speed-up per-IP/first:   %.1fx (goal >= 50x: %s)\n", speedup, verdict(speedup >= 50))
	fmt.Printf("rerun/first:             %.2f (goal <= 0.5: %s)\n", rerunRatio, verdict(rerunRatio <= 0.5))
	fmt.Printf("  of which %s -t filter alone: %s, i.e. %.2f of first\n", filepath.Base(saveCmd), ms(save), float64(save)/float64(first))
	return nil
}
