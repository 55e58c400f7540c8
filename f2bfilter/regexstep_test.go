package f2bfilter

import "testing"

// TestGroupEnd: parentheses inside character classes and escaped ones are not structure.
func TestGroupEnd(t *testing.T) {
	for _, tt := range []struct {
		s    string
		i    int
		want int
	}{
		{"(a)b", 0, 3},
		{"([a)])x", 0, 6},
		{"([^)])x", 0, 6},
		{"([])])x", 0, 6},
		{`(\))x`, 0, 4},
		{`([\]])x`, 0, 6},
		{"((a)(b))c", 0, 8},
		{"((a)(b))c", 1, 4},
		{"(a", 0, -1},
	} {
		if got := groupEnd(tt.s, tt.i); got != tt.want {
			t.Errorf("groupEnd(%q, %d) = %d, want %d", tt.s, tt.i, got, tt.want)
		}
	}
}
