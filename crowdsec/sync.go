package crowdsec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// Origin is the origin of the decisions this tool pushes.
const Origin = "fail2ban-scan"

// ReassertBefore is how long before its decision runs out in the LAPI a permanent ban is
// pushed again.
const ReassertBefore = 30 * 24 * time.Hour

// MaxBatch is the most alerts one POST /v1/alerts carries.
const MaxBatch = 500

// Identity names this host's decisions in the LAPI: scenario "PREFIX/JAIL@MACHINE" with origin
// Origin. The decision stream carries no machine, so the scenario tells this host's own
// decisions (not applied again as fleet bans) from those of the other hosts.
type Identity struct {
	MachineID      string
	ScenarioPrefix string
	// Origins are the other origins whose ban decisions the fleet takes ("cscli", "crowdsec",
	// "CAPI", "lists"); those of other hosts of this tool are always taken.
	Origins []string
	// Ignored reports whether a ban of p must not be taken (ignoreip, the host's own
	// addresses, the never-banned ones); nil takes all.
	Ignored func(p netip.Prefix) bool
}

// Scenario is the scenario of this host's bans in jail.
func (id Identity) Scenario(jail string) string {
	return id.ScenarioPrefix + "/" + jail + "@" + id.MachineID
}

// own reports whether d was pushed by this host.
func (id Identity) own(d Decision) bool {
	return d.Origin == Origin && strings.HasPrefix(d.Scenario, id.ScenarioPrefix+"/") && strings.HasSuffix(d.Scenario, "@"+id.MachineID)
}

// wanted reports whether the fleet takes d (checked apart: its shape).
func (id Identity) wanted(d Decision) bool {
	if id.own(d) {
		return false
	}
	if d.Origin == Origin && strings.HasPrefix(d.Scenario, id.ScenarioPrefix+"/") {
		return true
	}
	return slices.Contains(id.Origins, d.Origin)
}

// ParseDecision checks a ban decision of the stream and returns what it bans, as a ban's key
// (an address, or a masked prefix) and as a prefix, and when it ends. Only type ban of scope Ip or Range is
// taken; anything else, or a value or duration that does not parse, is an error naming it.
func ParseDecision(d Decision, now time.Time) (key string, p netip.Prefix, until int64, err error) {
	if !strings.EqualFold(d.Type, "ban") {
		return "", p, 0, fmt.Errorf("decision %d: type %q, not ban", d.ID, d.Type)
	}
	switch {
	case strings.EqualFold(d.Scope, "ip"):
		a, err := netip.ParseAddr(d.Value)
		if err != nil || a.Zone() != "" {
			return "", p, 0, fmt.Errorf("decision %d: scope Ip, value %q is not an address", d.ID, d.Value)
		}
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	case strings.EqualFold(d.Scope, "range"):
		r, err := netip.ParsePrefix(d.Value)
		if err != nil {
			return "", p, 0, fmt.Errorf("decision %d: scope Range, value %q is not a prefix", d.ID, d.Value)
		}
		if r.Addr().Is4In6() {
			if r.Bits() < 96 {
				return "", p, 0, fmt.Errorf("decision %d: scope Range, value %q is wider than the IPv4-mapped space", d.ID, d.Value)
			}
			r = netip.PrefixFrom(r.Addr().Unmap(), r.Bits()-96)
		}
		p = r.Masked()
	default:
		return "", p, 0, fmt.Errorf("decision %d: scope %q, not Ip nor Range", d.ID, d.Scope)
	}
	dur, err := time.ParseDuration(d.Duration)
	if err != nil {
		return "", p, 0, fmt.Errorf("decision %d: duration %q: %w", d.ID, d.Duration, err)
	}
	if dur <= 0 {
		return "", p, 0, fmt.Errorf("decision %d: duration %q is over", d.ID, d.Duration)
	}
	key = p.String()
	if p.IsSingleIP() {
		key = p.Addr().String()
	}
	return key, p, now.Add(dur).Unix(), nil
}

// PullResult is what one pull changed in the fleet.
type PullResult struct {
	Startup        bool
	Added, Removed int
	Skipped        []error  // malformed decisions, not applied
	Own, Others    int      // decisions left out: this host's own, and of origins not taken
	Ignored        []string // decisions left out by Identity.Ignored: their values
}

// Pull reads the stream (startup unless cs.Streamed) and applies it to cs.Fleet: a startup
// answer replaces the fleet, a later one adds its new decisions and removes its deleted
// ones. Decisions that run out are removed too. On error the fleet is left as it was.
func Pull(ctx context.Context, c *Client, cs *state.Crowdsec, id Identity, now time.Time) (PullResult, error) {
	startup := !cs.Streamed
	s, err := c.Pull(ctx, startup)
	if err != nil {
		return PullResult{Startup: startup}, err
	}
	r := Apply(cs, s, startup, id, now)
	cs.Streamed = true
	return r, nil
}

