package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/journaltest"
)

// jt0 is the time of the newest entry of the journals the tests build.
var jt0 = time.Date(2026, 8, 15, 22, 34, 53, 85123000, time.UTC)

// sasl returns a postfix SASL failure entry at jt0+d from ip.
func sasl(d time.Duration, ip string) journaltest.Entry {
	return journaltest.Entry{
		Realtime:   jt0.Add(d),
		Hostname:   "mail",
		Identifier: "postfix/smtpd",
		PID:        950,
		Unit:       "postfix.service",
		Message:    "warning: unknown[" + ip + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
	}
}

// sshd returns an entry of another unit at jt0+d.
func sshd(d time.Duration, msg string) journaltest.Entry {
	return journaltest.Entry{
		Realtime: jt0.Add(d), Hostname: "mail", Identifier: "sshd", PID: 77,
		Unit: "ssh.service", Message: msg,
	}
}

// wantLine is the line ReadJournal makes of a full entry, in the local time zone.
func wantLine(e journaltest.Entry) string {
	return fmt.Sprintf("%s %s %s[%d]: %s", e.Realtime.In(time.Local).Format(journalTimeLayout),
		e.Hostname, e.Identifier, e.PID, e.Message)
}

func wantLines(es ...journaltest.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, wantLine(e))
	}
	return out
}

type readResult struct {
	lines []string
	next  string
	n     int64
	stale bool
	err   error
}

func readJournal(t *testing.T, q JournalQuery, cursor string) readResult {
	t.Helper()
	var r readResult
	r.next, r.n, r.stale, r.err = ReadJournal(context.Background(), q, cursor, func(line []byte) {
		r.lines = append(r.lines, string(line))
	})
	if r.n != int64(len(r.lines)) {
		t.Errorf("n = %d, but %d lines were delivered", r.n, len(r.lines))
	}
	return r
}

func checkLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("lines:\n got %q\nwant %q", got, want)
	}
}

func TestReadJournalFirstRun(t *testing.T) {
	journaltest.Require(t)
	old := sasl(-20*time.Minute, "192.0.2.1")
	atSince := sasl(-10*time.Minute, "192.0.2.2")
	recent := sasl(-5*time.Minute, "192.0.2.3")
	last := sasl(0, "192.0.2.4")
	j := journaltest.New(t)
	j.Append(t, old, atSince, recent, last)
	cursors := j.Cursors(t)

	tests := []struct {
		name  string
		since time.Time
		want  []string
	}{
		{"since findtime ago, inclusive", jt0.Add(-10 * time.Minute), wantLines(atSince, recent, last)},
		{"since a microsecond later", jt0.Add(-10*time.Minute + time.Microsecond), wantLines(recent, last)},
		{"zero since reads everything", time.Time{}, wantLines(old, atSince, recent, last)},
		{"since after the last entry", jt0.Add(time.Second), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readJournal(t, JournalQuery{Directory: j.Dir, Since: tt.since}, "")
			if r.err != nil || r.stale {
				t.Fatalf("err = %v, stale = %v", r.err, r.stale)
			}
			checkLines(t, r.lines, tt.want)
			wantNext := ""
			if len(tt.want) > 0 {
				wantNext = cursors[len(cursors)-1]
			}
			if r.next != wantNext {
				t.Errorf("next = %q, want %q", r.next, wantNext)
			}
		})
	}
}

