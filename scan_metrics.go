package main

import (
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/metrics"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// scanRun is what the metrics file needs to know of one scan beyond the state: when it
// started, which jails it handled without an error, and whether the saved state claims that
// the run succeeded.
type scanRun struct {
	started     time.Time // the real clock, for the duration (e.now follows --now)
	pass        []*rules.Jail
	ok          map[string]bool // jails of the pass handled without an error
	prevSuccess int64           // the state's LastSuccess before this run
	claimed     bool            // the saved state says this run succeeded
}

// newScanRun starts the record of a scan over jails, the jails of the pass (those a running
// fail2ban claims included: they are reported down).
func newScanRun(jails []*rules.Jail) *scanRun {
	return &scanRun{started: time.Now(), pass: jails, ok: map[string]bool{}}
}

// jailDone records the end of a jail's pass: err is its read error, held whether
// max_new_bans_per_run held bans back. A read error counts in js.TotalReadErrors.
func (r *scanRun) jailDone(name string, js *state.Jail, err error, held bool) {
	if err != nil {
		js.TotalReadErrors++
	}
	r.ok[name] = err == nil && !held
}

// saveScan is state.Save for a scan: with a metrics file, and no error so far, the state it
// saves says that this run succeeded (LastSuccess, which a failed run keeps for the metrics
// file); finishRun takes that back when a later step fails. beside: the firewall is loading
// many bans meanwhile (state.SaveBeside).
func (e *env) saveScan(r *scanRun, st *state.State, failed, beside bool) error {
	r.prevSuccess = st.LastSuccess
	if e.cfg.MetricsFile != "" && !failed {
		st.LastSuccess = e.now.Unix()
	}
	save := state.Save
	if beside {
		save = state.SaveBeside
	}
	err := save(e.statePath, st)
	if err != nil {
		st.LastSuccess = r.prevSuccess
	}
	r.claimed = err == nil && st.LastSuccess != r.prevSuccess
	return err
}

// finishRun ends a scan that was not a dry run, after the firewall: when the run failed after
// saveScan said it succeeded, the state is saved again with the LastSuccess before (only then:
// a failing firewall, say, costs a second write); then the metrics file is written. It logs
// what went wrong and reports whether the run is still a success.
func (e *env) finishRun(r *scanRun, st *state.State, failed bool) bool {
	if e.cfg.MetricsFile == "" {
		return true
	}
	if failed && r.claimed {
		st.LastSuccess = r.prevSuccess
		if err := state.Save(e.statePath, st); err != nil {
			e.log.logf(levelError, "scan", "", "the state still says that this run succeeded: %s", err)
		}
	}
	m := metrics.Run{Start: e.now, LastSuccess: st.LastSuccess}
	now := e.now.Unix()
	for _, j := range r.pass {
		js := st.Jails[j.Name]
		if js == nil {
			js = &state.Jail{}
		}
		m.Jails = append(m.Jails, metrics.Jail{
			Name: j.Name, Up: r.ok[j.Name],
			Failures: js.TotalFailed, Bans: js.TotalBanned, Unbans: js.TotalUnbanned,
			Lines: js.TotalLines, ReadErrors: js.TotalReadErrors,
			// as status counts them, without listing 100,000 bans every minute
			CurrentlyBanned: rules.CurrentlyBanned(js, now), CurrentlyFailed: j.CurrentlyFailed(js, now),
			MaxRetry: j.MaxRetry, FindTime: j.FindTime, BanTime: j.BanTime,
		})
	}
	if cs := e.cfg.Crowdsec; cs != nil {
		f := statusOfFleet(cs, st.Crowdsec, now)
		m.Fleet = &metrics.Fleet{CurrentlyBanned: f.CurrentlyBanned, PendingPushes: f.PendingPushes, Up: !e.lapiFailed}
	}
	m.Duration = time.Since(r.started)
	if err := metrics.Write(e.cfg.MetricsFile, m); err != nil {
		e.log.logf(levelError, "scan", "", "%s", err)
		return false
	}
	return true
}
