package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fail2ban-scan/fail2ban-scan/report"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
)

// reportCommand is `report`, also reachable as `scan report`.
func reportCommand() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "summarise a period from the history: failures, IPs, bans, top offenders, failures per hour",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "since", Usage: "the period is the `DURATION` before --to (default 24h)"},
			&cli.StringFlag{Name: "from", Usage: "start of the period, `TIME` as RFC 3339 or unix seconds (excluded)"},
			&cli.StringFlag{Name: "to", Usage: "end of the period, `TIME` as RFC 3339 or unix seconds (included; default now)"},
			&cli.StringSliceFlag{Name: "jail", Usage: "limit to this jail (repeatable)"},
			&cli.BoolFlag{Name: "json", Usage: "JSON for scripts"},
			&cli.BoolFlag{Name: "html", Usage: "one self-contained HTML document"},
			&cli.BoolFlag{Name: "mail", Usage: "mail the report (text and HTML) to the config's report.mail_to"},
			&cli.StringFlag{Name: "mail-to", Usage: "mail the report to `ADDR` (comma-separated list)"},
			&cli.StringFlag{Name: "mail-from", Usage: "From: `ADDR` of the mail (default the config's report.mail_from)"},
		},
		Action: cmdReport,
	}
}

// unixFlag is the time a flag gives, in unix seconds.
func unixFlag(flag, s string) (int64, error) {
	t, err := parseTime(flag, s)
	return t.Unix(), err
}

// period returns (from, to] from --since, --from and --to.
func period(c *cli.Context, now int64) (from, to int64, err error) {
	to = now
	if s := c.String("to"); s != "" {
		if to, err = unixFlag("to", s); err != nil {
			return 0, 0, err
		}
	}
	if c.IsSet("from") && c.IsSet("since") {
		return 0, 0, errors.New("--from and --since exclude each other")
	}
	if s := c.String("from"); s != "" {
		if from, err = unixFlag("from", s); err != nil {
			return 0, 0, err
		}
	} else {
		since := int64(24 * 3600)
		if s := c.String("since"); s != "" {
			if since, err = rules.ParseDuration(s); err != nil || since <= 0 {
				return 0, 0, fmt.Errorf("--since: want a positive duration (24h, 1d, 3600), got %q", s)
			}
		}
		from = to - since
	}
	if from >= to {
		return 0, 0, fmt.Errorf("the period is empty: from %d is not before to %d", from, to)
	}
	return from, to, nil
}

func cmdReport(c *cli.Context) error {
	e, err := setup(c)
	if err != nil {
		return err
	}
	defer e.closeLog()
	if c.NArg() > 0 {
		return usageErr(fmt.Errorf("report takes no arguments, got %q", c.Args().First()))
	}
	if c.Bool("json") && c.Bool("html") {
		return usageErr(errors.New("--json and --html exclude each other"))
	}
	from, to, err := period(c, e.now.Unix())
	if err != nil {
		return usageErr(err)
	}
	jails, err := e.jails(c.StringSlice("jail"))
	if err != nil {
		return err
	}
	names := make([]string, len(jails))
	for i, j := range jails {
		names[i] = j.Name
	}
	st, err := e.loadState()
	if err != nil {
		return err
	}
	s := report.Summarize(st, names, from, to)
	s.Host, _ = os.Hostname()
	s.Loc = time.Local
	if c.Bool("mail") || c.IsSet("mail-to") {
		return e.mailReport(c, s)
	}
	switch {
	case c.Bool("json"):
		err = report.JSON(e.stdout, s)
	case c.Bool("html"):
		err = report.HTML(e.stdout, s)
	default:
		err = report.Text(e.stdout, s)
	}
	if err != nil {
		return runtimeErr(fmt.Errorf("write report: %w", err))
	}
	return nil
}
