package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/crowdsec"
	"github.com/fail2ban-scan/fail2ban-scan/fw"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// maxSkippedLogged is how many malformed decisions of one pull are logged one by one.
const maxSkippedLogged = 10

// lapi is a run's use of the CrowdSec LAPI: one client, and one deadline for all its calls.
type lapi struct {
	client   *crowdsec.Client
	id       crowdsec.Identity
	deadline time.Time // zero until the first call
	timeout  time.Duration
}

// lapi returns the run's LAPI, or nil when the config has no crowdsec: section.
func (e *env) lapi() *lapi {
	cs := e.cfg.Crowdsec
	if cs == nil {
		return nil
	}
	if e.lapiRun == nil {
		e.lapiRun = &lapi{
			client: &crowdsec.Client{URL: cs.URL, MachineID: cs.MachineID, Password: cs.Password, BouncerKey: cs.BouncerKey,
				HTTP: &http.Client{}, UserAgent: "fail2ban-scan/" + buildVersion()},
			id:      crowdsec.Identity{MachineID: cs.MachineID, ScenarioPrefix: cs.ScenarioPrefix, Origins: cs.Origins},
			timeout: time.Duration(cs.Timeout) * time.Second,
		}
	}
	return e.lapiRun
}

// ctx bounds a call by the run's LAPI deadline, which the first call starts.
func (l *lapi) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	if l.deadline.IsZero() {
		l.deadline = time.Now().Add(l.timeout)
	}
	return context.WithDeadline(parent, l.deadline)
}

// crowdsecState returns st's crowdsec section, creating it.
func crowdsecState(st *state.State) *state.Crowdsec {
	if st.Crowdsec == nil {
		st.Crowdsec = &state.Crowdsec{}
	}
	return st.Crowdsec
}

// tidyCrowdsec drops a crowdsec section that holds nothing, so that a state without CrowdSec
// stays as it was; without a crowdsec: section in the config, the fleet's bans go (the LAPI
// is no longer read, so nobody would lift them) and nothing more is pushed.
func (e *env) tidyCrowdsec(st *state.State) {
	cs := st.Crowdsec
	if cs == nil {
		return
	}
	if e.cfg.Crowdsec == nil || !e.cfg.Crowdsec.Pull {
		if len(cs.Fleet) > 0 {
			e.log.logf(levelNotice, "crowdsec", rules.FleetJail, "%d fleet bans lifted: the config no longer pulls from CrowdSec", len(cs.Fleet))
		}
		cs.Fleet, cs.Streamed, cs.Source = nil, false, ""
	}
	if e.cfg.Crowdsec == nil || !e.cfg.Crowdsec.Push {
		if n := len(cs.Pending); n > 0 {
			e.log.logf(levelWarning, "crowdsec", "", "%s to CrowdSec dropped: the config no longer pushes", nPushes(n))
		}
		cs.Pending, cs.Pushed = nil, nil
	}
	now := e.now.Unix()
	cs.Pushed = slices.DeleteFunc(cs.Pushed, func(p state.Pushed) bool { return p.Until <= now }) // ended in the LAPI
	cs.PruneHours(now - int64(e.cfg.HistoryDays)*86400)
	if cs.Empty() {
		st.Crowdsec = nil
	}
}

// noteFirst records the first failure of a ban this run decides, for the alert pushed.
func (e *env) noteFirst(jail, key string, first int64) {
	if e.cfg.Crowdsec == nil || !e.cfg.Crowdsec.Push {
		return // nothing is pushed: a first run that bans a botnet need not note 100,000
	}
	if e.firsts == nil {
		e.firsts = map[string]int64{}
	}
	e.firsts[jail+" "+key] = first
}