// TestReadJournalRuns reads a journal in several runs with entries added between them: every
// entry is delivered exactly once, and a run with nothing new keeps the cursor.
func TestReadJournalRuns(t *testing.T) {
	journaltest.Require(t)
	j := journaltest.New(t)
	q := JournalQuery{Directory: j.Dir, Matches: []string{"_SYSTEMD_UNIT=postfix.service"}, Since: jt0.Add(-time.Hour)}

	runs := []struct {
		name   string
		append []journaltest.Entry
		want   []journaltest.Entry
	}{
		{"first run", []journaltest.Entry{sasl(-50*time.Minute, "192.0.2.1"), sasl(-40*time.Minute, "192.0.2.2")}, nil},
		{"two new", []journaltest.Entry{sasl(-30*time.Minute, "192.0.2.3"), sshd(-29*time.Minute, "sshd noise"), sasl(-28*time.Minute, "192.0.2.4")}, nil},
		{"nothing new", nil, nil},
		{"only other units", []journaltest.Entry{sshd(-20*time.Minute, "more noise")}, nil},
		{"one new", []journaltest.Entry{sasl(-10*time.Minute, "192.0.2.5")}, nil},
		{"nothing new again", nil, nil},
		{"many new", func() []journaltest.Entry {
			var es []journaltest.Entry
			for i := range 300 {
				es = append(es, sasl(-9*time.Minute+time.Duration(i)*time.Second, fmt.Sprintf("198.51.100.%d", i%250)))
			}
			return es
		}(), nil},
	}
	for i := range runs {
		for _, e := range runs[i].append {
			if e.Unit == "postfix.service" {
				runs[i].want = append(runs[i].want, e)
			}
		}
	}

	cursor := ""
	var all []string
	for _, run := range runs {
		if len(run.append) > 0 {
			j.Append(t, run.append...)
		}
		t.Run(run.name, func(t *testing.T) {
			r := readJournal(t, q, cursor)
			if r.err != nil || r.stale {
				t.Fatalf("err = %v, stale = %v", r.err, r.stale)
			}
			checkLines(t, r.lines, wantLines(run.want...))
			if len(run.want) == 0 && r.next != cursor {
				t.Errorf("nothing new: next = %q, want the cursor unchanged %q", r.next, cursor)
			}
			if len(run.want) > 0 && r.next == cursor {
				t.Errorf("next = the old cursor %q after %d new entries", r.next, len(run.want))
			}
			all = append(all, r.lines...)
			cursor = r.next
		})
	}
	// Everything the runs delivered is every postfix entry, once.
	r := readJournal(t, JournalQuery{Directory: j.Dir, Matches: q.Matches}, "")
	checkLines(t, all, r.lines)
}

