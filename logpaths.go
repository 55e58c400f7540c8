package main

import (
	"github.com/fail2ban-scan/fail2ban-scan/scan"
)

// emptyGlobs returns the logpath patterns that are globs matching no log file (as
// scan.Expand resolves them). A plain path is never among them: Expand keeps it, and reading
// it reports it missing; an empty glob would otherwise make a jail watch nothing, silently.
func emptyGlobs(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		if ms, err := scan.Expand([]string{p}); err == nil && len(ms) == 0 {
			out = append(out, p)
		}
	}
	return out
}
