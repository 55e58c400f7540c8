package notify

import (
	"context"
	"errors"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/mail"
)

// Mail hands each digest, as a plain-text mail, to `sendmail -t -i`.
type Mail struct {
	Sendmail string
	To, From string
}

// Send mails the digest; its subject is the digest's Title.
func (m Mail) Send(ctx context.Context, d Digest) error {
	data, err := mail.Message{From: m.From, To: m.To, Subject: d.Title(), Date: d.Now, Text: d.Text()}.Bytes()
	if err != nil {
		return err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return errors.New("mail: no deadline") // Send always gives one
	}
	return mail.Send(ctx, m.Sendmail, data, time.Until(deadline))
}