// TestReadJournalStale checks each kind of cursor the journal no longer knows: reading falls
// back to Since and reports stale.
func TestReadJournalStale(t *testing.T) {
	journaltest.Require(t)
	e1 := sasl(-30*time.Minute, "192.0.2.1")
	e2 := sasl(-20*time.Minute, "192.0.2.2")
	e3 := sasl(-8*time.Minute, "192.0.2.3")
	e4 := sasl(-4*time.Minute, "192.0.2.4")
	since := jt0.Add(-10 * time.Minute)

	tests := []struct {
		name string
		// setup builds the journal directory and returns the stored cursor.
		setup    func(t *testing.T, j *journaltest.Journal) string
		want     []journaltest.Entry
		wantNext int // index into the final cursors of the journal, -1 = ""
	}{
		{
			name: "cursor of another machine's journal",
			setup: func(t *testing.T, j *journaltest.Journal) string {
				other := journaltest.New(t)
				// Its entry lies between e1 and e2: journalctl seeks to e2 by time.
				other.Append(t, sasl(-25*time.Minute, "203.0.113.9"))
				j.Append(t, e1, e2, e3, e4)
				return other.Cursors(t)[0]
			},
			want: []journaltest.Entry{e3, e4}, wantNext: 3,
		},
		{
			name: "cursor older than every entry left (vacuumed)",
			setup: func(t *testing.T, j *journaltest.Journal) string {
				j.Append(t, e1, e2, e3, e4)
				// The same journal (seqnum ID, boot) one entry before its oldest one: what a
				// cursor into a vacuumed archive looks like.
				f, _ := parseCursor(j.Cursors(t)[0])
				return fmt.Sprintf("s=%s;i=0;b=%s;m=0;t=%x;x=1234", f["s"], f["b"], e1.Realtime.Add(-time.Hour).UnixMicro())
			},
			want: []journaltest.Entry{e3, e4}, wantNext: 3,
		},
		{
			name: "file of the cursor deleted, newer file kept",
			setup: func(t *testing.T, j *journaltest.Journal) string {
				j.File = "system@old.journal"
				j.Append(t, e1, e2)
				c := j.Cursors(t)[0]
				j.File = "system.journal"
				j.Append(t, e3, e4)
				if err := os.Remove(filepath.Join(j.Dir, "system@old.journal")); err != nil {
					t.Fatal(err)
				}
				return c
			},
			want: []journaltest.Entry{e3, e4}, wantNext: 1,
		},
		{
			name: "journal replaced by an older copy, cursor past its end",
			setup: func(t *testing.T, j *journaltest.Journal) string {
				j.Append(t, e1, e2)
				snapshot, err := os.ReadFile(j.Path())
				if err != nil {
					t.Fatal(err)
				}
				j.Append(t, sasl(-15*time.Minute, "203.0.113.1"), sasl(-14*time.Minute, "203.0.113.2"))
				c := j.Cursors(t)[3]
				if err := os.WriteFile(j.Path(), snapshot, 0o640); err != nil {
					t.Fatal(err)
				}
				j.Append(t, e3)
				return c
			},
			want: []journaltest.Entry{e3}, wantNext: 2,
		},
		{
			name: "journal replaced by an older copy, another entry at the cursor's seqnum",
			setup: func(t *testing.T, j *journaltest.Journal) string {
				j.Append(t, e1, e2)
				snapshot, err := os.ReadFile(j.Path())
				if err != nil {
					t.Fatal(err)
				}
				j.Append(t, sasl(-15*time.Minute, "203.0.113.1"))
				c := j.Cursors(t)[2]
				if err := os.WriteFile(j.Path(), snapshot, 0o640); err != nil {
					t.Fatal(err)
				}
				j.Append(t, e3, e4) // e3 gets the seqnum the cursor holds
				return c
			},
			want: []journaltest.Entry{e3, e4}, wantNext: 3,
		},
		{
			name: "garbage cursor",
			setup: func(t *testing.T, j *journaltest.Journal) string {
				j.Append(t, e1, e2, e3, e4)
				return "garbage"
			},
			want: []journaltest.Entry{e3, e4}, wantNext: 3,
		},
		{
			name: "cursor missing fields, which journalctl would accept",
			setup: func(t *testing.T, j *journaltest.Journal) string {
				j.Append(t, e1, e2, e3, e4)
				f, _ := parseCursor(j.Cursors(t)[3])
				return "t=" + f["t"]
			},
			want: []journaltest.Entry{e3, e4}, wantNext: 3,
		},
		{
			name: "entry of the cursor no longer matches",
			setup: func(t *testing.T, j *journaltest.Journal) string {
				j.Append(t, e1, sshd(-9*time.Minute, "noise"), e3, e4)
				return j.Cursors(t)[1]
			},
			want: []journaltest.Entry{e3, e4}, wantNext: 3,
		},
		{
			name: "empty journal",
			setup: func(t *testing.T, j *journaltest.Journal) string {
				other := journaltest.New(t)
				other.Append(t, e1)
				return other.Cursors(t)[0]
			},
			want: nil, wantNext: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := journaltest.New(t)
			cursor := tt.setup(t, j)
			r := readJournal(t, JournalQuery{Directory: j.Dir, Since: since, Matches: []string{"_SYSTEMD_UNIT=postfix.service"}}, cursor)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !r.stale {
				t.Errorf("stale = false, want true")
			}
			checkLines(t, r.lines, wantLines(tt.want...))
			wantNext := ""
			if tt.wantNext >= 0 {
				wantNext = j.Cursors(t)[tt.wantNext]
			}
			if r.next != wantNext {
				t.Errorf("next = %q, want %q", r.next, wantNext)
			}
		})
	}
}

