package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fail2ban-scan/fail2ban-scan/fw"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/scan"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// stampLayout is how times are written in log lines and text output.
const stampLayout = "2006-01-02 15:04:05"

func cmdScan(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	e, err := setup(c)
	if err != nil {
		return err
	}
	defer e.closeLog()
	e.log.hold = true
	jails, err := e.jails(c.StringSlice("jail"))
	if err != nil {
		return err
	}
	dry := c.Bool("dry-run")
	run := newScanRun(jails)
	if !dry {
		unlock, ok, err := e.lock()
		if err != nil {
			return err
		}
		if !ok {
			e.log.logf(levelNotice, "scan", "", "another run holds the lock on %s; this run does nothing", e.statePath)
			return nil
		}
		defer unlock()
	}
	if fs, ok := e.firewall.(firewalls); ok {
		fs.prefetch(c.Context) // the ipset sets are read while the state loads
	}
	st, err := e.loadStateWith(state.LoadLazy) // most failures are neither read nor changed
	if err != nil {
		return err
	}
	if !e.bansAsText(st, jails) {
		st.DecodeBans()
	}
	// The file and the decoder's scratch are garbage now: a collection here sets the heap's
	// next goal from the state alone (at 100,000 bans, about 25 MB live instead of 38).
	runtime.GC()
	failed := false
	clashes, err := e.askFail2ban(c.Context, jails)
	if err != nil {
		e.log.logf(levelError, "scan", "", "%s", err)
		failed = true
	}
	for _, err := range clashes {
		e.log.logf(levelError, "scan", "", "%s", err)
		failed = true
	}
	if err := e.fleetClash(); err != nil {
		e.log.logf(levelError, "crowdsec", rules.FleetJail, "%s", err)
		failed = true
	}
	jails = e.ours(jails)
	for _, j := range jails {
		var rec *state.Recorder // nil: a dry run records nothing
		if !dry {
			rec = st.History.Recorder(j.Name, e.now.Unix())
		}
		err := e.scanJail(c.Context, j, st, rec)
		rec.Flush() // the run's failures into the history's per-IP counts
		if n := e.held[j.Name]; n > 0 {
			e.log.logf(levelError, "actions", j.Name, "%d addresses reached maxretry but were not banned: max_new_bans_per_run is %d (filter %s)", n, j.MaxNewBans, j.FilterSpec)
			failed = true
		}
		if err != nil {
			e.log.logf(levelError, "scan", j.Name, "%s", err) // a missing log too: the run exits 1
			failed = true
		}
		run.jailDone(j.Name, st.Jail(j.Name), err, e.held[j.Name] > 0)
	}
	lapiFailed := false
	if !dry {
		e.queuePushes(st) // kept in the state before anything is sent: a failed push is not lost
		lapiFailed = e.pullFleet(c.Context, st)
		e.tidyCrowdsec(st)
	}
	// The state is saved while the firewall is applied: the firewall is given what the state
	// holds now (wantedRules, read before; the fleet pulled just above included), so the two
	// need not wait for each other (a first run over a botnet's log spends a tenth of a second
	// on each). A run killed in between leaves the same as before: the next run reconciles the
	// firewall with whichever state is on disk.
	fwJails, managed := e.wantedRules(st)
	saved := false
	var saveErr error
	var saving sync.WaitGroup
	if !dry {
		st.History.Prune(e.now.Unix(), e.cfg.HistoryDays)
		e.log.flush() // every Ban line out before the bans are committed
		// Many bans handed to the firewall (a first scan over a botnet's log, say): the save
		// writes its maps one at a time beside the restore.
		beside := handedOver(fwJails) >= 10000
		saving.Go(func() { saveErr = e.saveScan(run, st, failed, beside) })
	}
	fwErr := e.applyRules(c.Context, fwJails, managed, dry)
	saving.Wait()
	if !dry {
		if saveErr != nil {
			// The firewall still follows the last good state plus this run's decisions: expired
			// bans go, new ones come, a deleted jump comes back. The next run that can save
			// reads this run's lines again and decides the same.
			e.log.logf(levelError, "scan", "", "the state was not saved (the firewall is reconciled all the same; the next run reads these lines again): %s", saveErr)
			if e.pulled {
				e.log.logf(levelWarning, "crowdsec", rules.FleetJail, "the fleet's changes of this pull are not in the state and the LAPI has moved the stream on: they come back at the next startup pull (delete crowdsec.streamed from the state to have one)")
			}
			failed = true
		} else {
			saved = true
		}
	}
	if fwErr != nil {
		e.log.logf(levelError, "actions", "", "%s", fwErr)
		failed = true
	}
	if dry {
		e.notify(c.Context, st, true)
		e.crowdsecDry(st)
	} else {
		if saved && e.pushAndSave(c.Context, st) { // unsaved, nothing is pushed: the next run decides these bans again
			lapiFailed = true
		}
		if saved && e.notifyAndSave(c.Context, st) { // unsaved, the next run decides again
			failed = true
		}
		e.lapiFailed = lapiFailed
		if !e.finishRun(run, st, failed || lapiFailed) {
			failed = true
		}
	}
	if failed {
		return runtimeErr(errors.New("some jails or the firewall failed; see the errors above"))
	}
	if lapiFailed {
		return runtimeErr(errors.New("the CrowdSec LAPI failed; see the errors above (the jails and the firewall are done, what was not pushed waits in the state)"))
	}
	return nil
}

