// Command genstate writes a synthetic state file for the benchmarks: one jail (postfix-sasl)
// with N failing addresses of K failure times each, spread over the findtime before -now, and
// B active bans of other addresses (with their ban history and the report history's ban spans),
// as a busy botnet leaves it. The state is written by the state package, in its current schema.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

func main() {
	addrs := flag.Int("addrs", 100_000, "failing addresses")
	fails := flag.Int("failures", 10, "failure times per address")
	bans := flag.Int("bans", 0, "active bans (other addresses)")
	now := flag.Int64("now", 1786838400, "the time of the run that wrote the state (unix seconds)")
	findtime := flag.Int64("findtime", 86400, "the jail's findtime (seconds): failures are spread over it")
	bantime := flag.Int64("bantime", 86400, "the jail's bantime (seconds)")
	flag.Parse()
	rng := rand.New(rand.NewPCG(1, 2))
	s := state.New()
	j := s.Jail("postfix-sasl")
	for i := range *addrs {
		ts := make([]int64, *fails)
		for k := range ts {
			ts[k] = *now - rng.Int64N(*findtime-60)
		}
		slices.Sort(ts)
		j.Failures[addr(0, i)] = ts
	}
	h := s.History
	h.Start, h.Last = *now-*findtime, *now
	// Each ban is recorded in the history by the minute run after its start, in time order, as
	// the timer's runs record them: at most one run record a minute.
	starts := make([]int64, *bans)
	for i := range *bans {
		key := addr(1, i)
		start := *now - rng.Int64N(*bantime-60)
		starts[i] = start
		j.Bans[key] = state.Ban{Start: start, End: start + *bantime, Count: 1}
		j.BanHistory[key] = state.BanRecord{Count: 1, Last: start}
	}
	order := make([]int, *bans)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(starts[a], starts[b]) })
	var spans []state.BanSpan
	for _, i := range order {
		at := min(starts[i]-starts[i]%60+60, *now)
		rec := h.Recorder("postfix-sasl", at)
		// Each address is banned once, so no span is closed: the recorder is shown none of
		// the spans before, or it would index them all again for each ban (quadratic).
		hj := h.Jail("postfix-sasl")
		hj.Bans = nil
		rec.Ban(addr(1, i), starts[i]+*bantime, false)
		spans = append(spans, hj.Bans...)
		hj.Bans = spans
	}
	j.TotalFailed = int64(*addrs**fails + *bans*5)
	j.TotalBanned = int64(*bans)
	data, err := state.Encode(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genstate:", err)
		os.Exit(1)
	}
	os.Stdout.Write(data)
}

// addr is the i-th address of range r: from 11.0.0.0 on for failures, from 21.0.0.0 on for
// bans (public addresses, so no key is one that is never banned).
func addr(r, i int) string {
	return netip.AddrFrom4([4]byte{byte(11 + 10*r + i>>24), byte(i >> 16), byte(i >> 8), byte(i)}).String()
}