// queuePushes turns this run's bans and unbans (e.events) into pushes kept in the state, so
// that they survive until the LAPI has them; an unban of a ban not pushed yet just takes it
// off the queue. Bans that ran out are not pushed: the LAPI lifts their decisions itself. It
// also queues the permanent bans whose decision in the LAPI runs out soon.
func (e *env) queuePushes(st *state.State) {
	if e.cfg.Crowdsec == nil || !e.cfg.Crowdsec.Push {
		return
	}
	cs := crowdsecState(st)
	dropped := 0
	for _, ev := range e.events[e.queued:] {
		switch {
		case ev.Kind == state.EventBan:
			p := state.Push{Kind: state.PushBan, Jail: ev.Jail, IP: ev.IP, Time: ev.Time, End: ev.End,
				Failures: ev.Failures, First: e.firsts[ev.Jail+" "+ev.IP], Last: ev.Start, Manual: ev.Manual, Reason: ev.Reason}
			if ev.Manual || p.Failures == 0 {
				p.First, p.Last = 0, 0 // the time of the decision stands for both
			}
			dropped += cs.Queue(p)
		case ev.Kind == state.EventUnban && ev.Reason != "expired":
			dropped += crowdsec.QueueUnban(cs, ev.Jail, ev.IP, ev.Time)
		}
	}
	e.queued = len(e.events)
	if n := crowdsec.Reassert(cs, e.now.Unix()); n > 0 {
		e.log.logf(levelInfo, "crowdsec", "", "%d permanent bans pushed again: their decision in the LAPI runs out within %s", n, crowdsec.ReassertBefore)
	}
	if dropped > 0 {
		e.log.logf(levelWarning, "crowdsec", "", "the oldest %s to CrowdSec dropped: at most %d wait for the LAPI", nPushes(dropped), state.MaxPending)
	}
}

// crowdsecDry prints what a run would send to the LAPI, for scan --dry-run, which neither
// pulls (that moves the bouncer's stream on) nor pushes.
func (e *env) crowdsecDry(st *state.State) {
	cfg := e.cfg.Crowdsec
	if cfg == nil {
		return
	}
	if cfg.Push {
		bans, unbans := 0, 0
		for _, ev := range e.events {
			switch {
			case ev.Kind == state.EventBan:
				bans++
			case ev.Kind == state.EventUnban && ev.Reason != "expired":
				unbans++
			}
		}
		waiting := 0
		if st.Crowdsec != nil {
			waiting = len(st.Crowdsec.Pending)
		}
		fmt.Fprintf(e.stdout, "crowdsec: would push %s and %s to %s (%d more wait from earlier runs)\n", plural(bans, "ban"), plural(unbans, "unban"), cfg.URL, waiting)
	}
	if cfg.Pull {
		fmt.Fprintf(e.stdout, "crowdsec: the fleet is not pulled in a dry run (a pull moves the stream on); the firewall shows the fleet of the state\n")
	}
}

// plural writes "1 ban", "2 bans".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// nPushes writes "1 push", "2 pushes".
func nPushes(n int) string {
	if n == 1 {
		return "1 push"
	}
	return fmt.Sprintf("%d pushes", n)
}