// handedOver counts the bans that jails hand the firewall as prefixes (not those it may load
// from the state's text itself).
func handedOver(jails []fw.Jail) int {
	n := 0
	for _, j := range jails {
		n += len(j.Bans)
	}
	return n
}

// scanJail reads the jail's new lines, applies its failures to the jail's state in st, and
// lifts expired bans (every jail's bans in st: overalljails counts them). It returns the first
// read error; what was read before it is kept in st all the same.
func (e *env) scanJail(ctx context.Context, j *rules.Jail, st *state.State, rec *state.Recorder) error {
	now, dry := e.now.Unix(), rec == nil
	js := st.Jail(j.Name)
	var lines, matched, read int64
	sess := j.Filter.NewSession() // this run's lines in order; sshd remembers its connections
	failures := e.applyFailures(j, js, st.Jails, now, rec)
	onLine := func(line []byte) {
		lines++
		res, host, _ := sess.Match(line)
		if res == rules.Miss && j.Filter.IsFail2ban() {
			if r, name, _ := j.Filter.MatchHost(line); r == rules.Match {
				e.log.logf(levelWarning, "filter", j.Name, "failure of host name %q: not counted (no DNS look-ups)", name)
			}
		}
		if res == rules.Match {
			matched++
		}
		if res != rules.Match {
			return
		}
		t, err := j.Filter.Time(line, e.now, time.Local)
		if err != nil {
			e.log.logf(levelWarning, "filter", j.Name, "%s matched but has no timestamp: not counted", host)
			return
		}
		failures.add(host, t)
	}
	var readErr error
	switch j.Backend {
	case "journal":
		q := scan.JournalQuery{
			Directory: j.JournalDirectory,
			Matches:   j.JournalMatch,
			Since:     time.Unix(now-j.FindTime, 0),
		}
		next, n, stale, err := scan.ReadJournal(ctx, q, js.Cursor, onLine)
		if stale {
			e.log.logf(levelWarning, "scan", j.Name, "the journal no longer knows the stored cursor; reading from %s", q.Since.Format(stampLayout))
		}
		js.Cursor = next
		read += int64(n)
		e.log.logf(levelDebug, "scan", j.Name, "journal: %d new entries", n)
		readErr = err
	default:
		for _, g := range emptyGlobs(j.LogPath) {
			e.log.logf(levelWarning, "scan", j.Name, "logpath %q matches no log file", g)
		}
		paths, err := scan.Expand(j.LogPath)
		if err != nil {
			failures.wait()
			return err
		}
		for _, p := range paths {
			next, stats, err := scan.ReadLog(p, js.Files[p], onLine)
			js.Files[p] = next
			read += int64(stats.Lines)
			if stats.Gap {
				e.log.logf(levelWarning, "scan", j.Name, "%s: none of the files read before is there any more; read every file of it from the start: lines written in between may be lost", p)
			}
			if stats.LongLines > 0 {
				e.log.logf(levelWarning, "scan", j.Name, "%s: %d lines longer than %d bytes were cut", p, stats.LongLines, scan.MaxLine)
			}
			e.log.logf(levelDebug, "scan", j.Name, "%s: %d new lines, %d bytes from %v", p, stats.Lines, stats.Bytes, stats.Files)
			if err != nil && readErr == nil {
				readErr = err
			}
		}
		for p := range js.Files {
			if !slices.Contains(paths, p) {
				delete(js.Files, p)
			}
		}
	}
	failures.wait()
	rec.Lines(read)
	js.NoteMatches(lines, matched, now)
	js.TotalLines += lines
	for _, a := range j.Expire(js, now) {
		e.log.logf(levelNotice, "actions", j.Name, "Unban %s", a.Key)
		rec.Unban(a.Key, false)
		e.noteUnban(j.Name, a.Key, a.Ban, "expired", false)
		if dry {
			fmt.Fprintf(e.stdout, "[%s] Unban %s\n", j.Name, a.Key)
		}
	}
	if info, lazy := js.LazyBans(); lazy && !j.WorksOnText(info) {
		st.DecodeBans() // a prefix banned in this run, which Aggregate looks at
	}
	for _, c := range e.aggregate(j, js, now, rec) {
		e.log.logf(levelNotice, "actions", c.jail, "%s %s", c.verb, c.target)
		if dry {
			fmt.Fprintf(e.stdout, "[%s] %s %s%s\n", c.jail, c.verb, c.target, c.detail)
		}
	}
	return readErr
}

