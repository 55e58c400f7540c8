package state

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// IPCounts maps IPs to failure counts. In the state file it is one string,
// "192.0.2.7=12 198.51.100.23=3" (IPs sorted), not a JSON object: a busy day holds thousands
// of IPs, and a string is a third smaller than an indented object and decodes several times
// faster, which every run pays.
type IPCounts map[string]int64

// MarshalJSON writes the counts as one string of ip=count pairs, sorted by IP.
func (c IPCounts) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(c))
	for ip := range c {
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
		b.WriteString(strconv.FormatInt(c[ip], 10))
	}
	return json.Marshal(b.String())
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *IPCounts) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("ip counts: %w", err)
	}
	m := IPCounts{}
	for f := range strings.FieldsSeq(s) {
		ip, n, ok := strings.Cut(f, "=")
		v, err := strconv.ParseInt(n, 10, 64)
		if !ok || ip == "" || err != nil || v < 0 {
			return fmt.Errorf("ip counts: want ip=count, got %q", f)
		}
		m[ip] = v
	}
	*c = m
	return nil
}
