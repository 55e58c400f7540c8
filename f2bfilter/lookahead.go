package f2bfilter

import (
	"regexp"
	"strings"
)

// lookaheadSplit is a regex R(?=L) or R(?!L) — a lookahead at the very end — run as two RE2
// regexes: R, then L anchored where R's match ends. When R does not match, neither does the
// whole; when it matches at [s,e) and L's test at e passes, the whole matches at [s,e) with
// R's groups, because a backtracking engine would have found that same first path through R
// and accepted it. Only when the test fails must the backtracking engine look further (R's
// other paths, later starts): find says so with decided false.
//
// RE2 and regexp2 (like Python) agree on ASCII text only, and differ on \v (\s) and on '$'
// before a final newline: find decides only for text without non-ASCII bytes, '\n' or '\v'.
type lookaheadSplit struct {
	head  *regexp.Regexp // R
	names []string       // R's group names by number
	look  *regexp.Regexp // ^(?:L)
	neg   bool           // (?!L)
}

// find matches s: decided false leaves it to the backtracking engine.
func (h *lookaheadSplit) find(s string) (m *match, decided bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c == '\n' || c == '\v' {
			return nil, false
		}
	}
	loc := h.head.FindStringSubmatchIndex(s)
	if loc == nil {
		return nil, true
	}
	if h.look.MatchString(s[loc[1]:]) == h.neg {
		return nil, false
	}
	return newMatch(s, loc, h.names), true
}

// splitLookahead splits a Python regex ending in a lookahead (postfix.conf's auth failregex:
// "... authentication failed:(?! Connection lost to authentication server| Invalid ...)"),
// nil when it does not end in one or the parts are not both RE2. The lookahead must sit at
// the top level, hold no group that captures, and test nothing before its position (no ^, \b,
// \B, \A, \G, lookbehind); the flags set at the top level before it ((?i)) apply to it too.
func splitLookahead(src string) *lookaheadSplit {
	if !strings.HasSuffix(src, ")") {
		return nil
	}
	// find the top-level group that closes at the end
	depth, open, inClass := 0, -1, false
	var flags []string // (?flags) at depth 0
	for j := 0; j < len(src); j++ {
		var structural bool
		if j, inClass, structural = regexStep(src, j, inClass); !structural {
			continue
		}
		switch c := src[j]; {
		case c == '(':
			if depth == 0 {
				open = j
				f, ok := topFlags(src[j:])
				if !ok {
					return nil
				}
				if f != "" {
					flags = append(flags, f)
				}
			}
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil
			}
		case c == '|' && depth == 0:
			return nil // R1|R2(?!L): the lookahead binds to R2 alone
		}
	}
	if depth != 0 || open < 0 || groupEnd(src, open) != len(src) {
		return nil
	}
	var neg bool
	switch {
	case strings.HasPrefix(src[open:], "(?="):
	case strings.HasPrefix(src[open:], "(?!"):
		neg = true
	default:
		return nil
	}
	head, look := src[:open], src[open+3:len(src)-1]
	if head == "" || !simpleLookahead(look) {
		return nil
	}
	h, ok := toRE2(head)
	if !ok {
		return nil
	}
	l, ok := toRE2(look)
	if !ok {
		return nil
	}
	hre, err := regexp.Compile(h)
	if err != nil {
		return nil
	}
	f := strings.Join(flags, "")
	if f != "" {
		f = "(?" + f + ")"
	}
	lre, err := regexp.Compile(`^(?:` + f + l + `)`)
	if err != nil {
		return nil
	}
	return &lookaheadSplit{head: hre, names: hre.SubexpNames(), look: lre, neg: neg}
}

// topFlags returns the flags a standalone "(?flags)" at s's start sets ("" for any other group),
// as RE2 writes them (Python's a, u and L dropped); ok is false for flags turned off ("(?-i)").
func topFlags(s string) (flags string, ok bool) {
	if !strings.HasPrefix(s, "(?") {
		return "", true
	}
	j := 2
	for j < len(s) && strings.IndexByte("aiLmsux-", s[j]) >= 0 {
		j++
	}
	if j == 2 || j >= len(s) || s[j] != ')' {
		return "", true
	}
	if strings.Contains(s[2:j], "-") {
		return "", false
	}
	return strings.NewReplacer("a", "", "u", "", "L", "").Replace(s[2:j]), true
}

// simpleLookahead reports whether a lookahead's pattern tests only the text from its position
// on and captures nothing.
func simpleLookahead(l string) bool {
	inClass := false
	for j := 0; j < len(l); j++ {
		switch c := l[j]; {
		case c == '\\':
			if j+1 < len(l) && strings.IndexByte("bBAG123456789", l[j+1]) >= 0 && !inClass {
				return false
			}
			j++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if j+1 < len(l) && l[j+1] == '^' {
				j++
			}
			if j+1 < len(l) && l[j+1] == ']' {
				j++
			}
		case c == '^':
			return false
		case c == '(':
			if !strings.HasPrefix(l[j:], "(?:") {
				return false // captures, lookaround, flags, backreference
			}
		}
	}
	return true
}
