// Command journalbench builds a large journal with systemd-journal-remote and times
// scan.ReadJournal on it: a run with a few new entries after a cursor against a read of the
// whole journal. bench/journal.sh drives it.
//
//	journalbench build -dir DIR -n 1000000
//	journalbench read -dir DIR -new 1000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/journaltest"
	"github.com/fail2ban-scan/fail2ban-scan/scan"
)

// end is the time of the last entry; entries are spread evenly over the week before it.
var end = time.Date(2026, 8, 15, 22, 0, 0, 0, time.UTC)

const span = 7 * 24 * time.Hour

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: journalbench build|read [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "read":
		err = read(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "journalbench:", err)
		os.Exit(1)
	}
}

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	dir := fs.String("dir", "", "journal directory to create")
	n := fs.Int("n", 1000000, "entries")
	fs.Parse(args)
	j, err := journaltest.Open(*dir)
	if err != nil {
		return err
	}
	step := span / time.Duration(*n)
	start := time.Now()
	err = j.Write(context.Background(), func(emit func(journaltest.Entry) error) error {
		for i := range *n {
			if err := emit(entry(i, end.Add(-span+time.Duration(i+1)*step))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("built %d entries in %s: %.1fs\n", *n, *dir, time.Since(start).Seconds())
	return nil
}

// entry i: like a busy mail server, half SASL failures from a pool of addresses, the rest
// other postfix and sshd lines, many of them unique (as queue IDs make them).
func entry(i int, t time.Time) journaltest.Entry {
	ip := fmt.Sprintf("198.51.%d.%d", (i/250)%200, i%250)
	e := journaltest.Entry{Realtime: t, Hostname: "mail", Identifier: "postfix/smtpd", PID: 1000 + i%5000, Unit: "postfix.service"}
	switch i % 4 {
	case 0, 1:
		e.Message = "warning: unknown[" + ip + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
	case 2:
		e.Message = fmt.Sprintf("%010X: client=unknown[%s]", i, ip)
	case 3:
		e.Identifier, e.Unit, e.PID = "sshd", "ssh.service", 2000+i%3000
		e.Message = fmt.Sprintf("Connection closed by %s port %d [preauth]", ip, 1024+i%60000)
	}
	return e
}

func read(args []string) error {
	fs := flag.NewFlagSet("read", flag.ExitOnError)
	dir := fs.String("dir", "", "journal directory")
	newN := fs.Int("new", 1000, "new entries after the cursor")
	reps := fs.Int("reps", 5, "repetitions of the short runs (median shown)")
	fs.Parse(args)

	total, err := countEntries(*dir)
	if err != nil {
		return err
	}
	all := scan.JournalQuery{Directory: *dir}
	postfix := scan.JournalQuery{Directory: *dir, Matches: []string{"_SYSTEMD_UNIT=postfix.service"}}
	cursor, err := cursorBeforeLast(all, *newN)
	if err != nil {
		return err
	}
	postfixCursor, err := cursorBeforeLast(postfix, *newN)
	if err != nil {
		return err
	}
	// The default journalmatch: its glob costs one journalctl -F per run. The journal has no
	// postfix@ instance, so it reads what postfix reads.
	glob := scan.JournalQuery{Directory: *dir, Matches: []string{"_SYSTEMD_UNIT=postfix.service", "_SYSTEMD_UNIT=postfix@*.service"}}
	postfixLast, err := cursorBeforeLast(postfix, 0)
	if err != nil {
		return err
	}
	last, err := cursorBeforeLast(all, 0)
	if err != nil {
		return err
	}
	sinceQ := all
	sinceQ.Since = end.Add(-time.Duration(*newN) * span / time.Duration(total)).Add(time.Microsecond)

	fmt.Printf("journal: %d entries in %s\n", total, *dir)
	cases := []struct {
		name   string
		q      scan.JournalQuery
		cursor string
		reps   int
	}{
		{fmt.Sprintf("%d new entries after a cursor", *newN), all, cursor, *reps},
		{fmt.Sprintf("%d new entries after a cursor, postfix match", *newN), postfix, postfixCursor, *reps},
		{fmt.Sprintf("%d new entries after a cursor, default match (glob)", *newN), glob, postfixCursor, *reps},
		{"nothing new after a cursor", all, last, *reps},
		{"nothing new after a cursor, postfix match", postfix, postfixLast, *reps},
		{"nothing new after a cursor, default match (glob)", glob, postfixLast, *reps},
		{fmt.Sprintf("first run, --since the last %d entries", *newN), sinceQ, "", *reps},
		{"whole journal from the start", all, "", 1},
		{"whole journal from the start, postfix match", postfix, "", 1},
	}
	for _, c := range cases {
		var times []time.Duration
		var n int64
		var bytes int64
		for range c.reps {
			start := time.Now()
			next, got, stale, err := scan.ReadJournal(context.Background(), c.q, c.cursor, func(line []byte) { bytes += int64(len(line)) })
			times = append(times, time.Since(start))
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if stale || (c.cursor != "" && next == "") {
				return fmt.Errorf("%s: stale cursor", c.name)
			}
			n = got
		}
		slices.Sort(times)
		fmt.Printf("%-58s %8d entries  %9.3fs (median of %d)\n", c.name+":", n, times[len(times)/2].Seconds(), c.reps)
	}
	return nil
}

// cursorBeforeLast returns the cursor of the entry of q that has k entries of q after it.
func cursorBeforeLast(q scan.JournalQuery, k int) (string, error) {
	args := []string{"--directory=" + q.Directory, "--no-pager", "-o", "json",
		"--output-fields=__CURSOR", "-n", strconv.Itoa(k + 1), "--"}
	cmd := exec.Command("journalctl", append(args, q.Matches...)...)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", cmd.Args, err)
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	var e struct {
		Cursor string `json:"__CURSOR"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return "", fmt.Errorf("%s: %w", cmd.Args, err)
	}
	return e.Cursor, nil
}

func countEntries(dir string) (int, error) {
	cmd := exec.Command("journalctl", "--directory="+dir, "--no-pager", "--header")
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", cmd.Args, err)
	}
	total := 0
	for _, l := range bytes.Split(out, []byte("\n")) {
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(l), []byte("Entry objects:")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return 0, err
			}
			total += n
		}
	}
	return total, nil
}
