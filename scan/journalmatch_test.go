package scan

import (
	"slices"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/journaltest"
)

func TestExpandWith(t *testing.T) {
	values := map[string][]string{
		"_SYSTEMD_UNIT":     {"postfix.service", "postfix@-.service", "postfix@out.service", "sshd.service"},
		"SYSLOG_IDENTIFIER": {"postfix/smtpd", "sshd"},
	}
	tests := []struct {
		name     string
		matches  []string
		want     []string
		wantNone bool
	}{
		{"glob becomes an OR of the same field",
			[]string{"_SYSTEMD_UNIT=postfix.service", "_SYSTEMD_UNIT=postfix@*.service"},
			[]string{"_SYSTEMD_UNIT=postfix.service", "_SYSTEMD_UNIT=postfix@-.service", "_SYSTEMD_UNIT=postfix@out.service"}, false},
		{"question mark and class",
			[]string{"_SYSTEMD_UNIT=postfix@?.service", "+", "_SYSTEMD_UNIT=[rs]shd.service"},
			[]string{"_SYSTEMD_UNIT=postfix@-.service", "+", "_SYSTEMD_UNIT=sshd.service"}, false},
		{"star does not cross a slash",
			[]string{"SYSLOG_IDENTIFIER=*"},
			[]string{"SYSLOG_IDENTIFIER=sshd"}, false},
		{"other fields stay ANDed",
			[]string{"_SYSTEMD_UNIT=postfix@*.service", "_PID=950"},
			[]string{"_SYSTEMD_UNIT=postfix@-.service", "_SYSTEMD_UNIT=postfix@out.service", "_PID=950"}, false},
		{"no match beside an exact term of its field drops out",
			[]string{"_SYSTEMD_UNIT=postfix.service", "_SYSTEMD_UNIT=exim*.service"},
			[]string{"_SYSTEMD_UNIT=postfix.service"}, false},
		{"no match empties its group, the other group stays",
			[]string{"_SYSTEMD_UNIT=exim*.service", "_PID=1", "+", "SYSLOG_IDENTIFIER=sshd"},
			[]string{"SYSLOG_IDENTIFIER=sshd"}, false},
		{"no match in the last group",
			[]string{"SYSLOG_IDENTIFIER=sshd", "+", "_SYSTEMD_UNIT=exim*.service"},
			[]string{"SYSLOG_IDENTIFIER=sshd"}, false},
		{"no match anywhere matches nothing",
			[]string{"_SYSTEMD_UNIT=exim*.service"}, nil, true},
		{"no match in every group matches nothing",
			[]string{"_SYSTEMD_UNIT=exim*.service", "+", "_SYSTEMD_UNIT=postfix@*.service", "SYSLOG_IDENTIFIER=x*"}, nil, true},
		{"field without values matches nothing",
			[]string{"NO_SUCH_FIELD=*"}, nil, true},
		{"misplaced + kept for journalctl to reject",
			[]string{"+", "_SYSTEMD_UNIT=postfix@-*"},
			[]string{"+", "_SYSTEMD_UNIT=postfix@-.service"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, none := expandWith(tt.matches, values)
			if !slices.Equal(got, tt.want) || none != tt.wantNone {
				t.Errorf("expandWith(%q) = %q, none %v; want %q, none %v", tt.matches, got, none, tt.want, tt.wantNone)
			}
		})
	}
}

// postfixUnits returns SASL failures from ip of each postfix unit Debian may run, and of an
// unrelated unit whose line the postfix filters would match, one a second from jt0+d.
func postfixUnits(d time.Duration, ip string) (postfix, instance, other, unrelated journaltest.Entry) {
	e := func(i int, unit string) journaltest.Entry {
		x := sasl(d+time.Duration(i)*time.Second, ip)
		x.Unit, x.PID = unit, 950+i
		return x
	}
	return e(0, "postfix.service"), e(1, "postfix@-.service"), e(2, "postfix@out.service"), e(3, "sshd.service")
}

