package state

import (
	"slices"
	"strings"
	"testing"
)

// TestAppendSorted: the keys are written in the order of sort.Strings, whether they differ in
// their first 16 bytes or only after them, or one is a prefix of another.
func TestAppendSorted(t *testing.T) {
	keys := []string{"2001:db8::1", "2001:db8::10", "2001:db8:0:0:1::1", "2001:db8::", "192.0.2.7",
		"192.0.2.70", "192.0.2.7/32", "10.0.0.1", "2001:db8:ffff:ffff:ffff::/80", "2001:db8:ffff:ffff:fffe::/80",
		"a", "a\x00", "a\x00\x00", "", "b"}
	m := map[string]int{}
	for i, k := range keys {
		m[k] = i
	}
	got := string(appendSorted(nil, m, func(b []byte, v int) []byte { return append(b, 'x') }))
	want := slices.Sorted(slices.Values(keys))
	for i := range want {
		want[i] += "=x"
	}
	if got != strings.Join(want, " ") {
		t.Errorf("got  %q\nwant %q", got, strings.Join(want, " "))
	}
}
