package main

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fail2ban-scan/fail2ban-scan/mail"
	"github.com/fail2ban-scan/fail2ban-scan/report"
)

// sendmailTimeout bounds the sendmail run.
const sendmailTimeout = time.Minute

// mailReport sends s, as text and HTML, to --mail-to or the config's report.mail_to.
func (e *env) mailReport(c *cli.Context, s report.Summary) error {
	to, from := e.cfg.Report.MailTo, e.cfg.Report.MailFrom
	if c.IsSet("mail-to") {
		to = c.String("mail-to")
	}
	if c.IsSet("mail-from") {
		from = c.String("mail-from")
	}
	if to == "" {
		return usageErr(errors.New("report --mail: no recipient: set report.mail_to in " + e.cfgPath + " or give --mail-to"))
	}
	var text, html bytes.Buffer
	if err := report.Text(&text, s); err != nil {
		return runtimeErr(err)
	}
	if err := report.HTML(&html, s); err != nil {
		return runtimeErr(err)
	}
	failures, bans := s.Totals()
	msg := mail.Message{
		From: from, To: to, Date: e.now,
		Subject: fmt.Sprintf("%s: %s: %d failures from %d IPs, %d bans", s.Title(), s.Period(), failures, s.DistinctIPs, bans),
		Text:    text.String(), HTML: html.String(),
	}
	data, err := msg.Bytes()
	if err != nil {
		return usageErr(err)
	}
	if err := mail.Send(c.Context, e.cfg.Report.Sendmail, data, sendmailTimeout); err != nil {
		return runtimeErr(fmt.Errorf("mail the report: %w", err))
	}
	e.log.logf(levelInfo, "report", "", "report mailed to %s", to)
	return nil
}