// pullFleet reads the LAPI's decision stream into st's fleet. A failure is logged and
// reported; the fleet is then kept as it was (its bans still expire as the LAPI said).
func (e *env) pullFleet(ctx context.Context, st *state.State) (failed bool) {
	cfg := e.cfg.Crowdsec
	if cfg == nil || !cfg.Pull {
		return false
	}
	cs := crowdsecState(st)
	now := e.now.Unix()
	origins := slices.Sorted(slices.Values(cfg.Origins))
	source := strings.Join(append([]string{cfg.URL, cfg.MachineID, cfg.ScenarioPrefix}, slices.Compact(origins)...), " ")
	if cs.Source != source {
		if cs.Streamed {
			e.log.logf(levelInfo, "crowdsec", rules.FleetJail, "the LAPI, machine_id, scenario_prefix or origins changed: a startup pull reads the fleet again")
		}
		cs.Streamed = false
	}
	if n := crowdsec.Expire(cs, now); n > 0 {
		cs.Count(now, state.FleetLifted, n)
	}
	if cfg.BouncerKeyErr != "" {
		e.log.logf(levelError, "crowdsec", rules.FleetJail, "pull from %s: bouncer_key_file: %s", cfg.URL, cfg.BouncerKeyErr)
		return true
	}
	l := e.lapi()
	l.id.Ignored = e.fleetIgnores()
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	started := time.Now()
	r, err := crowdsec.Pull(cctx, l.client, cs, l.id, e.now)
	if err != nil {
		e.log.logf(levelError, "crowdsec", rules.FleetJail, "pull from %s (the fleet's %d bans are kept until they run out): %s", cfg.URL, len(cs.Fleet), e.lapiErr(err))
		if r.Startup && errors.Is(err, context.DeadlineExceeded) {
			e.log.logf(levelWarning, "crowdsec", rules.FleetJail, "a startup pull reads every active decision, and the next runs try it again: for a big fleet, raise crowdsec.timeout (30s for 100,000)")
		}
		return true
	}
	cs.Source = source
	e.pulled = r.Added+r.Removed > 0
	cs.Count(now, state.FleetPulled, r.Added)
	cs.Count(now, state.FleetLifted, r.Removed)
	for i, err := range r.Skipped {
		if i == maxSkippedLogged {
			e.log.logf(levelWarning, "crowdsec", rules.FleetJail, "%d more malformed decisions skipped", len(r.Skipped)-i)
			break
		}
		e.log.logf(levelWarning, "crowdsec", rules.FleetJail, "skipped: %s", err)
	}
	kind := "incremental"
	if r.Startup {
		kind = "startup"
	}
	for i, v := range r.Ignored {
		if i == maxSkippedLogged {
			e.log.logf(levelInfo, "crowdsec", rules.FleetJail, "%d more decisions ignored", len(r.Ignored)-i)
			break
		}
		e.log.logf(levelInfo, "crowdsec", rules.FleetJail, "Ignore %s: in ignoreip, one of this host's addresses, or never banned", v)
	}
	level := levelInfo
	if !r.Startup && r.Added+r.Removed+len(r.Skipped)+len(r.Ignored) == 0 {
		level = levelDebug // a minute without news: not worth a line at the usual levels
	}
	e.log.logf(level, "crowdsec", rules.FleetJail, "pulled (%s) in %s: %d new, %d gone, %d in the fleet; left out: %d of this host, %d of other origins, %d ignored, %d malformed",
		kind, time.Since(started).Round(time.Millisecond), r.Added, r.Removed, len(cs.Fleet), r.Own, r.Others, len(r.Ignored), len(r.Skipped))
	return false
}

// pushPending sends the pushes waiting in the state; what fails stays for the next run. It
// reports whether the state changed (to save it again) and whether the LAPI failed.
func (e *env) pushPending(ctx context.Context, st *state.State) (changed, failed bool) {
	cfg := e.cfg.Crowdsec
	if cfg == nil || !cfg.Push || st.Crowdsec == nil || len(st.Crowdsec.Pending) == 0 {
		return false, false
	}
	cs := st.Crowdsec
	if cfg.PasswordErr != "" {
		e.log.logf(levelError, "crowdsec", "", "push to %s: password_file: %s; %s waiting in the state", cfg.URL, cfg.PasswordErr, nPushes(len(cs.Pending)))
		return false, true
	}
	l := e.lapi()
	cctx, cancel := l.ctx(ctx)
	defer cancel()
	before := len(cs.Pending)
	r, err := crowdsec.Push(cctx, l.client, cs, l.id, e.now)
	cs.Count(e.now.Unix(), state.FleetPushed, r.Bans)
	changed = len(cs.Pending) != before
	if r.Bans+r.Unbans+r.Over > 0 {
		e.log.logf(levelInfo, "crowdsec", "", "pushed to %s: %d bans, %d unbans (%d bans over before they could be pushed; %d found in the LAPI already, sent by a request that got no answer)",
			cfg.URL, r.Bans, r.Unbans, r.Over, r.Found)
	}
	for _, err := range r.Refused {
		e.log.logf(levelError, "crowdsec", "", "push to %s: the LAPI refused the %s; tried again at the next run", cfg.URL, err)
	}
	for _, err := range r.Dropped {
		e.log.logf(levelError, "crowdsec", "", "push to %s: the LAPI refused the %s; dropped (at most %d tries)", cfg.URL, err, crowdsec.MaxTries)
	}
	changed = changed || len(r.Refused) > 0 // their tries
	if err != nil {
		e.log.logf(levelError, "crowdsec", "", "push to %s: %s; %s waiting in the state for the next run", cfg.URL, e.lapiErr(err), nPushes(len(cs.Pending)))
		return changed, true
	}
	return changed, len(r.Refused)+len(r.Dropped) > 0
}

