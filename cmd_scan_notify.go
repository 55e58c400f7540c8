package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/notify"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// noteBan records a ban of this run for the notifications.
func (e *env) noteBan(jail, key string, b state.Ban, failures int, reason string, manual bool) {
	if !e.keepEvents() {
		return
	}
	bantime := int64(-1)
	if !b.Permanent() {
		bantime = b.End - b.Start
	}
	e.events = append(e.events, state.Event{Kind: state.EventBan, Jail: jail, IP: key, Time: e.now.Unix(),
		Failures: failures, Start: b.Start, End: b.End, BanTime: bantime, Manual: manual, Reason: reason})
}

// keepEvents reports whether anything reads this run's events: a notification target, or
// the pushes to a CrowdSec LAPI (queuePushes); without them, a first run that bans a botnet
// need not hold 100,000 of them.
func (e *env) keepEvents() bool {
	if e.eventsWanted == nil {
		wanted := len(e.notifyTargets()) > 0 || e.cfg.Crowdsec != nil && e.cfg.Crowdsec.Push
		e.eventsWanted = &wanted
	}
	return *e.eventsWanted
}

// noteUnban records an unban of this run for the notifications; b is the ban lifted.
func (e *env) noteUnban(jail, key string, b state.Ban, reason string, manual bool) {
	if !e.keepEvents() {
		return
	}
	bantime := int64(-1)
	if !b.Permanent() {
		bantime = b.End - b.Start
	}
	e.events = append(e.events, state.Event{Kind: state.EventUnban, Jail: jail, IP: key, Time: e.now.Unix(),
		Start: b.Start, End: b.End, BanTime: bantime, Manual: manual, Reason: reason})
}

// notifyTargets returns the notification targets of the enabled jails, in config order; a
// target that several jails name (one of defaults:, say) is one target, which reports each
// jail's events as that jail's entry says.
func (e *env) notifyTargets() []*notify.Target {
	var out []*notify.Target
	index := map[string]int{}
	wants := map[string]map[string][]string{} // id -> jail -> kinds
	host := hostname()
	for _, j := range e.cfg.Jails {
		if !j.Enabled {
			continue
		}
		for _, t := range j.Notify {
			id := t.ID()
			if _, ok := index[id]; !ok {
				index[id] = len(out)
				wants[id] = map[string][]string{}
				w := wants[id]
				out = append(out, &notify.Target{ID: id, Name: t.Name(), Timeout: time.Duration(t.Timeout) * time.Second,
					Sender: e.sender(t, host), Wants: func(ev state.Event) bool { return slices.Contains(w[ev.Jail], ev.Kind) }})
			}
			wants[id][j.Name] = t.On
		}
	}
	return out
}

// sender makes the notify.Sender of a configured target.
func (e *env) sender(t rules.NotifyTarget, host string) notify.Sender {
	switch {
	case len(t.Command) > 0:
		return notify.Command{Argv: t.Command}
	case t.MailTo != "":
		return notify.Mail{Sendmail: e.cfg.Report.Sendmail, To: t.MailTo, From: t.MailFrom}
	}
	return notify.Webhook{URL: t.Webhook, Name: t.Name(), Headers: t.Headers, Format: t.Format,
		Agent: "fail2ban-scan/" + buildVersion() + " (" + host + ")", Err: t.SecretErr}
}

// notify sends this run's events, with those waiting in the outbox, one digest per target,
// within notify_timeout; the state must be saved and the firewall reconciled before. Failures
// are logged and their events kept in st.Outbox; it reports whether st.Outbox changed, for the
// caller to save the state again. A dry run prints what it would send and changes nothing.
func (e *env) notify(ctx context.Context, st *state.State, dry bool) (changed bool) {
	targets := e.notifyTargets()
	batches := notify.Plan(targets, e.events, st.Outbox)
	if dry {
		for _, b := range batches {
			d := notify.Digest{Host: hostname(), Events: b.Events}
			fmt.Fprintf(e.stdout, "notify %s: would send %s%s\n", b.Target.Name, d.Summary(), pendingNote(b.Pending))
		}
		return false
	}
	if st.Outbox == nil {
		st.Outbox = map[string][]state.Event{}
	}
	if n := notify.Forget(st.Outbox, targets); n > 0 {
		changed = true
		e.log.logf(levelWarning, "notify", "", "%s undelivered dropped: their target is no longer in the config", nEvents(n))
	}
	if len(batches) == 0 {
		return changed
	}
	limit := time.Duration(e.cfg.NotifyTimeout) * time.Second
	for _, r := range notify.Send(ctx, batches, st.Outbox, hostname(), e.now, limit) {
		d := notify.Digest{Events: r.Events}
		if r.Err == nil {
			e.log.logf(levelInfo, "notify", "", "%s: sent %s%s", r.Target.Name, d.Summary(), pendingNote(r.Pending))
			changed = changed || r.Pending > 0
			continue
		}
		changed = true
		e.log.logf(levelWarning, "notify", "", "%s: not delivered, %s kept for the next run: %s", r.Target.Name, nEvents(len(r.Events)-r.Dropped), r.Err)
		if r.Dropped > 0 {
			e.log.logf(levelWarning, "notify", "", "%s: the %d oldest undelivered events dropped (at most %d are kept)", r.Target.Name, r.Dropped, notify.MaxPending)
		}
	}
	if len(st.Outbox) == 0 {
		st.Outbox = nil
	}
	return changed
}

func nEvents(n int) string {
	if n == 1 {
		return "1 event"
	}
	return fmt.Sprintf("%d events", n)
}

func pendingNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d from earlier runs)", n)
}

// hostname names this host in notifications.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// notifyAndSave runs notify and, when the outbox changed, saves the state again (the firewall
// is reconciled already). It reports whether that save failed, which it logs.
func (e *env) notifyAndSave(ctx context.Context, st *state.State) (failed bool) {
	if !e.notify(ctx, st, false) {
		return false
	}
	if err := state.Save(e.statePath, st); err != nil {
		e.log.logf(levelError, "notify", "", "the outbox of the notifications was not saved: %s", err)
		return true
	}
	return false
}

// secretReader reads webhook_file: a path relative to the config's directory dir, a regular
// file that other users cannot read.
func secretReader(dir string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", p)
		}
		if perm := fi.Mode().Perm(); perm&0o004 != 0 {
			return nil, fmt.Errorf("%s is readable by every user (mode %04o): it holds a secret, chmod o-r it", p, perm)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		return data, nil
	}
}
