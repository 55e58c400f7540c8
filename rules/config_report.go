package rules

import (
	"net/mail"

	"gopkg.in/yaml.v3"
)

// DefaultHistoryDays is how many days of history are kept when the config does not say.
const DefaultHistoryDays = 31

// DefaultSendmail is the sendmail the report is handed to when the config does not say.
const DefaultSendmail = "/usr/sbin/sendmail"

// ReportConfig is the `report:` section: where `report --mail` sends the report.
type ReportConfig struct {
	MailTo   string // recipients, as in a To: header ("" none)
	MailFrom string // the From: header ("" lets sendmail set it)
	Sendmail string // the sendmail program, run as `sendmail -t -i`
}

// historyDays decodes `history_days:`.
func (l *loader) historyDays(v *yaml.Node, dst *int) error {
	var n int
	if err := v.Decode(&n); err != nil || v.Kind != yaml.ScalarNode {
		return l.errf(v, "history_days", "must be an integer, got %q", v.Value)
	}
	if n < 1 {
		return l.errf(v, "history_days", "must be >= 1, got %d", n)
	}
	*dst = n
	return nil
}

// report decodes the `report:` section, recording its errors.
func (l *loader) report(n *yaml.Node, dst *ReportConfig) error {
	l.eachKey(n, "report.", func(key string, k, v *yaml.Node) error {
		p := "report." + key
		switch key {
		case "mail_to":
			if err := l.str(v, p, &dst.MailTo); err != nil {
				return err
			}
			if _, err := mail.ParseAddressList(dst.MailTo); err != nil {
				return l.errf(v, p, "bad address list %q: %s", dst.MailTo, err)
			}
		case "mail_from":
			if err := l.str(v, p, &dst.MailFrom); err != nil {
				return err
			}
			if _, err := mail.ParseAddress(dst.MailFrom); err != nil {
				return l.errf(v, p, "bad address %q: %s", dst.MailFrom, err)
			}
		case "sendmail":
			if err := l.str(v, p, &dst.Sendmail); err != nil {
				return err
			}
			if dst.Sendmail == "" {
				return l.errf(v, p, "must not be empty")
			}
		default:
			return l.errf(k, p, "unknown key (want mail_to, mail_from or sendmail)")
		}
		return nil
	})
	return nil
}