func TestReadJournalEntryShape(t *testing.T) {
	journaltest.Require(t)
	bare := journaltest.Entry{Realtime: jt0, Message: "no host, no identifier, no pid"}
	tests := []struct {
		name  string
		entry journaltest.Entry
		want  string
	}{
		{"postfix", sasl(0, "192.0.2.7"), wantLine(sasl(0, "192.0.2.7"))},
		{
			"not UTF-8 and newlines",
			journaltest.Entry{Realtime: jt0, Hostname: "mail", Identifier: "postfix/smtpd", PID: 950,
				Message: "warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: \xff\xfe\x00x\nsecond line\r\n"},
			jt0.In(time.Local).Format(journalTimeLayout) + " mail postfix/smtpd[950]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: \xff\xfe\x00x second line",
		},
		{"hostile text", journaltest.Entry{Realtime: jt0, Hostname: "mail", Identifier: "postfix/smtpd", PID: 1,
			Message: `"; rm -rf / $(reboot) \u0000 {"MESSAGE":"x"}`},
			jt0.In(time.Local).Format(journalTimeLayout) + ` mail postfix/smtpd[1]: "; rm -rf / $(reboot) \u0000 {"MESSAGE":"x"}`},
		{"bare", bare, jt0.In(time.Local).Format(journalTimeLayout) + " - -: no host, no identifier, no pid"},
		{"comm and syslog pid", journaltest.Entry{Realtime: jt0, Hostname: "mx", Message: "m",
			Fields: map[string]string{"_COMM": "smtpd", "SYSLOG_PID": "42"}},
			jt0.In(time.Local).Format(journalTimeLayout) + " mx smtpd[42]: m"},
		{"blanks and newlines in host and identifier", journaltest.Entry{Realtime: jt0, Hostname: "my host", Identifier: "a b\nc", PID: 3, Message: "m"},
			jt0.In(time.Local).Format(journalTimeLayout) + " my_host a_b_c[3]: m"},
		{"big message", journaltest.Entry{Realtime: jt0, Hostname: "mail", Identifier: "postfix/smtpd", PID: 9,
			Message: strings.Repeat("A", 100000)},
			jt0.In(time.Local).Format(journalTimeLayout) + " mail postfix/smtpd[9]: " + strings.Repeat("A", 100000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := journaltest.New(t)
			j.Append(t, tt.entry)
			r := readJournal(t, JournalQuery{Directory: j.Dir}, "")
			if r.err != nil {
				t.Fatal(r.err)
			}
			checkLines(t, r.lines, []string{tt.want})
		})
	}
}

