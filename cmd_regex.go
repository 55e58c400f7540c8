package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"
	"unicode"

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
	out := c.String("out")
	switch {
	case out != "" && out != "ip" && out != "msg" && out != "row":
		return usageErr(fmt.Errorf("--out %q: want ip, msg or row", out))
	case out != "" && c.Bool("json"):
		return usageErr(errors.New("--out and --json exclude each other"))
	}
	f, err := rules.LoadFilterIn(filterArg, nil, nil, nil, readConfigFile)
	if err != nil {
		return usageErr(err)
	}
	var lists regexLines
	keep := map[rules.MatchResult]*[]string{}
	if c.Bool("print-all-matched") {
		keep[rules.Match] = &lists.matched
	}
	if c.Bool("print-all-missed") {
		keep[rules.Miss] = &lists.missed
	}
	if c.Bool("print-all-ignored") {
		keep[rules.Ignored] = &lists.ignored
	}
	w := bufio.NewWriter(c.App.Writer)
	defer w.Flush()
	res := regexResult{Patterns: []patternHits{}, Matches: []regexMatched{}}
	for _, p := range f.Patterns() {
		res.Patterns = append(res.Patterns, patternHits{Regex: p})
	}
	var lineNo int64
	sess := f.NewSession() // one run: lines in order, connections remembered (sshd)
	onLine := func(line []byte) {
		lineNo++
		if l := bytes.TrimRight(line, "\r"); len(l) == 0 || l[0] == '#' {
			return // comment and empty lines do not count, as in fail2ban-regex
		}
		res.Lines++
		m, host, pat := sess.MatchHost(line) // a host name raw, as fail2ban-regex --usedns=raw
		if l := keep[m]; l != nil && out == "" {
			*l = append(*l, strings.TrimRightFunc(string(line), unicode.IsSpace))
		}
		switch m {
		case rules.Ignored:
			res.Ignored++
		case rules.Match:
			res.Matched++
			if pat >= 0 { // -1: a failure by the connection's memory, no one regex's
				res.Patterns[pat].Hits++
			}
			var unix int64
			if t, err := f.Time(line, now, time.Local); err == nil {
				unix = t.Unix()
			}
			res.Matches = append(res.Matches, regexMatched{Line: lineNo, Host: host, Time: unix})
			if out != "" {
				if unix == 0 {
					unix = now.Unix() // fail2ban takes the time of a line without one as now
				}
				writeRegexOut(w, out, line, host, unix)
			}
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
	if out != "" {
		return nil
	}
	if c.Bool("json") {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	writeRegex(w, f, source, res)
	writeRegexLines(w, lists)
	return nil
}

// regexLines are the lines --print-all-matched, --print-all-missed and --print-all-ignored
// list, as read (trailing blanks cut, as fail2ban-regex does).
type regexLines struct {
	matched, missed, ignored []string
}

// writeRegexLines lists the lines kept, in fail2ban-regex 1.0.2's layout and order
// (printLines): matched, ignored, missed, each under "|- Matched line(s):".
func writeRegexLines(w io.Writer, l regexLines) {
	for _, b := range []struct {
		title string
		lines []string
	}{{"Matched", l.matched}, {"Ignored", l.ignored}, {"Missed", l.missed}} {
		if len(b.lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n|- %s line(s):\n|  %s\n`-\n", b.title, strings.Join(b.lines, "\n|  "))
	}
}

// writeRegexOut prints one match as fail2ban-regex 1.0.2's --out: ip, the address; msg, the
// line; row, [ip, time, {...}] as Python prints it, with the ip4, ip6 and dns keys only
// (fail2ban adds the filter's other captures, such as user; fail2ban-scan does not capture
// them).
func writeRegexOut(w io.Writer, format string, line []byte, host string, unix int64) {
	switch format {
	case "ip":
		fmt.Fprintln(w, host)
	case "msg":
		fmt.Fprintln(w, strings.TrimRight(string(line), "\r\n"))
	case "row":
		ip4, ip6, dns := "None", "None", "None"
		switch a, err := netip.ParseAddr(host); {
		case err != nil:
			dns = "'" + host + "'" // a host name, raw
		case a.Is4():
			ip4 = "'" + host + "'"
		default:
			ip6 = "'" + host + "'"
		}
		fmt.Fprintf(w, "['%s',\t%d,\t{'ip4': %s, 'ip6': %s, 'dns': %s}],\n", host, unix, ip4, ip6, dns)
	}
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
