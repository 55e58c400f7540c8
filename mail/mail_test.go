package mail

import (
	"io"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"testing"
	"time"
)

func TestBytes(t *testing.T) {
	m := Message{To: "a@example.org", Subject: "Bericht für mx1 ▁▃█", Date: time.Unix(0, 0).UTC(), Text: "ä\n" + strings.Repeat("█", 60) + "\n"}
	data, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := netmail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("From") != "" {
		t.Errorf("From %q, want none (sendmail sets it)", msg.Header.Get("From"))
	}
	if s, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); s != m.Subject {
		t.Errorf("Subject %q, want %q", s, m.Subject)
	}
	if ct := msg.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if string(body) != strings.ReplaceAll(m.Text, "\n", "\r\n") {
		t.Errorf("body %q", body)
	}
	for _, l := range strings.Split(string(data), "\r\n") {
		if len(l) > 78 {
			t.Errorf("line of %d bytes: %q", len(l), l)
		}
	}
}

func TestBytesRefusesHeaderInjection(t *testing.T) {
	for _, m := range []Message{
		{To: "a@example.org\r\nBcc: b@example.org", Text: "x"},
		{To: "a@example.org", Subject: "x\nBcc: b@example.org", Text: "x"},
		{Text: "no recipient"},
	} {
		if _, err := m.Bytes(); err == nil {
			t.Errorf("%+v: no error", m)
		}
	}
}