// Apply applies one stream answer to cs.Fleet (see Pull).
func Apply(cs *state.Crowdsec, s *Stream, startup bool, id Identity, now time.Time) PullResult {
	r := PullResult{Startup: startup}
	old := cs.Fleet // what a startup answer replaces: Added and Removed count the difference
	if startup || cs.Fleet == nil {
		cs.Fleet = state.FleetBans{}
	}
	for _, d := range s.Deleted {
		if _, ok := cs.Fleet[d.ID]; ok {
			delete(cs.Fleet, d.ID)
			r.Removed++
		}
	}
	for _, d := range s.New {
		if id.own(d) {
			r.Own++
			continue
		}
		if !id.wanted(d) {
			r.Others++
			continue
		}
		key, p, until, err := ParseDecision(d, now)
		if err != nil {
			r.Skipped = append(r.Skipped, err)
			continue
		}
		if id.Ignored != nil && id.Ignored(p) {
			r.Ignored = append(r.Ignored, key)
			continue
		}
		if _, ok := old[d.ID]; !ok {
			if _, ok := cs.Fleet[d.ID]; !ok {
				r.Added++
			}
		}
		cs.Fleet[d.ID] = state.FleetBan{Value: key, Until: until, Origin: d.Origin, Scenario: d.Scenario}
	}
	if startup {
		for id := range old {
			if _, ok := cs.Fleet[id]; !ok {
				r.Removed++
			}
		}
	}
	r.Removed += Expire(cs, now.Unix())
	return r
}

// Expire removes the fleet's decisions that ended at or before now, and this host's pushed
// records whose decision ended; it returns how many fleet decisions went.
func Expire(cs *state.Crowdsec, now int64) int {
	n := 0
	for id, fb := range cs.Fleet {
		if fb.Until <= now {
			delete(cs.Fleet, id)
			n++
		}
	}
	cs.Pushed = slices.DeleteFunc(cs.Pushed, func(p state.Pushed) bool { return p.Until <= now })
	return n
}

// QueueUnban queues the deletion of this host's decisions for key in jail: a ban still
// pending is simply taken off the queue, one pushed gets an unban with its alerts.
func QueueUnban(cs *state.Crowdsec, jail, key string, now int64) (dropped int) {
	cs.Pending = slices.DeleteFunc(cs.Pending, func(p state.Push) bool {
		return p.Kind == state.PushBan && p.Jail == jail && p.IP == key
	})
	var alerts []int64
	cs.Pushed = slices.DeleteFunc(cs.Pushed, func(p state.Pushed) bool {
		if p.Jail == jail && p.IP == key {
			alerts = append(alerts, p.Alert)
			return true
		}
		return false
	})
	if len(alerts) == 0 {
		return 0 // never pushed (a pending ban taken off the queue, if any): nothing to delete
	}
	return cs.Queue(state.Push{Kind: state.PushUnban, Jail: jail, IP: key, Time: now, Alerts: alerts})
}

// Reassert queues again the permanent bans whose decision runs out within ReassertBefore;
// it returns how many.
func Reassert(cs *state.Crowdsec, now int64) (n int) {
	for i := range cs.Pushed {
		p := &cs.Pushed[i]
		if p.End >= 0 || p.Until-now > int64(ReassertBefore/time.Second) || pendingBan(cs, p.Jail, p.IP) {
			continue
		}
		cs.Queue(state.Push{Kind: state.PushBan, Jail: p.Jail, IP: p.IP, Time: now, End: -1})
		n++
	}
	return n
}

func pendingBan(cs *state.Crowdsec, jail, key string) bool {
	return slices.ContainsFunc(cs.Pending, func(p state.Push) bool {
		return p.Kind == state.PushBan && p.Jail == jail && p.IP == key
	})
}

// PushResult is what one Push did.
type PushResult struct {
	Bans, Unbans int // pushed, and unbans whose decisions were deleted
	Found        int // of Bans, those a request without an answer had pushed after all
	Over         int // bans that ended before they could be pushed: dropped
	// Refused are the pushes the LAPI answered with an error, kept for the next run; Dropped
	// those it refused MaxTries runs in a row, given up.
	Refused, Dropped []error
}

// MaxTries is how many runs in a row the LAPI may refuse a push (an error answer, not a
// failure to reach it) before the push is dropped: one push it will never take must not
// hold the queue for ever.
const MaxTries = 3

