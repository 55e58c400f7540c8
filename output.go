package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/scan"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// jailStatus is one jail in `status --json`.
type jailStatus struct {
	CurrentlyFailed int         `json:"currently_failed"`
	TotalFailed     int64       `json:"total_failed"`
	CurrentlyBanned int         `json:"currently_banned"`
	TotalBanned     int64       `json:"total_banned"`
	Banned          []banStatus `json:"banned"`
	Files           []string    `json:"files"`
	JournalMatches  []string    `json:"journal_matches"`
}

type banStatus struct {
	IP    string `json:"ip"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
}

// statusOf computes a jail's status from the state at now. Bans are ordered by IP.
func statusOf(j *rules.Jail, js *state.Jail, now int64) jailStatus {
	s := jailStatus{
		CurrentlyFailed: j.CurrentlyFailed(js, now),
		TotalFailed:     js.TotalFailed,
		TotalBanned:     js.TotalBanned,
		Banned:          []banStatus{},
		Files:           []string{},
		JournalMatches:  []string{},
	}
	for _, ip := range sortedIPs(js.Bans) {
		b := js.Bans[ip]
		if !b.Permanent() && b.End <= now {
			continue // over: the next scan lifts it
		}
		s.Banned = append(s.Banned, banStatus{IP: ip, Start: b.Start, End: b.End})
	}
	s.CurrentlyBanned = len(s.Banned)
	if j.Backend == "journal" {
		s.JournalMatches = append(s.JournalMatches, j.JournalMatch...)
	} else if paths, err := scan.Expand(j.LogPath); err == nil {
		s.Files = append(s.Files, paths...)
	} else {
		s.Files = append(s.Files, j.LogPath...)
	}
	return s
}

// sortedIPs returns the keys of m in address order (v4 before v6).
func sortedIPs[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		x, errx := netip.ParseAddr(a)
		y, erry := netip.ParseAddr(b)
		if errx != nil || erry != nil {
			return strings.Compare(a, b)
		}
		return x.Compare(y)
	})
	return keys
}

// writeJailStatus prints one jail in fail2ban-client's layout.
func writeJailStatus(w io.Writer, name string, j *rules.Jail, s jailStatus) {
	fmt.Fprintf(w, "Status for the jail: %s\n", name)
	fmt.Fprintf(w, "|- Filter\n")
	fmt.Fprintf(w, "|  |- Currently failed:\t%d\n", s.CurrentlyFailed)
	fmt.Fprintf(w, "|  |- Total failed:\t%d\n", s.TotalFailed)
	if j.Backend == "journal" {
		fmt.Fprintf(w, "|  `- Journal matches:\t%s\n", strings.Join(s.JournalMatches, " "))
	} else {
		fmt.Fprintf(w, "|  `- File list:\t%s\n", strings.Join(s.Files, " "))
	}
	ips := make([]string, len(s.Banned))
	for i, b := range s.Banned {
		ips[i] = b.IP
	}
	fmt.Fprintf(w, "`- Actions\n")
	fmt.Fprintf(w, "   |- Currently banned:\t%d\n", s.CurrentlyBanned)
	fmt.Fprintf(w, "   |- Total banned:\t%d\n", s.TotalBanned)
	fmt.Fprintf(w, "   `- Banned IP list:\t%s\n", strings.Join(ips, " "))
}