// pushAndSave pushes and, when the pending pushes changed, saves the state again (the
// firewall is reconciled already). It reports whether the LAPI or that save failed.
func (e *env) pushAndSave(ctx context.Context, st *state.State) (failed bool) {
	changed, failed := e.pushPending(ctx, st)
	if !changed {
		return failed
	}
	e.tidyCrowdsec(st)
	if err := state.Save(e.statePath, st); err != nil {
		e.log.logf(levelError, "crowdsec", "", "what was pushed to CrowdSec was not saved (the next run pushes it again): %s", err)
		return true
	}
	return failed
}

// lapiErr words a LAPI error for the log: a deadline names the run's budget.
func (e *env) lapiErr(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("%s (a run's LAPI calls have %ds in all: crowdsec.timeout)", err, e.cfg.Crowdsec.Timeout)
	}
	return err.Error()
}

// fleetClash says when a running fail2ban has a jail named fleet: it owns the chain f2b-fleet,
// which is then left alone, and the fleet's bans are not enforced.
func (e *env) fleetClash() error {
	if cfg := e.cfg.Crowdsec; cfg == nil || !cfg.Pull || !e.foreign[rules.FleetJail] {
		return nil
	}
	return fmt.Errorf("the fail2ban running at %s has a jail named %s, and so owns the chain f2b-%s: the bans pulled from CrowdSec are not enforced; rename that jail of fail2ban", e.cfg.Fail2banSocket, rules.FleetJail, rules.FleetJail)
}

// fleetIgnores reports whether the fleet must not ban p: the never-banned addresses
// (loopback, ...), the crowdsec section's ignoreip (the defaults') and, with ignoreself, this
// host's addresses; a prefix that overlaps any of them is left out whole.
func (e *env) fleetIgnores() func(netip.Prefix) bool {
	cfg := e.cfg.Crowdsec
	guard := &rules.Jail{IgnoreIP: cfg.IgnoreIP, IgnoreSelf: cfg.IgnoreSelf, Self: e.self}
	return func(p netip.Prefix) bool {
		if rules.ProtectedPrefix(p) {
			return true
		}
		_, ok := guard.IgnoredIn(p)
		return ok
	}
}

// fleetJail is the firewall's jail of the fleet's bans: every port and protocol, the
// section's banaction and blocktype; ignoreip, this host's addresses and the never-banned
// addresses are left out (a prefix that overlaps them entirely).
func (e *env) fleetJail(st *state.State) (fw.Jail, bool) {
	cfg := e.cfg.Crowdsec
	if cfg == nil || !cfg.Pull {
		return fw.Jail{}, false
	}
	fj := fw.Jail{Name: rules.FleetJail, Protocol: "all", BlockType: cfg.BlockType, Action: cfg.BanAction}
	if st.Crowdsec == nil {
		return fj, true
	}
	ignored := e.fleetIgnores()
	now := e.now.Unix()
	seen := make(map[string]bool, len(st.Crowdsec.Fleet))
	for _, fb := range st.Crowdsec.Fleet {
		if fb.Until <= now || seen[fb.Value] {
			continue
		}
		seen[fb.Value] = true
		p, err := rules.ParseKey(fb.Value)
		if err != nil || ignored(p) {
			continue // pulled before the config's ignoreip changed
		}
		fj.Bans = append(fj.Bans, p)
	}
	return fj, true // in no order: the firewall sorts them
}
