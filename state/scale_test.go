package state

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// botnet returns a state of n addresses with k failure times each, spread over the day before
// now, and b active bans with their ban history and the report history's spans (as
// bench/genstate writes).
func botnet(n, k, b int) *State {
	const now = 1786838400
	rng := rand.New(rand.NewPCG(1, 2))
	s := New()
	j := s.Jail("postfix-sasl")
	addr := func(r, i int) string {
		return netip.AddrFrom4([4]byte{byte(11 + 10*r + i>>24), byte(i >> 16), byte(i >> 8), byte(i)}).String()
	}
	for i := range n {
		ts := make([]int64, k)
		for x := range ts {
			ts[x] = now - rng.Int64N(86400-60)
		}
		slices.Sort(ts)
		j.Failures[addr(0, i)] = ts
	}
	starts := make([]int64, b)
	for i := range b {
		start := now - rng.Int64N(86400-60)
		starts[i] = start
		j.Bans[addr(1, i)] = Ban{Start: start, End: start + 86400, Count: 1}
		j.BanHistory[addr(1, i)] = BanRecord{Count: 1, Last: start}
	}
	order := make([]int, b)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(starts[x], starts[y]) })
	for _, i := range order { // the history's ban spans, recorded by one run a minute
		at := min(starts[i]-starts[i]%60+60, now)
		// What Recorder.Ban records, without its index of the spans by IP, which a
		// recorder per ban would build again each time: every IP is banned once here.
		rec := s.History.Recorder("postfix-sasl", at)
		rec.add(CBans, 1)
		rec.j.Bans = append(rec.j.Bans, BanSpan{IP: addr(1, i), At: at, End: starts[i] + 86400})
	}
	return s
}

// scales are the states the benchmarks time: 1,000 and 100,000 addresses × 10 failures, with
// no ban and with as many bans on top.
var scales = []struct{ addrs, bans int }{{1000, 0}, {1000, 1000}, {100_000, 0}, {100_000, 100_000}}

func BenchmarkDecode(b *testing.B) {
	for _, sc := range scales {
		data, err := Encode(botnet(sc.addrs, 10, sc.bans))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%d/bans=%d", sc.addrs, sc.bans), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, sc := range scales {
		s := botnet(sc.addrs, 10, sc.bans)
		b.Run(fmt.Sprintf("%d/bans=%d", sc.addrs, sc.bans), func(b *testing.B) {
			for b.Loop() {
				data, err := Encode(s)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(data)))
			}
		})
	}
}