// bansAsText reports whether this run may leave the bans of every jail as the text LoadLazy
// left them (see state.DecodeBans): no prefix or subnet to look at in any jail it scans
// (rules.Jail.WorksOnText). Failures read and set bans by key (state.Jail.BanOf, SetBan); a
// prefix banned by one of them decodes the bans before Aggregate (scanJail).
func (e *env) bansAsText(st *state.State, jails []*rules.Jail) bool {
	for _, j := range jails {
		js := st.Jails[j.Name]
		if js == nil {
			continue
		}
		if info, ok := js.LazyBans(); ok && !j.WorksOnText(info) {
			return false
		}
	}
	return true
}

// failureQueue hands the failures that scanJail's reading finds to a goroutine that applies
// them in the same order (Jail.Failure), a batch at a time, and that one hands what it decided
// to a third that records and logs it (record), in the same order: matching the lines,
// deciding and recording each take a share of a first run over a botnet's log (at 100,000
// bans about 0.1, 0.3 and 0.15 s), so two cores do it in about the time of the longest. Only
// the second touches the jail's failures and bans, and only the third the history, the
// run's events and its counts of held bans, until wait returns.
type failureQueue struct {
	batch []failureHit
	ch    chan []failureHit
	done  chan struct{}
	free  chan []failureHit // batches applied, to be filled again
}

type failureHit struct {
	host netip.Addr
	t    time.Time
}

// failureBatch is the failures handed over at a time. A batch of failures, and one of
// decisions, goes back to be filled again once used (failureQueue.free, recorded), so that a
// first run over a botnet's log (500,000 failures) does not leave 100 MB of them to the
// collector.
const failureBatch = 512

func (e *env) applyFailures(j *rules.Jail, js *state.Jail, jails map[string]*state.Jail, now int64, rec *state.Recorder) *failureQueue {
	q := &failureQueue{batch: make([]failureHit, 0, failureBatch), ch: make(chan []failureHit, 4), done: make(chan struct{}), free: make(chan []failureHit, 8)}
	decided := make(chan []decision, 4)
	recorded := make(chan []decision, 8)
	go func() {
		defer close(q.done)
		for b := range decided {
			for _, d := range b {
				e.record(j, d, rec)
			}
			reuse(recorded, b)
		}
	}()
	go func() {
		defer close(decided)
		for b := range q.ch {
			var out []decision
			select {
			case out = <-recorded:
			default:
				out = make([]decision, 0, failureBatch)
			}
			for _, h := range b {
				out = append(out, decision{j.Failure(js, jails, h.host, h.t.Unix(), now), h.host, h.t})
			}
			decided <- out
			reuse(q.free, b)
		}
	}()
	return q
}

