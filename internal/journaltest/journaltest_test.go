package journaltest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestExportWriter(t *testing.T) {
	var buf bytes.Buffer
	x := &ExportWriter{W: &buf, BootID: "0123456789abcdef0123456789abcdef"}
	rt := time.UnixMicro(1786833293085123)
	if err := x.Write(Entry{Realtime: rt, Hostname: "mail", Identifier: "postfix/smtpd", PID: 950, Unit: "postfix.service", Message: "hello"}); err != nil {
		t.Fatal(err)
	}
	if err := x.Write(Entry{Realtime: rt, Message: "a\nb\xff", Fields: map[string]string{"Z": "z", "A": "a"}}); err != nil {
		t.Fatal(err)
	}
	want := "__REALTIME_TIMESTAMP=1786833293085123\n__MONOTONIC_TIMESTAMP=1\n_BOOT_ID=0123456789abcdef0123456789abcdef\n" +
		"_HOSTNAME=mail\nSYSLOG_IDENTIFIER=postfix/smtpd\n_PID=950\n_SYSTEMD_UNIT=postfix.service\nMESSAGE=hello\n\n" +
		"__REALTIME_TIMESTAMP=1786833293085123\n__MONOTONIC_TIMESTAMP=2\n_BOOT_ID=0123456789abcdef0123456789abcdef\n" +
		"A=a\nZ=z\nMESSAGE\n\x04\x00\x00\x00\x00\x00\x00\x00a\nb\xff\n\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

// TestAppend checks that appending to the same file continues its sequence numbers, so
// earlier cursors stay valid, and that another file starts its own.
func TestAppend(t *testing.T) {
	Require(t)
	j := New(t)
	t0 := time.Date(2026, 8, 15, 22, 0, 0, 0, time.UTC)
	j.Append(t, Entry{Realtime: t0, Message: "one"}, Entry{Realtime: t0.Add(time.Second), Message: "two"})
	first := j.Cursors(t)
	j.Append(t, Entry{Realtime: t0.Add(2 * time.Second), Message: "three"})
	second := j.Cursors(t)
	if len(first) != 2 || len(second) != 3 {
		t.Fatalf("cursors %q then %q, want 2 then 3", first, second)
	}
	for i := range first {
		if first[i] != second[i] {
			t.Errorf("cursor %d changed: %q -> %q", i, first[i], second[i])
		}
	}
	seqnumID := func(c string) string { s, _, _ := strings.Cut(c, ";"); return s }
	if !strings.Contains(second[2], ";i=3;") || seqnumID(second[2]) != seqnumID(first[0]) {
		t.Errorf("appended entry %q does not continue %q", second[2], first[0])
	}
	j.File = "other.journal"
	j.Append(t, Entry{Realtime: t0.Add(3 * time.Second), Message: "four"})
	third := j.Cursors(t)
	if len(third) != 4 || seqnumID(third[3]) == seqnumID(first[0]) {
		t.Errorf("another file: cursors %q, want a 4th with its own seqnum ID", third)
	}
}

// TestRequire runs the test binary again without the tools on PATH: Require skips, or fails
// when FAIL2BAN_SCAN_REQUIRE_JOURNAL=1.
func TestRequire(t *testing.T) {
	if os.Getenv("JOURNALTEST_CHILD") == "1" {
		Require(t)
		return
	}
	for _, tt := range []struct {
		env     string
		wantErr bool
		want    string
	}{
		{"", false, "skipping: journal tools missing"},
		{"1", true, "journal tools required"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRequire$", "-test.v")
		cmd.Env = append(os.Environ(), "JOURNALTEST_CHILD=1", "PATH=/nonexistent", RequireEnv+"="+tt.env)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tt.wantErr || !strings.Contains(string(out), tt.want) {
			t.Errorf("%s=%q: err = %v, output:\n%s\nwant err %v and %q", RequireEnv, tt.env, err, out, tt.wantErr, tt.want)
		}
	}
}