// Push sends cs.Pending in order: runs of bans as alerts (MaxBatch a POST), each unban as
// the deletion of the decisions of its alerts. A batch the LAPI refuses is sent again one
// alert at a time, so that one bad alert does not hold the others; what it refuses is kept
// (see MaxTries). When the LAPI cannot be reached (or the run's time is up), Push stops and
// returns the error: what was done before stays done, the rest stays pending, in order.
func Push(ctx context.Context, c *Client, cs *state.Crowdsec, id Identity, now time.Time) (r PushResult, err error) {
	var kept []state.Push // refused in this run: tried again at the next, before the rest
	defer func() {
		cs.Pending = append(kept, cs.Pending...)
		if len(cs.Pending) == 0 {
			cs.Pending = nil
		}
	}()
	refused := func(p state.Push, err error) {
		p.Tries++
		what := fmt.Errorf("%s of %s (jail %s), refused %d times: %w", p.Kind, p.IP, p.Jail, p.Tries, err)
		if p.Tries >= MaxTries {
			r.Dropped = append(r.Dropped, what)
			return
		}
		r.Refused = append(r.Refused, what)
		kept = append(kept, p)
	}
	record := func(p state.Push, a Alert, alertID int64) {
		cs.Pushed = append(cs.Pushed, state.Pushed{Jail: p.Jail, IP: p.IP, Alert: alertID, Until: decisionEnd(a), End: p.End})
		r.Bans++
	}
	if err := resolveSent(ctx, c, cs, id, now, record, &r); err != nil {
		return r, err
	}
	for len(cs.Pending) > 0 {
		p := cs.Pending[0]
		if p.Kind == state.PushUnban {
			if err := deleteAlerts(ctx, c, p.Alerts); err != nil {
				return r, fmt.Errorf("unban %s (jail %s): %w", p.IP, p.Jail, err)
			}
			cs.Pending = cs.Pending[1:]
			r.Unbans++
			continue
		}
		n := 0
		for n < len(cs.Pending) && n < MaxBatch && cs.Pending[n].Kind == state.PushBan {
			n++
		}
		var alerts []Alert
		var pushes []state.Push
		for _, p := range cs.Pending[:n] {
			a, ok := AlertOf(p, id, now)
			if !ok {
				r.Over++
				continue
			}
			alerts = append(alerts, a)
			pushes = append(pushes, p)
		}
		if len(alerts) == 0 {
			cs.Pending = cs.Pending[n:]
			continue
		}
		ids, err := c.PushAlerts(ctx, alerts)
		if MayHaveArrived(err, "POST /v1/alerts") {
			markSent(cs.Pending[:n], now)
		}
		if err != nil && (!isRefusal(err) || len(alerts) == 1 && r.Bans == 0) {
			// Unreachable, or a lone alert refused with nothing accepted to tell a bad alert
			// from a broken LAPI: kept, no try counted.
			return r, fmt.Errorf("push %d bans: %w", len(alerts), err)
		}
		if err == nil {
			for i, p := range pushes {
				record(p, alerts[i], ids[i])
			}
			cs.Pending = cs.Pending[n:]
			continue
		}
		// The LAPI refused the batch: one alert at a time, to find those it refuses. Only
		// when it takes others are they counted as refused: a LAPI that refuses every alert
		// is broken (a database error), and keeps them all.
		var no []int
		var errs []error
		for i, p := range pushes {
			ids, err := c.PushAlerts(ctx, alerts[i:i+1])
			switch {
			case err == nil:
				record(p, alerts[i], ids[0])
			case isRefusal(err):
				no, errs = append(no, i), append(errs, err)
			default:
				if MayHaveArrived(err, "POST /v1/alerts") {
					pushes[i].Sent = now.Unix()
				}
				rest := slices.Clone(pushes[i:])
				for j := len(no) - 1; j >= 0; j-- {
					rest = slices.Insert(rest, 0, pushes[no[j]])
				}
				cs.Pending = append(rest, cs.Pending[n:]...)
				return r, fmt.Errorf("push the ban of %s (jail %s): %w", p.IP, p.Jail, err)
			}
		}
		if r.Bans == 0 {
			return r, fmt.Errorf("push %d bans: the LAPI refused each of them: %w", len(alerts), errs[0])
		}
		for k, i := range no {
			refused(pushes[i], errs[k])
		}
		cs.Pending = cs.Pending[n:]
	}
	return r, nil
}

// markSent notes on pushes that a request carrying them got no answer: the LAPI may have
// them already (see resolveSent).
func markSent(pushes []state.Push, now time.Time) {
	for i := range pushes {
		if pushes[i].Kind == state.PushBan {
			pushes[i].Sent = now.Unix()
		}
	}
}