// TestReadJournalGlobMatches reads a real journal with glob terms: the default journalmatch
// reads postfix.service and every postfix@ instance, Debian 12's postfix@-.service included,
// and a glob matching no value reads nothing, never everything.
func TestReadJournalGlobMatches(t *testing.T) {
	journaltest.Require(t)
	p, deb, out, other := postfixUnits(-time.Minute, "192.0.2.1")
	j := journaltest.New(t)
	j.Append(t, p, deb, out, other)
	tests := []struct {
		name    string
		matches []string
		want    []journaltest.Entry
	}{
		{"default", []string{"_SYSTEMD_UNIT=postfix.service", "_SYSTEMD_UNIT=postfix@*.service"}, []journaltest.Entry{p, deb, out}},
		{"instances", []string{"_SYSTEMD_UNIT=postfix@*.service"}, []journaltest.Entry{deb, out}},
		{"one character", []string{"_SYSTEMD_UNIT=postfix@?.service"}, []journaltest.Entry{deb}},
		{"glob and another field", []string{"_SYSTEMD_UNIT=postfix@*.service", "_PID=952"}, []journaltest.Entry{out}},
		{"glob or another unit", []string{"_SYSTEMD_UNIT=postfix@-*", "+", "_SYSTEMD_UNIT=sshd.service"}, []journaltest.Entry{deb, other}},
		{"glob matching nothing", []string{"_SYSTEMD_UNIT=exim*.service"}, nil},
		{"glob matching nothing or a unit", []string{"_SYSTEMD_UNIT=exim*.service", "+", "_SYSTEMD_UNIT=sshd.service"}, []journaltest.Entry{other}},
		{"field absent", []string{"NO_SUCH_FIELD=*"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readJournal(t, JournalQuery{Directory: j.Dir, Matches: tt.matches}, "")
			if r.err != nil || r.stale {
				t.Fatalf("err = %v, stale = %v", r.err, r.stale)
			}
			checkLines(t, r.lines, wantLines(tt.want...))
		})
	}
}

// TestReadJournalGlobRuns reads with a glob in runs: an instance that appears later is read
// after the cursor, and a glob that matches nothing keeps the cursor.
func TestReadJournalGlobRuns(t *testing.T) {
	journaltest.Require(t)
	def := []string{"_SYSTEMD_UNIT=postfix.service", "_SYSTEMD_UNIT=postfix@*.service"}
	p, deb, _, _ := postfixUnits(-time.Minute, "192.0.2.1")
	j := journaltest.New(t)
	j.Append(t, p, deb)
	r := readJournal(t, JournalQuery{Directory: j.Dir, Matches: def}, "")
	if r.err != nil || r.stale {
		t.Fatalf("run 1: err = %v, stale = %v", r.err, r.stale)
	}
	checkLines(t, r.lines, wantLines(p, deb))
	cursor := r.next

	_, deb2, out2, other2 := postfixUnits(0, "192.0.2.2")
	out2.Unit = "postfix@new.service"
	j.Append(t, deb2, out2, other2)
	r = readJournal(t, JournalQuery{Directory: j.Dir, Matches: def}, cursor)
	if r.err != nil || r.stale {
		t.Fatalf("run 2: err = %v, stale = %v", r.err, r.stale)
	}
	checkLines(t, r.lines, wantLines(deb2, out2))
	if cs := j.Cursors(t); r.next != cs[len(cs)-2] {
		t.Errorf("run 2: next = %q, want the cursor of the new instance's entry %q", r.next, cs[len(cs)-2])
	}

	r = readJournal(t, JournalQuery{Directory: j.Dir, Matches: []string{"_SYSTEMD_UNIT=exim*.service"}}, cursor)
	if r.err != nil || r.stale || r.next != cursor || len(r.lines) != 0 {
		t.Errorf("glob matching nothing: next, stale, err, lines = %q, %v, %v, %q; want the cursor kept, nothing read", r.next, r.stale, r.err, r.lines)
	}
}
