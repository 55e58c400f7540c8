package f2bimport

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
)

// f2bUnits are the unit words of fail2ban 1.0's MyTime.str2seconds, in its order, with their
// seconds (a month and a year are the average of a leap cycle, as there).
var f2bUnits = []struct {
	re  *regexp.Regexp
	sec float64
}{
	{regexp.MustCompile(`^(days?|da|dd?)$`), 86400},
	{regexp.MustCompile(`^(weeks?|wee?|ww?)$`), 7 * 86400},
	{regexp.MustCompile(`^(months?|mon?)$`), (365*3 + 366) * 86400 / 4.0 / 12},
	{regexp.MustCompile(`^(years?|yea?|yy?)$`), (365*3 + 366) * 86400 / 4.0},
	{regexp.MustCompile(`^(seconds?|sec?|ss?)$`), 1},
	{regexp.MustCompile(`^(minutes?|min?|mm?)$`), 60},
	{regexp.MustCompile(`^(hours?|hou?|hh?)$`), 3600},
}

var f2bTerm = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)`)

// parseF2bDuration reads a fail2ban duration ("600", "10m", "1h 30m", "1 day", "1mo", "-1")
// into seconds; negative is -1 (permanent). It does not evaluate fail2ban's arbitrary Python
// expressions ("60*60"): those are an error.
func parseF2bDuration(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return -1, nil
		}
		return checkDuration(s, f)
	}
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	total, rest := 0.0, s
	for strings.TrimSpace(rest) != "" {
		m := f2bTerm.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("duration %q: not a number with a unit", s)
		}
		n, _ := strconv.ParseFloat(m[1], 64)
		unit := 1.0
		if m[2] != "" {
			found := false
			for _, u := range f2bUnits {
				if u.re.MatchString(strings.ToLower(m[2])) {
					unit, found = u.sec, true
					break
				}
			}
			if !found {
				return 0, fmt.Errorf("duration %q: unknown unit %q", s, m[2])
			}
		}
		total += n * unit
		rest = rest[len(m[0]):]
	}
	return checkDuration(s, total)
}

func checkDuration(s string, f float64) (int64, error) {
	if f > rules.MaxDuration {
		return 0, fmt.Errorf("duration %q: more than 100 years", s)
	}
	return int64(math.Round(f)), nil
}

// formatDuration writes seconds as fail2ban-scan's config does: "-1" for permanent, else
// weeks, days, hours, minutes and seconds ("1h30m", "1w"), "0" for none.
func formatDuration(sec int64) string {
	if sec < 0 {
		return "-1"
	}
	if sec == 0 {
		return "0"
	}
	var b strings.Builder
	for _, u := range []struct {
		n int64
		c string
	}{{7 * 86400, "w"}, {86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}} {
		if sec >= u.n {
			fmt.Fprintf(&b, "%d%s", sec/u.n, u.c)
			sec %= u.n
		}
	}
	return b.String()
}