// reuse hands b, emptied, back to free, unless free has enough.
func reuse[T any](free chan []T, b []T) {
	select {
	case free <- b[:0]:
	default:
	}
}

// decision is what Jail.Failure made of a failure of host at t.
type decision struct {
	a    rules.Action
	host netip.Addr
	t    time.Time
}

func (q *failureQueue) add(host netip.Addr, t time.Time) {
	q.batch = append(q.batch, failureHit{host, t})
	if len(q.batch) == failureBatch {
		q.ch <- q.batch
		select {
		case q.batch = <-q.free:
		default:
			q.batch = make([]failureHit, 0, failureBatch)
		}
	}
}

// wait hands over the last batch and returns when every failure is applied.
func (q *failureQueue) wait() {
	if len(q.batch) > 0 {
		q.ch <- q.batch
	}
	close(q.ch)
	<-q.done
}

// record records in the history (rec), the run's events and the log what became of a
// failure.
func (e *env) record(j *rules.Jail, d decision, rec *state.Recorder) {
	a, host, t := d.a, d.host, d.t
	if a.Outcome == rules.Counted || a.Outcome == rules.Banned || a.Outcome == rules.TooLate || a.Outcome == rules.Held {
		ip := a.Key // the address itself, but for an IPv6 prefix key
		if strings.Contains(ip, "/") {
			ip = a.IP.String()
		}
		rec.Failure(ip) // what Total failed counts
	}
	if a.Outcome == rules.Banned {
		if a.Replaces {
			rec.Ban(a.Key, a.Ban.End, false)
		} else {
			rec.NewBan(a.Key, a.Ban.End)
		}
		e.noteBan(j.Name, a.Key, a.Ban, a.Count, a.Reason, false)
		e.noteFirst(j.Name, a.Key, a.First)
	}
	if a.Outcome == rules.Old {
		return // most lines of a first run over a big log: nothing to say at the usual levels
	}
	// Only the info lines show the stamp and the Found lines: neither is formatted, nor are
	// their arguments boxed, 500,000 times for nothing.
	info := e.log.level >= levelInfo
	stamp := ""
	if info {
		stamp = t.Local().Format(stampLayout)
	}
	found := func() {
		if info {
			e.log.logf(levelInfo, "filter", j.Name, "Found %s - %s", host, stamp)
		}
	}
	switch a.Outcome {
	case rules.IgnoredIP:
		e.log.logf(levelInfo, "filter", j.Name, "Ignore %s by ip", host)
	case rules.Protected:
		e.log.logf(levelInfo, "filter", j.Name, "Ignore %s: %s is never banned", host, rules.NeverBan(host))
	case rules.DuringBan:
		e.log.logf(levelNotice, "filter", j.Name, "%s already banned", host)
	case rules.Counted:
		found()
	case rules.TooLate:
		found()
		e.log.logf(levelInfo, "actions", j.Name, "%s reached maxretry at %s but that ban (%s) is already over: not applied", host, stamp, a.Reason)
	case rules.Held:
		found()
		if e.held[j.Name]++; e.held[j.Name] == 1 {
			e.log.logf(levelError, "actions", j.Name, "%s reached maxretry, but this run has banned max_new_bans_per_run (%d) addresses already: it and the next ones are not banned (their failures are kept); check the filter %s", a.Key, j.MaxNewBans, j.FilterSpec)
		}
	case rules.Banned:
		found()
		e.log.logf(levelNotice, "actions", j.Name, "Ban %s (%s)", a.Key, a.Reason)
		if rec == nil {
			fmt.Fprintf(e.stdout, "[%s] Ban %s (%d failures, %s; %s)\n", j.Name, a.Key, a.Count, banSpan(a.Ban), a.Reason)
		}
	}
}

// banSpan renders a ban's period for people.
func banSpan(b state.Ban) string {
	start := time.Unix(b.Start, 0).Local().Format(stampLayout)
	if b.Permanent() {
		return "from " + start + ", permanent"
	}
	return "from " + start + " until " + time.Unix(b.End, 0).Local().Format(stampLayout)
}
