package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestLoggerStamps: each line has its own time stamp, though the logger formats a
// millisecond's only once.
func TestLoggerStamps(t *testing.T) {
	t0 := time.Date(2026, 8, 15, 0, 5, 0, 7_000_000, time.UTC)
	times := []time.Time{t0, t0.Add(500 * time.Microsecond), t0.Add(time.Millisecond), t0.Add(time.Hour), t0}
	want := []string{"2026-08-15 00:05:00,007", "2026-08-15 00:05:00,007", "2026-08-15 00:05:00,008", "2026-08-15 01:05:00,007", "2026-08-15 00:05:00,007"}
	var out bytes.Buffer
	l := newLogger(levelInfo, &out)
	i := 0
	l.clock = func() time.Time { i++; return times[i-1] }
	for range times {
		l.logf(levelNotice, "actions", "j", "Ban %s", "192.0.2.7")
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, line := range lines {
		if !strings.HasPrefix(line, want[i]+" fail2ban-scan.actions [") || !strings.HasSuffix(line, "]: NOTICE  [j] Ban 192.0.2.7") {
			t.Errorf("line %d: %q, want the stamp %s", i, line, want[i])
		}
	}
}