func cmdStatus(c *cli.Context) error {
	e, err := setup(c)
	if err != nil {
		return err
	}
	defer e.closeLog()
	if c.NArg() > 1 {
		return usageErr(fmt.Errorf("status takes at most one jail, got %d arguments", c.NArg()))
	}
	var names []string
	if c.NArg() == 1 {
		names = []string{c.Args().First()}
	}
	jails, err := e.jails(names)
	if err != nil {
		return err
	}
	st, err := e.loadState()
	if err != nil {
		return err
	}
	now := e.now.Unix()
	if c.Bool("json") {
		out := struct {
			Jails map[string]jailStatus `json:"jails"`
		}{map[string]jailStatus{}}
		for _, j := range jails {
			out.Jails[j.Name] = statusOf(j, st.Jail(j.Name), now)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(names) == 1 {
		writeJailStatus(e.stdout, jails[0].Name, jails[0], statusOf(jails[0], st.Jail(jails[0].Name), now))
		return nil
	}
	list := make([]string, len(jails))
	for i, j := range jails {
		list[i] = j.Name
	}
	fmt.Fprintf(e.stdout, "Status\n|- Number of jail:\t%d\n`- Jail list:\t%s\n", len(jails), strings.Join(list, ", "))
	return nil
}

// regexResult is `regex --json`.
type regexResult struct {
	Lines    int64          `json:"lines"`
	Ignored  int64          `json:"ignored"`
	Matched  int64          `json:"matched"`
	Missed   int64          `json:"missed"`
	Patterns []patternHits  `json:"patterns"`
	Matches  []regexMatched `json:"matches"`
}

type patternHits struct {
	Regex string `json:"regex"`
	Hits  int64  `json:"hits"`
}

type regexMatched struct {
	Line int64  `json:"line"`
	Host string `json:"host"`
	Time int64  `json:"time"`
}

func cmdRegex(c *cli.Context) error {
	level, now, err := globals(c)
	if err != nil {
		return err
	}
	log := newLogger(level, c.App.ErrWriter)
	journalDir := c.String("journal-directory")
	var logArg, filterArg string
	switch {
	case journalDir != "" && c.NArg() == 1:
		filterArg = c.Args().Get(0)
	case journalDir == "" && c.NArg() == 2:
		logArg, filterArg = c.Args().Get(0), c.Args().Get(1)
	default:
		return usageErr(fmt.Errorf("usage: regex LOG FILTER, or regex --journal-directory DIR FILTER"))
	}
	f, err := rules.LoadFilter(filterArg, nil, nil, os.ReadFile)
	if err != nil {
		return usageErr(err)
	}
	res := regexResult{Patterns: []patternHits{}, Matches: []regexMatched{}}
	for _, p := range f.Patterns() {
		res.Patterns = append(res.Patterns, patternHits{Regex: p})
	}
	onLine := func(line []byte) {
		res.Lines++
		m, host, pat := f.Match(line)
		switch m {
		case rules.Ignored:
			res.Ignored++
		case rules.Match:
			res.Matched++
			res.Patterns[pat].Hits++
			var unix int64
			if t, err := rules.ParseTime(line, now, time.Local); err == nil {
				unix = t.Unix()
			}
			res.Matches = append(res.Matches, regexMatched{Line: res.Lines, Host: host.String(), Time: unix})
		}
	}
	source := logArg
	if journalDir != "" {
		source = "journal " + journalDir
		q := scan.JournalQuery{Directory: journalDir, Matches: c.StringSlice("journalmatch")}
		_, _, _, err = scan.ReadJournal(context.Background(), q, "", onLine)
	} else {
		var st scan.Stats
		st, err = scan.ReadFile(logArg, onLine)
		if st.LongLines > 0 {
			log.logf(levelWarning, "filter", "", "%s: %d lines longer than %d bytes were cut", logArg, st.LongLines, scan.MaxLine)
		}
	}
	if err != nil {
		return runtimeErr(err)
	}
	res.Missed = res.Lines - res.Ignored - res.Matched
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	writeRegex(c.App.Writer, f, source, res)
	return nil
}

// writeRegex prints results in fail2ban-regex's layout.
func writeRegex(w io.Writer, f *rules.Filter, source string, r regexResult) {
	fmt.Fprintf(w, "Running tests\n=============\n\n")
	fmt.Fprintf(w, "Use   failregex filter : %s\n", f.Name())
	fmt.Fprintf(w, "Use         log file : %s\n\n\n", source)
	fmt.Fprintf(w, "Results\n=======\n\n")
	fmt.Fprintf(w, "Failregex: %d total\n", r.Matched)
	fmt.Fprintf(w, "|-  #) [# of hits] regular expression\n")
	for i, p := range r.Patterns {
		if p.Hits > 0 {
			fmt.Fprintf(w, "|  %2d) [%d] %s\n", i+1, p.Hits, p.Regex)
		}
	}
	fmt.Fprintf(w, "`-\n\n")
	fmt.Fprintf(w, "Ignoreregex: %d total\n\n", r.Ignored)
	fmt.Fprintf(w, "Lines: %d lines, %d ignored, %d matched, %d missed\n", r.Lines, r.Ignored, r.Matched, r.Missed)
}
