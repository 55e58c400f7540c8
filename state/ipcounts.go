package state

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// IPCounts maps IPs to failure counts. In the state file it is one string,
// "192.0.2.7=12 198.51.100.23=3" (IPs sorted), not a JSON object: a busy day holds thousands
// of IPs, and a string is a third smaller than an indented object. It is decoded lazily: a run
// touches only the buckets of its own day and hour, and the other buckets are written back as
// they were read, so the minute run does not pay for 31 days of per-IP counts.
type IPCounts struct {
	raw string           // as read, while m is nil
	m   map[string]int64 // decoded (or built), once Map was called
	// twin, while not nil, holds the same map m: a first run's day and hour buckets count the
	// same failures, one map for both (Map copies it before it is changed), and Save writes
	// its text once for both.
	twin *IPCounts
}

// newTwins returns two counts holding m together (see twin).
func newTwins(m map[string]int64) (*IPCounts, *IPCounts) {
	a, b := &IPCounts{m: m}, &IPCounts{m: m}
	a.twin, b.twin = b, a
	return a, b
}

// NewIPCounts returns counts holding m (nil: empty).
func NewIPCounts(m map[string]int64) *IPCounts {
	if m == nil {
		m = map[string]int64{}
	}
	return &IPCounts{m: m}
}

// Map returns the counts, decoding them on first use; the caller may change them. The string
// was checked when it was read, so decoding cannot fail here.
func (c *IPCounts) Map() map[string]int64 {
	if c == nil {
		return nil
	}
	if c.twin != nil { // to be changed: the twin keeps the map, this one a copy
		c.m = maps.Clone(c.m)
		c.twin.twin, c.twin = nil, nil
	}
	if c.m == nil {
		c.m = map[string]int64{}
		for f := range strings.FieldsSeq(c.raw) {
			ip, n, _ := strings.Cut(f, "=")
			v, _ := strconv.ParseInt(n, 10, 64)
			c.m[ip] = v
		}
		c.raw = ""
	}
	return c.m
}

// MarshalText writes the counts as ip=count pairs, sorted by IP (a JSON string in the file).
func (c *IPCounts) MarshalText() ([]byte, error) {
	if c.m == nil {
		return []byte(c.raw), nil
	}
	keys := make([]string, 0, len(c.m))
	for ip := range c.m {
		keys = append(keys, ip)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, ip := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(ip)
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(c.m[ip], 10))
	}
	return []byte(b.String()), nil
}

// UnmarshalText reads what MarshalText writes. It checks the form of every pair without
// building the map (Map does that when the counts are needed).
func (c *IPCounts) UnmarshalText(data []byte) error {
	s := string(data)
	for f := range strings.FieldsSeq(s) {
		if err := checkPair(f); err != nil {
			return fmt.Errorf("ip counts: want ip=count, got %q", f)
		}
	}
	c.raw, c.m = s, nil
	return nil
}

// checkPair checks "ip=count": a non-empty key without '=', and a count that fits an int64.
func checkPair(f string) error {
	ip, n, ok := strings.Cut(f, "=")
	if !ok || ip == "" || n == "" || len(n) > 18 {
		return errors.New("bad pair")
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return errors.New("bad count")
		}
	}
	return nil
}
