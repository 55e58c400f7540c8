package main

import (
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sendmailScript writes a sendmail-compatible script that stores its arguments and the message
// it reads, and exits with code after printing stderr.
func sendmailScript(t *testing.T, code int, stderr string) (path, dir string) {
	dir = t.TempDir()
	path = filepath.Join(dir, "sendmail")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + dir + "/argv\ncat > " + dir + "/message\n"
	if code != 0 {
		script += "echo '" + stderr + "' >&2\nexit " + string(rune('0'+code)) + "\n"
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

// TestReportMail delivers the report through a real sendmail-compatible script and checks
// what it received: argv, headers, and the multipart/alternative body whose parts are the
// text and HTML reports.
func TestReportMail(t *testing.T) {
	sendmail, dir := sendmailScript(t, 0, "")
	cfg := reportFixture(t, "report:\n  mail_to: admin@example.org\n  mail_from: f2b@mx1.example.org\n  sendmail: "+sendmail+"\n")
	args := []string{"--config", cfg, "--now", "2026-08-16T00:00:00Z", "report", "--since", "6h"}
	code, _, stderr := runCLI(t, append(args, "--mail")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	argv, err := os.ReadFile(filepath.Join(dir, "argv"))
	if err != nil {
		t.Fatal(err)
	}
	if string(argv) != "-t\n-i\n" {
		t.Errorf("sendmail argv %q, want -t -i", argv)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "message"))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("the message does not parse: %v\n%s", err, raw)
	}
	host, _ := os.Hostname()
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	// Both jails: 24 + 2 failures, 5 distinct IPs (198.51.100.99 only in submission), 4 bans.
	wantSubject := "fail2ban-scan report for " + host + ": 2026-08-15 18:00 UTC to 2026-08-16 00:00 UTC (6 h): 26 failures from 5 IPs, 4 bans"
	for k, want := range map[string]string{"To": "admin@example.org", "From": "f2b@mx1.example.org", "MIME-Version": "1.0",
		"Date": "Sun, 16 Aug 2026 00:00:00 +0000"} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if subject != wantSubject {
		t.Errorf("Subject %q\nwant    %q", subject, wantSubject)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	_, text, _ := runCLI(t, args...)
	_, html, _ := runCLI(t, append(args, "--html")...)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for _, want := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", html}} {
		p, err := mr.NextRawPart() // raw: the test decodes the quoted-printable itself
		if err != nil {
			t.Fatalf("part %s: %v", want.typ, err)
		}
		if ct := p.Header.Get("Content-Type"); ct != want.typ+"; charset=utf-8" {
			t.Errorf("part Content-Type %q, want %s; charset=utf-8", ct, want.typ)
		}
		if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("part %s: Content-Transfer-Encoding %q", want.typ, cte)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != want.body {
			t.Errorf("part %s differs from the report:\n%s", want.typ, got)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("more than two parts: %v", err)
	}
	for i, l := range strings.Split(string(raw), "\r\n") {
		if len(l) > 78 && !strings.HasPrefix(l, "Subject:") {
			t.Errorf("line %d of the message is %d bytes long", i+1, len(l))
		}
	}
}

func TestReportMailErrors(t *testing.T) {
	failing, _ := sendmailScript(t, 3, "queue full")
	cfg := reportFixture(t, "report:\n  sendmail: "+failing+"\n")
	code, _, stderr := runCLI(t, "--config", cfg, "--now", "2026-08-16T00:00:00Z", "report", "--mail-to", "a@example.org")
	if code != 1 || !strings.Contains(stderr, failing+" -t -i: exit status 3: queue full") {
		t.Errorf("exit %d, stderr %q; want 1 naming the program, its status and its stderr", code, stderr)
	}
	cfg = reportFixture(t, "report:\n  sendmail: "+filepath.Join(t.TempDir(), "nosuch")+"\n")
	code, _, stderr = runCLI(t, "--config", cfg, "--now", "2026-08-16T00:00:00Z", "report", "--mail-to", "a@example.org")
	if code != 1 || !strings.Contains(stderr, "nosuch -t -i:") {
		t.Errorf("exit %d, stderr %q; want 1 naming the missing sendmail", code, stderr)
	}
}
