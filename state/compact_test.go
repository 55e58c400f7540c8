package state

import (
	"maps"
	"slices"
	"strconv"
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
	got := string(appendSorted(nil, m, func(b []byte, v int) []byte { return append(b, 'x') }, nil))
	want := slices.Sorted(slices.Values(keys))
	for i := range want {
		want[i] += "=x"
	}
	if got != strings.Join(want, " ") {
		t.Errorf("got  %q\nwant %q", got, strings.Join(want, " "))
	}
}

// TestKeyOrder: a map written with the keyOrder of a map with the same keys is written in
// their order, and with values of its own; a map of as many keys but another one, or of
// fewer, is sorted afresh (and its keys become the order); the text is the same as without.
func TestKeyOrder(t *testing.T) {
	text := func(m map[string]int, o *keyOrder) string {
		return string(appendSorted([]byte("head "), m, func(b []byte, v int) []byte { return strconv.AppendInt(b, int64(v), 10) }, o))
	}
	o := &keyOrder{}
	for _, m := range []map[string]int{
		{"192.0.2.7": 1, "10.0.0.1": 2, "2001:db8::1": 3},
		{"192.0.2.7": 4, "10.0.0.1": 5, "2001:db8::1": 6}, // the same keys: written in o's order
		{"192.0.2.7": 7, "10.0.0.2": 8, "2001:db8::1": 9}, // as many, one other: the last is missing
		{"10.0.0.2": 10},
		{},
		{"192.0.2.7": 11, "10.0.0.2": 12, "2001:db8::1": 13},
	} {
		if got, want := text(m, o), text(m, nil); got != want {
			t.Errorf("%v with the order %q: %q, want %q", m, o.keys, got, want)
		}
		if len(m) > 0 && !slices.Equal(o.keys, slices.Sorted(maps.Keys(m))) {
			t.Errorf("%v: the order after is %q", m, o.keys)
		}
	}
	// The order is used: a map of its keys is written in it, whatever it is.
	o.keys = []string{"b", "a"}
	if got := text(map[string]int{"a": 1, "b": 2}, o); got != "head b=2 a=1" {
		t.Errorf("with the order [b a]: %q", got)
	}
}