func TestReadJournalMatches(t *testing.T) {
	journaltest.Require(t)
	p := sasl(-3*time.Minute, "192.0.2.1")
	s := sshd(-2*time.Minute, "Failed password for root from 192.0.2.9")
	other := journaltest.Entry{Realtime: jt0.Add(-time.Minute), Hostname: "mail", Identifier: "dovecot", PID: 5, Unit: "dovecot.service", Message: "auth failed"}
	j := journaltest.New(t)
	j.Append(t, p, s, other)
	tests := []struct {
		name    string
		matches []string
		want    []journaltest.Entry
	}{
		{"none", nil, []journaltest.Entry{p, s, other}},
		{"one unit", []string{"_SYSTEMD_UNIT=postfix.service"}, []journaltest.Entry{p}},
		{"or", []string{"_SYSTEMD_UNIT=postfix.service", "+", "_SYSTEMD_UNIT=dovecot.service"}, []journaltest.Entry{p, other}},
		{"and", []string{"_SYSTEMD_UNIT=postfix.service", "_PID=77"}, nil},
		{"identifier", []string{"SYSLOG_IDENTIFIER=sshd"}, []journaltest.Entry{s}},
		{"term that looks like an option", []string{"--since=@0"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readJournal(t, JournalQuery{Directory: j.Dir, Matches: tt.matches}, "")
			if tt.name == "term that looks like an option" {
				// journalctl must see it as a match and reject it, not take it as an option.
				if r.err == nil || !strings.Contains(r.err.Error(), "--since=@0") {
					t.Fatalf("err = %v, want journalctl rejecting the match --since=@0", r.err)
				}
				return
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			checkLines(t, r.lines, wantLines(tt.want...))
		})
	}
}

func TestReadJournalSources(t *testing.T) {
	journaltest.Require(t)
	e1 := sasl(-2*time.Minute, "192.0.2.1")
	e2 := sasl(-time.Minute, "192.0.2.2")
	j := journaltest.New(t)
	j.Append(t, e1)
	j.File = "remote-b.journal"
	j.Append(t, e2)
	tests := []struct {
		name string
		dir  string
		want []journaltest.Entry
	}{
		{"directory reads every file, by time", j.Dir, []journaltest.Entry{e1, e2}},
		{"one file", filepath.Join(j.Dir, "system.journal"), []journaltest.Entry{e1}},
		{"glob", filepath.Join(j.Dir, "remote-*.journal"), []journaltest.Entry{e2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readJournal(t, JournalQuery{Directory: tt.dir}, "")
			if r.err != nil {
				t.Fatal(r.err)
			}
			checkLines(t, r.lines, wantLines(tt.want...))
		})
	}
}

func TestReadJournalErrors(t *testing.T) {
	journaltest.Require(t)
	j := journaltest.New(t)
	j.Append(t, sasl(0, "192.0.2.1"))
	cursor := j.Cursors(t)[0]
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	tests := []struct {
		name    string
		q       JournalQuery
		wantErr []string
	}{
		{"journalctl missing", JournalQuery{Directory: j.Dir, Journalctl: "/nonexistent/journalctl"},
			[]string{"/nonexistent/journalctl", "no such file or directory"}},
		{"journalctl not in PATH", JournalQuery{Directory: j.Dir, Journalctl: "no-such-journalctl"},
			[]string{"no-such-journalctl", "not found"}},
		{"journalctl failing", JournalQuery{Directory: j.Dir, Journalctl: "false"},
			[]string{"false --output=json", "exit status 1"}},
		{"directory missing", JournalQuery{Directory: missing},
			[]string{missing, "no such file or directory"}},
		{"glob matching nothing", JournalQuery{Directory: missing + "/*.journal"},
			[]string{missing + "/*.journal", "exit status 1", "Failed to open files"}},
		{"bad match", JournalQuery{Directory: j.Dir, Matches: []string{"notamatch"}},
			[]string{"notamatch", "exit status 1", "Failed to add match"}},
		{"glob, journalctl failing", JournalQuery{Directory: j.Dir, Journalctl: "false", Matches: []string{"_SYSTEMD_UNIT=postfix@*.service"}},
			[]string{"expand journalmatch _SYSTEMD_UNIT=postfix@*.service", "false --no-pager --directory=" + j.Dir + " --field=_SYSTEMD_UNIT", "exit status 1"}},
		{"glob on files matching nothing", JournalQuery{Directory: missing + "/*.journal", Matches: []string{"_SYSTEMD_UNIT=postfix@*.service"}},
			[]string{"--field=_SYSTEMD_UNIT", missing + "/*.journal", "exit status 1", "Failed to open files"}},
		{"bad glob", JournalQuery{Directory: j.Dir, Matches: []string{"_SYSTEMD_UNIT=postfix@[.service"}},
			[]string{"_SYSTEMD_UNIT=postfix@[.service", "syntax error in pattern"}},
	}
	for _, tt := range tests {
		for _, cur := range []string{"", cursor} {
			t.Run(fmt.Sprintf("%s/cursor=%v", tt.name, cur != ""), func(t *testing.T) {
				r := readJournal(t, tt.q, cur)
				if r.err == nil {
					t.Fatalf("err = nil, lines %q", r.lines)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(r.err.Error(), w) {
						t.Errorf("err = %q, want it to contain %q", r.err, w)
					}
				}
				if r.next != cur || r.n != 0 || r.stale {
					t.Errorf("next, n, stale = %q, %d, %v; want %q, 0, false", r.next, r.n, r.stale, cur)
				}
			})
		}
	}
}

func TestReadJournalCancel(t *testing.T) {
	journaltest.Require(t)
	j := journaltest.New(t)
	var es []journaltest.Entry
	for i := range 50 {
		es = append(es, sasl(time.Duration(i)*time.Second, "192.0.2.1"))
	}
	j.Append(t, es...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lines int
	next, n, stale, err := ReadJournal(ctx, JournalQuery{Directory: j.Dir}, "", func([]byte) {
		lines++
		if lines == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n != 3 || lines != 3 || stale || next != j.Cursors(t)[2] {
		t.Errorf("n, lines, stale, next = %d, %d, %v, %q; want 3, 3, false, the third cursor", n, lines, stale, next)
	}
}

func TestAppendLineZones(t *testing.T) {
	e := journalEntry{
		Cursor:     "c",
		Realtime:   json.RawMessage(`"1786833293085123"`),
		Hostname:   json.RawMessage(`"mail"`),
		Identifier: json.RawMessage(`"postfix/smtpd"`),
		PID:        json.RawMessage(`"950"`),
		Message:    json.RawMessage(`"warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"`),
	}
	tests := []struct {
		loc  *time.Location
		want string
	}{
		{time.UTC, "2026-08-15T22:34:53.085123+00:00 mail postfix/smtpd[950]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"},
		{time.FixedZone("JST", 9*3600), "2026-08-16T07:34:53.085123+09:00 mail postfix/smtpd[950]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"},
		{time.FixedZone("X", -(3*3600 + 1800)), "2026-08-15T19:04:53.085123-03:30 mail postfix/smtpd[950]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"},
	}
	for _, tt := range tests {
		t.Run(tt.loc.String(), func(t *testing.T) {
			got, err := e.appendLine(nil, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestFieldValue(t *testing.T) {
	tests := []struct {
		raw     string
		want    string
		wantNil bool
		wantErr string
	}{
		{raw: ``, wantNil: true},
		{raw: `null`, wantNil: true},
		{raw: `"plain"`, want: "plain"},
		{raw: `"a\nb\u0001"`, want: "a\nb\x01"},
		{raw: `[116, 119, 111, 10, 255]`, want: "two\n\xff"},
		{raw: `[]`, want: ""},
		{raw: `["first","second"]`, want: "second"},
		{raw: `[[255],"ok"]`, want: "ok"},
		{raw: `["ok",[255, 254]]`, want: "\xff\xfe"},
		{raw: `[256]`, wantErr: "byte array"},
		{raw: `{"a":1}`, wantErr: "unexpected JSON value"},
		{raw: `12`, wantErr: "unexpected JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			got, err := fieldValue(json.RawMessage(tt.raw))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != tt.wantNil || string(got) != tt.want {
				t.Errorf("got %q (nil %v), want %q (nil %v)", got, got == nil, tt.want, tt.wantNil)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	const c = "s=ff49fd356bf643778eebc7d4a28f32e5;i=1;b=0123456789abcdef0123456789abcdef;m=1;t=6591d8bb509c3;x=401daaaa05c0aee3"
	tests := []struct {
		a, b      string
		wantValid bool // a parses
		wantSame  bool
	}{
		{c, c, true, true},
		{c, strings.Replace(c, "ff49fd356bf643778eebc7d4a28f32e5", "FF49FD356BF643778EEBC7D4A28F32E5", 1), true, true},
		{"i=1;s=ff49fd356bf643778eebc7d4a28f32e5;b=0123456789abcdef0123456789abcdef;m=1;t=6591d8bb509c3;x=401daaaa05c0aee3", c, true, true},
		{strings.Replace(c, "i=1;", "i=2;", 1), c, true, false},
		{strings.Replace(c, "x=401d", "x=501d", 1), c, true, false},
		{"garbage", c, false, false},
		{"", c, false, false},
		{"t=6591d8bb509c3", c, false, false},
		{c + ";i=1", c, false, false},
		{strings.Replace(c, "m=1", "m=zz", 1), c, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.a, func(t *testing.T) {
			if _, ok := parseCursor(tt.a); ok != tt.wantValid {
				t.Errorf("parseCursor ok = %v, want %v", ok, tt.wantValid)
			}
			if got := sameCursor(tt.a, tt.b); got != tt.wantSame {
				t.Errorf("sameCursor = %v, want %v", got, tt.wantSame)
			}
		})
	}
}
