package state

import (
	"hash/maphash"
)

// Two things spare a minute run with little new the cost of a big state: Save compares a hash
// of the new encoding with one of the file it replaces, not the file itself (which would stay
// in memory all run), and Encode writes a per-address map that did not change since Load as
// the text it was read from, not sorted and formatted again.

// seed keys the hashes of one process; they are never stored.
var seed = maphash.MakeSeed()

// fileSum stands for an encoded state in sameButLast: its size, and hashes of what comes before
// and after the value of the history's "last" (split), or of the whole file (no such value).
type fileSum struct {
	n          int // 0: no file known
	split      bool
	head, tail uint64
}

func sumFile(data []byte) fileSum {
	i := lastValue(data)
	if i[0] < 0 {
		return fileSum{n: len(data), head: maphash.Bytes(seed, data)}
	}
	return fileSum{n: len(data), split: true, head: maphash.Bytes(seed, data[:i[0]]), tail: maphash.Bytes(seed, data[i[1]:])}
}

// keptText is the text a map was decoded from (a compact string, without its quotes) and the
// sum of the map just after; while the map's sum is the same, the text still encodes it.
type keptText struct {
	text string
	sum  uint64
}

// mix is splitmix64's finalizer: it spreads the bits of a value over the whole hash.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// The sums of the maps: the wrapping sum of a hash of each entry, so that the order in which
// a map is walked does not matter. Any change of a key or a value changes the sum, but for a
// chance of 2^-64.

func (f Failures) sum() uint64 {
	var s uint64
	for k, ts := range f {
		s += failuresEntrySum(k, ts)
	}
	return s
}

func (m Bans) sum() uint64 {
	var s uint64
	for k, b := range m {
		s += banEntrySum(k, b)
	}
	return s
}

func (m BanHistory) sum() uint64 {
	var s uint64
	for k, r := range m {
		s += banRecordSum(k, r)
	}
	return s
}

// The hash of one entry of each map.

func failuresEntrySum(k string, ts []int64) uint64 {
	h := maphash.String(seed, k)
	for _, t := range ts {
		h = mix(h ^ uint64(t))
	}
	return mix(h + uint64(len(ts)))
}

func banEntrySum(k string, b Ban) uint64 {
	h := maphash.String(seed, k)
	return mix(mix(mix(h^uint64(b.Start))^uint64(b.End)) ^ uint64(b.Count))
}

func banRecordSum(k string, r BanRecord) uint64 {
	h := maphash.String(seed, k)
	return mix(mix(h^uint64(r.Count)) ^ uint64(r.Last))
}
