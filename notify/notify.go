// Package notify reports a run's bans and unbans: one digest per target per run, to a command,
// a webhook or the local sendmail, all targets at once and bounded in time; what a target did
// not take waits in the state's outbox for the next run.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// MaxPending is how many undelivered events the outbox keeps per target; older ones are
// dropped.
const MaxPending = 100

// Sender delivers one digest to one target. It returns by the time ctx is done.
type Sender interface {
	Send(ctx context.Context, d Digest) error
}

// Target is one place notifications go.
type Target struct {
	ID      string        // its key in the outbox, stable across runs
	Name    string        // for logs: no secret in it
	Timeout time.Duration // for one delivery
	Sender  Sender
	// Wants reports whether the target reports this event (its jail and kind).
	Wants func(ev state.Event) bool
}

// Batch is what a run has for one target: the events waiting in the outbox, oldest first,
// then this run's.
type Batch struct {
	Target  *Target
	Events  []state.Event
	Pending int // how many of Events come from the outbox
}

// Plan returns a batch for each target that has events, in the order of targets.
func Plan(targets []*Target, events []state.Event, outbox map[string][]state.Event) []Batch {
	var out []Batch
	for _, t := range targets {
		b := Batch{Target: t, Events: append([]state.Event(nil), outbox[t.ID]...)}
		b.Pending = len(b.Events)
		for _, ev := range events {
			if t.Wants(ev) {
				b.Events = append(b.Events, ev)
			}
		}
		if len(b.Events) > 0 {
			out = append(out, b)
		}
	}
	return out
}

// Forget removes from outbox the events of targets not in targets (a target removed from the
// config, or changed: they cannot be delivered any more) and returns how many it removed.
func Forget(outbox map[string][]state.Event, targets []*Target) int {
	known := map[string]bool{}
	for _, t := range targets {
		known[t.ID] = true
	}
	n := 0
	for id, evs := range outbox {
		if !known[id] {
			n += len(evs)
			delete(outbox, id)
		}
	}
	return n
}

// Result is what became of one batch.
type Result struct {
	Batch
	Err     error // nil: delivered
	Dropped int   // when Err: the oldest events dropped to keep MaxPending
}

// ErrNoAnswer is the error of a target that had not returned when the run's time was up.
var ErrNoAnswer = errors.New("no answer within notify_timeout")

// Send delivers the batches, each as one digest, all at once, and returns when all are done
// or limit has passed, whichever comes first; each target has its own Timeout within limit.
// It updates outbox: a delivered target's events are removed, a failed one's kept (the newest
// MaxPending). The results are in the order of batches.
func Send(ctx context.Context, batches []Batch, outbox map[string][]state.Event, host string, now time.Time, limit time.Duration) []Result {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	type done struct {
		i   int
		err error
	}
	ch := make(chan done, len(batches)) // buffered: a sender that outlives Send does not block
	for i, b := range batches {
		go func() {
			tctx, tcancel := context.WithTimeout(ctx, b.Target.Timeout)
			defer tcancel()
			d := Digest{Host: host, Now: now, Events: b.Events}
			err := b.Target.Sender.Send(tctx, d)
			if err != nil && tctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w: %w", tctx.Err(), err)
			}
			ch <- done{i, err}
		}()
	}
	results := make([]Result, len(batches))
	finished := make([]bool, len(batches))
	// The senders return when their context is done; the grace covers a program that ignores
	// its kill for a moment (WaitDelay) and the scheduling of the goroutines.
	grace := time.NewTimer(limit + 2*time.Second)
	defer grace.Stop()
wait:
	for n := 0; n < len(batches); n++ {
		select {
		case d := <-ch:
			results[d.i].Err, finished[d.i] = d.err, true
		case <-grace.C:
			break wait
		}
	}
	for i, b := range batches {
		r := &results[i]
		r.Batch = b
		if !finished[i] {
			r.Err = ErrNoAnswer
		}
		if r.Err == nil {
			delete(outbox, b.Target.ID)
			continue
		}
		keep := b.Events
		if len(keep) > MaxPending {
			r.Dropped = len(keep) - MaxPending
			keep = keep[r.Dropped:]
		}
		outbox[b.Target.ID] = append([]state.Event(nil), keep...)
	}
	return results
}
