package main

import (
	"fmt"
	"io"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
)

// writeEngines prints, for a fail2ban: filter, each regex with the engine that runs it:
// "re2" (Go's regexp, linear time) or "backtrack" (regexp2, for lookaround and
// backreferences, bounded per line).
func writeEngines(w io.Writer, f *rules.Filter) {
	for _, p := range f.Engines() {
		where := p.Source.File
		if p.Source.Line > 0 {
			where = fmt.Sprintf("%s:%d", where, p.Source.Line)
		}
		fmt.Fprintf(w, "  %-11s %-9s %s: %s\n", p.Role, p.Engine, where, p.Source.Text)
	}
}
