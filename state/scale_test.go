package state

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// botnet returns a state of n addresses with k failure times each, spread over the day before
// now, and b active bans (as bench/genstate writes).
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
	for i := range b {
		start := now - rng.Int64N(86400-60)
		j.Bans[addr(1, i)] = Ban{Start: start, End: start + 86400, Count: 1}
		j.BanHistory[addr(1, i)] = BanRecord{Count: 1, Last: start}
	}
	return s
}

func BenchmarkDecode(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		data, err := Encode(botnet(n, 10, n))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
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
	for _, n := range []int{1000, 100_000} {
		s := botnet(n, 10, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
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
