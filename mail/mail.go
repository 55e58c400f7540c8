// Package mail builds MIME messages and hands them to the local sendmail.
package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"os/exec"
	"strings"
	"time"
)

// Message is a mail with a text and an HTML body, sent as multipart/alternative.
type Message struct {
	From    string // "" lets sendmail set it
	To      string // one address or a comma-separated list
	Subject string
	Date    time.Time
	Text    string
	HTML    string // "" sends the text alone
}

// Bytes returns the message in RFC 5322 form with CRLF line ends: headers, then the text part
// and the HTML part, each UTF-8 in quoted-printable.
func (m Message) Bytes() ([]byte, error) {
	if m.To == "" {
		return nil, errors.New("build mail: no recipient")
	}
	for _, v := range []string{m.From, m.To, m.Subject} {
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("build mail: line break in header value %q", v)
		}
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	if m.From != "" {
		header("From", m.From)
	}
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", m.Date.Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	if m.HTML == "" {
		header("Content-Type", "text/plain; charset=utf-8")
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, m.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	header("Content-Type", "multipart/alternative;\r\n boundary="+mw.Boundary()) // folded: under 78 columns
	b.WriteString("\r\n")
	for _, p := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("build mail: %w", err)
		}
		if err := writeQP(pw, p.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("build mail: %w", err)
	}
	return b.Bytes(), nil
}

func writeQP(w interface{ Write([]byte) (int, error) }, s string) error {
	qw := quotedprintable.NewWriter(w)
	if _, err := qw.Write([]byte(strings.ReplaceAll(s, "\n", "\r\n"))); err != nil {
		return fmt.Errorf("build mail: %w", err)
	}
	if err := qw.Close(); err != nil {
		return fmt.Errorf("build mail: %w", err)
	}
	return nil
}

// Send hands msg to `sendmail -t -i` (recipients from the headers, a lone dot is no end of
// input), run directly, never through a shell, and killed after timeout.
func Send(ctx context.Context, sendmail string, msg []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, sendmail, "-t", "-i")
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("%s -t -i: no answer in %s: %w", sendmail, timeout, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("%s -t -i: %w: %s", sendmail, err, bytes.TrimSpace(out))
	}
	return nil
}
