package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/scan"
	"github.com/urfave/cli/v2"
)

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
	log, now, err := globals(c, c.App.ErrWriter)
	if err != nil {
		return err
	}
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
	f, err := rules.LoadFilterIn(filterArg, nil, nil, nil, readConfigFile)
	if err != nil {
		return usageErr(err)
	}
	res := regexResult{Patterns: []patternHits{}, Matches: []regexMatched{}}
	for _, p := range f.Patterns() {
		res.Patterns = append(res.Patterns, patternHits{Regex: p})
	}
	var lineNo int64
	onLine := func(line []byte) {
		lineNo++
		if l := bytes.TrimRight(line, "\r"); len(l) == 0 || l[0] == '#' {
			return // comment and empty lines do not count, as in fail2ban-regex
		}
		res.Lines++
		m, host, pat := f.MatchHost(line) // a host name raw, as fail2ban-regex --usedns=raw
		switch m {
		case rules.Ignored:
			res.Ignored++
		case rules.Match:
			res.Matched++
			res.Patterns[pat].Hits++
			var unix int64
			if t, err := f.Time(line, now, time.Local); err == nil {
				unix = t.Unix()
			}
			res.Matches = append(res.Matches, regexMatched{Line: lineNo, Host: host, Time: unix})
		}
	}
	source := logArg
	if journalDir != "" {
		source = "journal " + journalDir
		q := scan.JournalQuery{Directory: journalDir, Matches: c.StringSlice("journalmatch")}
		_, _, _, err = scan.ReadJournal(context.Background(), q, "", onLine)
	} else {
		if fi, err := os.Stat(logArg); err != nil {
			return usageErr(fmt.Errorf("log: %w", err))
		} else if !fi.Mode().IsRegular() {
			return usageErr(fmt.Errorf("log: %s is not a regular file", logArg))
		}
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
	fmt.Fprintf(w, "Use         log file : %s\n", source)
	writeEngines(w, f)
	fmt.Fprintf(w, "\n\n")
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
