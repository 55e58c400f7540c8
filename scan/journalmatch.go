package scan

import (
	"context"
	"fmt"
	"os/exec"
	"path"
	"strings"
	"time"
)

// globChars are the characters that make the value of a journalmatch term a path.Match pattern.
const globChars = "*?["

// isGlobMatch reports whether the journalmatch term m ("FIELD=value") has a glob in its value.
func isGlobMatch(m string) bool {
	_, v, ok := strings.Cut(m, "=")
	return ok && strings.ContainsAny(v, globChars)
}

// expandMatches returns matches with every term whose value is a glob (isGlobMatch) replaced by
// one exact term per value of its field, in the journal of source, that the glob matches
// (path.Match). The values come from one "journalctl -F FIELD" per distinct field among the
// glob terms, run with the same source options as the read; matches without globs are returned
// as they are, at no cost.
//
// journalctl ORs the terms of one field within a group (the terms between "+") and ANDs the
// fields, so the exact terms take the glob's place in its group. A glob that matches no value
// is an empty OR: it drops out when the group has other terms of its field, and otherwise makes
// its whole group match nothing, so the group is left out. none is true when every group that
// had terms was left out: the query matches no entry and journalctl must not run, since without
// terms it would read every entry.
//
// Values come one per line from journalctl -F, so a value holding a newline cannot be matched
// by a glob. A value that first appears between the expansion and the read is missed by that
// run, and its entries older than the run's last entry are never read: the next run resumes
// after that entry.
func expandMatches(ctx context.Context, jc string, source []string, matches []string) (out []string, none bool, err error) {
	values := map[string][]string{} // field → its values in the journal
	for _, m := range matches {
		if !isGlobMatch(m) {
			continue
		}
		field, pattern, _ := strings.Cut(m, "=")
		if _, err := path.Match(pattern, ""); err != nil {
			return nil, false, fmt.Errorf("journalmatch %s: %w", m, err)
		}
		if _, done := values[field]; done {
			continue
		}
		vs, err := fieldValues(ctx, jc, source, field)
		if err != nil {
			return nil, false, fmt.Errorf("expand journalmatch %s: %w", m, err)
		}
		values[field] = vs
	}
	if len(values) == 0 {
		return matches, false, nil
	}
	out, none = expandWith(matches, values)
	return out, none, nil
}

// expandWith is expandMatches once the values of the glob fields are known.
func expandWith(matches []string, values map[string][]string) (out []string, none bool) {
	var groups [][]string
	group := []string{}
	for _, m := range append(matches[:len(matches):len(matches)], "+") {
		if m != "+" {
			group = append(group, m)
			continue
		}
		groups = append(groups, group)
		group = []string{}
	}
	kept, dropped := 0, false
	out = []string{}
	for _, g := range groups {
		eg, ok := expandGroup(g, values)
		if !ok {
			dropped = true
			continue
		}
		if kept > 0 {
			out = append(out, "+")
		}
		out = append(out, eg...)
		kept++
	}
	if dropped && !hasTerm(out) {
		return nil, true
	}
	return out, false
}

// expandGroup expands the glob terms of one group (no "+") with the values of their fields; ok
// is false when some field of the group is left without any term, so that the group matches
// nothing.
func expandGroup(g []string, values map[string][]string) (out []string, ok bool) {
	alternatives := map[string]int{} // field → terms of it in out
	for _, m := range g {
		field, _, _ := strings.Cut(m, "=")
		if _, seen := alternatives[field]; !seen {
			alternatives[field] = 0
		}
		if !isGlobMatch(m) {
			out = append(out, m)
			alternatives[field]++
			continue
		}
		_, pattern, _ := strings.Cut(m, "=")
		for _, v := range values[field] {
			if hit, _ := path.Match(pattern, v); hit { // pattern checked by expandMatches
				out = append(out, field+"="+v)
				alternatives[field]++
			}
		}
	}
	for _, n := range alternatives {
		if n == 0 {
			return nil, false
		}
	}
	return out, true
}

func hasTerm(matches []string) bool {
	for _, m := range matches {
		if m != "+" {
			return true
		}
	}
	return false
}

// fieldValues runs "journalctl -F field" on source and returns the values it prints.
func fieldValues(ctx context.Context, jc string, source []string, field string) ([]string, error) {
	argv := append([]string{jc, "--no-pager"}, source...)
	argv = append(argv, "--field="+field)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 5 * time.Second
	stderr := &headBuffer{max: maxStderr}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("run %s: %w: %s", commandLine(argv), err, msg)
		}
		return nil, fmt.Errorf("run %s: %w", commandLine(argv), err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"), nil
}