// resolveSent looks up in the LAPI the pending bans that a request without an answer may
// have pushed (Sent): one found there (an alert of this machine, scenario and value whose
// decision ends with the ban) is recorded as pushed and leaves the queue, so that it is not
// pushed twice; the others are pushed as usual.
func resolveSent(ctx context.Context, c *Client, cs *state.Crowdsec, id Identity, now time.Time, record func(state.Push, Alert, int64), r *PushResult) error {
	known := map[int64]bool{}
	for _, p := range cs.Pushed {
		known[p.Alert] = true
	}
	for i := 0; i < len(cs.Pending); i++ {
		p := &cs.Pending[i]
		if p.Kind != state.PushBan || p.Sent == 0 {
			continue
		}
		found, err := c.FindAlerts(ctx, p.IP, id.Scenario(p.Jail))
		if err != nil {
			return fmt.Errorf("look up the ban of %s (jail %s), sent without an answer: %w", p.IP, p.Jail, err)
		}
		match := int64(0)
		for _, f := range found {
			ok := p.End >= 0 && abs(f.Until.Unix()-p.End) <= 120 ||
				p.End < 0 && f.Until.After(now.Add(MaxDuration/2))
			if ok && !known[f.ID] && f.ID > match {
				match = f.ID
			}
		}
		if match == 0 {
			p.Sent = 0
			continue
		}
		a, ok := AlertOf(*p, id, now)
		if !ok {
			a = Alert{StopAt: now.UTC().Format(time.RFC3339), Decisions: []Decision{{Duration: "0s"}}}
		}
		record(*p, a, match)
		r.Found++
		known[match] = true
		cs.Pending = slices.Delete(cs.Pending, i, i+1)
		i--
	}
	return nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// isRefusal reports whether err is the LAPI refusing alerts it was given: an error answer
// of POST /v1/alerts itself, 400, 422 or 500 (1.4.6 answers 500 to an invalid value). A
// login that fails, a proxy's 502, 503 or 504, or no answer, is the LAPI unavailable.
func isRefusal(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) || se.Op != "POST /v1/alerts" {
		return false
	}
	return se.Code == 400 || se.Code == 422 || se.Code == 500
}

// deleteAlerts deletes the decisions of the alerts.
func deleteAlerts(ctx context.Context, c *Client, alerts []int64) error {
	for _, a := range alerts {
		ids, err := c.AlertDecisions(ctx, a)
		if err != nil {
			return err
		}
		for _, d := range ids {
			if err := c.DeleteDecision(ctx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// AlertOf makes the alert of a pending ban, ok false when the ban is over at now. The LAPI
// (1.4.6, pkg/database/alerts.go) ends a decision at the alert's stop_at plus its duration,
// so stop_at is the last failure and the duration runs from it to the ban's end: the
// decision ends with the ban, and `cscli decisions list` shows its remaining time. A
// permanent ban's decision lasts MaxDuration from stop_at.
func AlertOf(p state.Push, id Identity, now time.Time) (a Alert, ok bool) {
	first, last := p.First, p.Last
	if last == 0 {
		last = p.Time
	}
	if first == 0 || first > last {
		first = last
	}
	dur := MaxDuration
	if p.End >= 0 {
		if p.End <= now.Unix() {
			return Alert{}, false
		}
		if last > now.Unix() || last >= p.End {
			last = now.Unix() // a clock that went back: the remaining time from now
			first = min(first, last)
		}
		dur = time.Duration(p.End-last) * time.Second
	}
	scope, src := "Ip", Source{Scope: "Ip", Value: p.IP, IP: p.IP}
	if strings.Contains(p.IP, "/") {
		scope, src = "Range", Source{Scope: "Range", Value: p.IP, Range: p.IP}
	}
	events := p.Failures
	what := fmt.Sprintf("banned after %d failures", p.Failures)
	switch {
	case p.Manual:
		events, what = 1, "banned by hand"
	case p.Failures == 0:
		events, what = 1, "banned"
	}
	if p.Reason != "" {
		what += " (" + p.Reason + ")"
	}
	scenario := id.Scenario(p.Jail)
	return Alert{
		Scenario:    scenario,
		Message:     fmt.Sprintf("fail2ban-scan on %s, jail %s: %s %s", id.MachineID, p.Jail, p.IP, what),
		EventsCount: int32(min(events, 1<<31-1)),
		StartAt:     time.Unix(first, 0).UTC().Format(time.RFC3339),
		StopAt:      time.Unix(last, 0).UTC().Format(time.RFC3339),
		Leakspeed:   "0",
		Events:      []json.RawMessage{},
		Source:      src,
		Decisions: []Decision{{Duration: formatDuration(dur), Type: "ban", Scope: scope, Value: p.IP,
			Origin: Origin, Scenario: scenario}},
	}, true
}

// decisionEnd is when the LAPI ends the decision of a: stop_at plus its duration.
func decisionEnd(a Alert) int64 {
	stop, _ := time.Parse(time.RFC3339, a.StopAt)
	d, _ := time.ParseDuration(a.Decisions[0].Duration)
	return stop.Add(d).Unix()
}

// formatDuration writes a duration in whole seconds ("600s"), or whole hours for MaxDuration.
func formatDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}
