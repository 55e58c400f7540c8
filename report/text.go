package report

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// barWidth is the widest bar of the text chart, in characters.
const barWidth = 50

// eighths are the block characters of a bar's last cell, 1/8 to 7/8 wide.
var eighths = []rune(" ▏▎▍▌▋▊▉")

func (s Summary) loc() *time.Location {
	if s.Loc == nil {
		return time.UTC
	}
	return s.Loc
}

func (s Summary) stamp(t int64) string {
	return time.Unix(t, 0).In(s.loc()).Format("2006-01-02 15:04 MST")
}

// Span renders the length of the period for people: "24 h", "31 d", "1h30m0s".
func Span(from, to int64) string {
	switch d := to - from; {
	case d%day == 0:
		return fmt.Sprintf("%d d", d/day)
	case d%hour == 0:
		return fmt.Sprintf("%d h", d/hour)
	default:
		return (time.Duration(d) * time.Second).String()
	}
}

// Title is the report's heading: "fail2ban-scan report for HOST".
func (s Summary) Title() string {
	if s.Host == "" {
		return "fail2ban-scan report"
	}
	return "fail2ban-scan report for " + s.Host
}

// Period renders (From, To] for people.
func (s Summary) Period() string {
	return fmt.Sprintf("%s to %s (%s)", s.stamp(s.From), s.stamp(s.To), Span(s.From, s.To))
}

// Notes says where the figures do not cover exactly (From, To].
func (s Summary) Notes() []string {
	var out []string
	if s.From < s.HistoryStart {
		out = append(out, "The history starts at "+s.stamp(s.HistoryStart)+": nothing is known before.")
	}
	if s.CountsFrom != s.From || s.CountsTo != s.To {
		out = append(out, fmt.Sprintf("Counters cover %s to %s (runs older than 48 h are kept per hour).",
			s.stamp(s.CountsFrom), s.stamp(s.CountsTo)))
	}
	if s.IPsFrom != s.CountsFrom || s.IPsTo != s.CountsTo {
		out = append(out, fmt.Sprintf("Distinct IPs and top offenders cover %s to %s (per hour from yesterday on, per day before).",
			s.stamp(s.IPsFrom), s.stamp(s.IPsTo)))
	}
	return out
}

// Row is one line of the failures chart: a bucket's start and its failures.
type Row struct {
	Start int64
	N     int64
}

// Rows groups j.Hourly for a chart of at most 48 rows: per hour, or per 24 hours.
func (s Summary) Rows(j Jail) (rows []Row, perDay bool) {
	step := 1
	if len(j.Hourly) > 48 {
		step, perDay = 24, true
	}
	for i := 0; i < len(j.Hourly); i += step {
		r := Row{Start: s.HourStart + int64(i)*hour}
		for _, n := range j.Hourly[i:min(i+step, len(j.Hourly))] {
			r.N += n
		}
		rows = append(rows, r)
	}
	return rows, perDay
}

// bar draws n of max as block characters, at most barWidth wide.
func bar(n, max int64) string {
	if n <= 0 || max <= 0 {
		return ""
	}
	e := (n*barWidth*8 + max/2) / max // eighths of a cell, rounded
	if e == 0 {
		e = 1 // a failure is never invisible
	}
	return strings.Repeat("█", int(e/8)) + strings.TrimSpace(string(eighths[e%8]))
}

func digits(ns ...int64) int {
	w := 1
	for _, n := range ns {
		w = max(w, len(fmt.Sprint(n)))
	}
	return w
}

// Text writes s for a mail body read in a terminal: aligned columns, at most 80 wide.
func Text(w io.Writer, s Summary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nPeriod: %s\n", s.Title(), s.Period())
	for _, n := range s.Notes() {
		b.WriteString(wrap("Note: "+n, 78))
	}
	for _, j := range s.Jails {
		writeJail(&b, s, j)
	}
	if f := s.Fleet; f != nil {
		n := digits(f.Pulled, f.Lifted, f.Pushed, int64(f.CurrentlyBanned))
		fmt.Fprintf(&b, "\nfleet (CrowdSec, apart from the jails)\n")
		fmt.Fprintf(&b, "  %-18s%*d    %-16s%*d\n", "Bans pulled", n, f.Pulled, "Bans pushed", n, f.Pushed)
		fmt.Fprintf(&b, "  %-18s%*d    %-16s%*d\n", "Currently banned", n, f.CurrentlyBanned, "Lifted", n, f.Lifted)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeJail(b *strings.Builder, s Summary, j Jail) {
	n := digits(j.Failures, int64(j.DistinctIPs), j.Lines, int64(j.CurrentlyBanned), j.Bans, j.Unbans)
	fmt.Fprintf(b, "\n%s\n", j.Name)
	fmt.Fprintf(b, "  %-18s%*d    %-16s%*d\n", "Failures", n, j.Failures, "Bans", n, j.Bans)
	fmt.Fprintf(b, "  %-18s%*d    %-16s%*d\n", "Distinct IPs", n, j.DistinctIPs, "  permanent", n, j.PermanentBans)
	fmt.Fprintf(b, "  %-18s%*d    %-16s%*d\n", "Currently banned", n, j.CurrentlyBanned, "  manual", n, j.ManualBans)
	fmt.Fprintf(b, "  %-18s%*d    %-16s%*d\n", "Lines read", n, j.Lines, "Unbans", n, j.Unbans)
	if len(j.Top) > 0 {
		ipw := len("Top offenders")
		for _, o := range j.Top {
			ipw = max(ipw, len(o.IP))
		}
		fw := max(len("Failures"), digits(j.Top[0].Failures))
		fmt.Fprintf(b, "\n  %-*s  %*s  %s\n", ipw, "Top offenders", fw, "Failures", "Banned now")
		for _, o := range j.Top {
			banned := ""
			if o.Banned {
				banned = "yes"
			}
			fmt.Fprintf(b, "  %s\n", strings.TrimRight(fmt.Sprintf("%-*s  %*d  %s", ipw, o.IP, fw, o.Failures, banned), " "))
		}
	}
	rows, perDay := s.Rows(j)
	if len(rows) == 0 {
		return
	}
	var top int64
	for _, r := range rows {
		top = max(top, r.N)
	}
	layout, title := "01-02 15:04", "Failures per hour"
	if perDay {
		layout, title = "2006-01-02", "Failures per 24 hours"
	}
	cw := digits(top)
	fmt.Fprintf(b, "\n  %s\n", title)
	for _, r := range rows {
		label := time.Unix(r.Start, 0).In(s.loc()).Format(layout)
		fmt.Fprintf(b, "  %s  %-*s  %*d\n", label, barWidth, bar(r.N, top), cw, r.N)
	}
}

// wrap breaks s at spaces into lines of at most width characters, the next ones indented.
func wrap(s string, width int) string {
	var b strings.Builder
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > width {
			b.WriteString(line + "\n")
			line = "     "
		}
		if line == "" || line == "     " {
			line += w
		} else {
			line += " " + w
		}
	}
	return b.String() + line + "\n"
}
