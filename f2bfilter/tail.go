package f2bfilter

import (
	"regexp"
	"strings"
)

// tailSplit is an RE2 regex R(?P<name>.+)$ — the <F-CONTENT>.+</F-CONTENT>$ that ends most
// prefregexes — run as R alone, the group being the rest of the text. On text without '\n',
// .+$ matches wherever R's match leaves at least one byte, so R's first match is the whole
// regex's when it ends before the text does; no R match is no match. Otherwise (a match up
// to the end, a '\n' in the text) find leaves it to the whole regex. R alone is faster for
// Go's backtracker, which otherwise walks the rest of the line with R's captures.
type tailSplit struct {
	head  *regexp.Regexp
	names []string // R's group names by number; nil when none is named (no captures wanted)
	name  string   // the tail group's
}

var tailGroupRE = regexp.MustCompile(`\(\?P<(\w+)>\.\+\)\$$`)

// splitTail returns the split of the RE2 regex t (as toRE2 writes it), nil when it does not
// end in (?P<name>.+)$ at its top level.
func splitTail(t string) *tailSplit {
	loc := tailGroupRE.FindStringSubmatchIndex(t)
	if loc == nil || loc[0] == 0 || !topLevel(t, loc[0]) {
		return nil
	}
	head, err := regexp.Compile(t[:loc[0]])
	if err != nil {
		return nil
	}
	h := &tailSplit{head: head, name: t[loc[2]:loc[3]]}
	for _, n := range head.SubexpNames() {
		if n != "" {
			h.names = head.SubexpNames()
			break
		}
	}
	return h
}

// topLevel reports whether t[i] is outside any group and t has no '|' outside groups (which
// would bind what follows to its last alternative only).
func topLevel(t string, i int) bool {
	depth, inClass := 0, false
	for j := 0; j < len(t); j++ {
		if j == i && (depth != 0 || inClass) {
			return false
		}
		var structural bool
		if j, inClass, structural = regexStep(t, j, inClass); !structural {
			continue
		}
		switch c := t[j]; {
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '|' && depth == 0:
			return false
		}
	}
	return depth == 0
}

// find matches s; decided false leaves it to the whole regex.
func (h *tailSplit) find(s string) (m *match, decided bool) {
	if strings.IndexByte(s, '\n') >= 0 {
		return nil, false
	}
	var loc []int
	if h.names == nil {
		loc = h.head.FindStringIndex(s) // cheaper: Go's backtracker then keeps no captures
	} else {
		loc = h.head.FindStringSubmatchIndex(s)
	}
	if loc == nil {
		return nil, true
	}
	if loc[1] == len(s) {
		return nil, false
	}
	m = newMatch(s, loc, h.names)
	m.end = len(s)
	if m.groups == nil {
		m.groups = make(map[string]string, 1)
	}
	m.groups[h.name] = s[loc[1]:]
	return m, true
}
