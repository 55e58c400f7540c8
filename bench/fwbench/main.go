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
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-iptables/iptables"

	"github.com/fail2ban-scan/fail2ban-scan/fw"
	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

func main() {
	n := flag.Int("n", 10000, "number of bans")
	bin := flag.String("iptables", "iptables", "iptables command (e.g. iptables-legacy); ip6tables is derived by name")
	lift := flag.Int("lift", 50000, "bans in the chain for the lift benchmarks (0: skip them)")
	capAll := flag.Int("cap-all", 0, "old way, lift all: time only the first this many -D (0: all)")
	capSpread := flag.Int("cap-spread", 0, "old way, lift 1 in 50: time only this many -D, spread over the whole chain (0: all)")
	flag.Parse()
	if err := run(*n, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "fwbench:", err)
		os.Exit(1)
	}
	if *lift == 0 {
		return
	}
	if err := runLift(*lift, *bin, *capAll, *capSpread); err != nil {
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
	var versions []time.Duration
	for range rounds {
		start = time.Now()
		if out, err := exec.Command(binPath, "--version").CombinedOutput(); err != nil {
			return fmt.Errorf("%s --version: %w: %s", binPath, err, out)
		}
		versions = append(versions, time.Since(start))
	}
	fmt.Printf("  (one %s --version would add %s, i.e. %.2f of first)\n", bin, ms(median(versions)), float64(median(versions))/float64(first))
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// runLift times lifting bans from a chain of n, the old way (one -D per ban
// in one iptables-restore, as fw did before it chose by cost) against
// Reconcile (which rewrites the chain when that is cheaper): every ban, and
// one in 50. The old way can take many minutes on nf_tables, so it is capped:
// only the first capAll -D of "every ban" (the top of the chain), and capSpread
// of the -D of "one in 50" taken evenly over the whole chain, are timed; its
// figures are then lower bounds.
// It runs in a namespace of its own, on this goroutine's locked thread.
func runLift(n int, bin string, capAll, capSpread int) error {
	if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
	}
	ctx := context.Background()
	f := fw.New(fw.Options{IPTables: bin, IP6Tables: "ip6" + bin[len("ip"):]})
	restore, err := exec.LookPath(bin + "-restore")
	if err != nil {
		return err
	}
	save, err := exec.LookPath(bin + "-save")
	if err != nil {
		return err
	}
	all := make([]netip.Prefix, n)
	for i := range all {
		all[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	jail := func(bans []netip.Prefix) []fw.Jail {
		return []fw.Jail{{Name: "bench", Ports: []string{"smtp"}, Protocol: "tcp", Bans: bans}}
	}
	setup := func() error {
		if _, err := f.Flush(ctx, []string{"bench"}); err != nil {
			return err
		}
		_, err := f.Reconcile(ctx, jail(all), nil, false)
		return err
	}
	// old reads the table and applies one -D per lifted ban in chain
	// order, as a run did before it chose by cost.
	old := func(lifted []netip.Prefix) (time.Duration, error) {
		if err := setup(); err != nil {
			return 0, err
		}
		var b strings.Builder
		b.WriteString("*filter\n")
		for _, p := range lifted {
			fmt.Fprintf(&b, "-D f2b-bench -s %s -j REJECT --reject-with icmp-port-unreachable\n", p)
		}
		b.WriteString("COMMIT\n")
		cmd := exec.Command(restore, "--noflush", "-w")
		cmd.Stdin = strings.NewReader(b.String())
		start := time.Now()
		if out, err := exec.Command(save, "-t", "filter").CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s: %w: %s", save, err, out[:min(len(out), 500)])
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s: %w: %s", restore, err, out)
		}
		return time.Since(start), nil
	}
	// reconcile times Reconcile to wanted, median of liftRounds.
	reconcile := func(wanted []netip.Prefix) (time.Duration, string, error) {
		var ds []time.Duration
		var first string
		for range liftRounds {
			if err := setup(); err != nil {
				return 0, "", err
			}
			start := time.Now()
			plan, err := f.Reconcile(ctx, jail(wanted), nil, false)
			ds = append(ds, time.Since(start))
			if err != nil {
				return 0, "", err
			}
			ops := plan.Families[fw.IPv4].Ops
			first = fmt.Sprintf("%d lines, first %q", len(ops), ops[0])
		}
		return median(ds), first, nil
	}
	// capped returns the first limit of lifted, or limit spread over it.
	capped := func(lifted []netip.Prefix, limit int, spread bool) []netip.Prefix {
		if limit <= 0 || limit >= len(lifted) {
			return lifted
		}
		if !spread {
			return lifted[:limit]
		}
		step := len(lifted) / limit
		var out []netip.Prefix
		for i := 0; i < len(lifted) && len(out) < limit; i += step {
			out = append(out, lifted[i])
		}
		return out
	}
	var spread, kept []netip.Prefix
	for i, p := range all {
		if i%50 == 25 {
			spread = append(spread, p)
		} else {
			kept = append(kept, p)
		}
	}
	fmt.Printf("\nlifting bans from a chain of %d (%s; Reconcile: median of %d; the old way: once)\n", n, bin, liftRounds)
	for _, c := range []struct {
		name          string
		lifted, after []netip.Prefix
		limit         int
	}{
		{fmt.Sprintf("all %d", n), all, nil, capAll},
		{fmt.Sprintf("%d (1 in 50)", len(spread)), spread, kept, capSpread},
	} {
		timed := capped(c.lifted, c.limit, c.after != nil)
		oldD, err := old(timed)
		if err != nil {
			return err
		}
		newD, plan, err := reconcile(c.after)
		if err != nil {
			return err
		}
		bound := ""
		if len(timed) < len(c.lifted) {
			bound = ">= "
		}
		fmt.Printf("lift %s:\n", c.name)
		fmt.Printf("  old, save + one -D per ban: %s%s (%d of the %d -D timed)\n", bound, ms(oldD), len(timed), len(c.lifted))
		fmt.Printf("  Reconcile:                  %s (%s)\n", ms(newD), plan)
		fmt.Printf("  old/Reconcile:              %s%.1fx\n", bound, float64(oldD)/float64(newD))
	}
	return nil
}

// liftRounds of each Reconcile in runLift (each needs a chain of n set up).
const liftRounds = 3
