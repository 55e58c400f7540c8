package state

import (
	"errors"
	"fmt"
)

// Event is a ban or an unban as notifications report it. It is made from what the policy
// decided (a parsed address, counts, times, the rule that set the length), never from the text
// of a log line.
type Event struct {
	Kind     string `json:"event"`              // "ban" or "unban"
	Jail     string `json:"jail"`               // the jail's name
	IP       string `json:"ip"`                 // the ban's key: an address, or a prefix
	Time     int64  `json:"time"`               // when it was decided (unix seconds)
	Failures int    `json:"failures,omitempty"` // ban: the failures in findtime that led to it
	Start    int64  `json:"start"`              // the ban's start
	End      int64  `json:"end"`                // the ban's end; -1: permanent
	BanTime  int64  `json:"bantime"`            // End - Start; -1: permanent
	Manual   bool   `json:"manual,omitempty"`   // by the ban or unban command
	Reason   string `json:"reason,omitempty"`   // ban: what decided its length; unban: why
}

// Event kinds.
const (
	EventBan   = "ban"
	EventUnban = "unban"
)

// checkOutbox validates the outbox: events not yet delivered, by notification target id.
func checkOutbox(outbox map[string][]Event) error {
	for id, events := range outbox {
		if id == "" {
			return errors.New("outbox: empty target id")
		}
		for i, ev := range events {
			where := fmt.Sprintf("outbox.%q[%d]", id, i)
			switch {
			case ev.Kind != EventBan && ev.Kind != EventUnban:
				return fmt.Errorf("%s: event %q (want ban or unban)", where, ev.Kind)
			case ev.Jail == "":
				return fmt.Errorf("%s: no jail", where)
			case ev.Failures < 0:
				return fmt.Errorf("%s: negative failures %d", where, ev.Failures)
			}
			if err := checkIPKey(ev.IP); err != nil {
				return fmt.Errorf("%s: ip %q: %w", where, ev.IP, err)
			}
		}
	}
	return nil
}
