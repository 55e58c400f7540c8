package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Crowdsec is what sharing bans through a CrowdSec Local API keeps between runs: the pushes
// not yet done, this host's decisions in the LAPI, and the fleet's decisions pulled from it.
type Crowdsec struct {
	// Streamed is true once a pull with startup=true was read and saved: the next pulls ask
	// only for what changed since (the LAPI keeps the bouncer's last pull).
	Streamed bool `json:"streamed,omitempty"`
	// Source names what the fleet was pulled with (the LAPI, the machine, the scenario prefix,
	// the origins): when the config changes it, the next pull is a startup pull again, so that
	// the decisions the new settings take come in, and those they no longer take go.
	Source string `json:"source,omitempty"`
	// Pending are the bans to push and the unbans to delete that the LAPI has not taken yet,
	// oldest first, at most MaxPending.
	Pending []Push `json:"pending,omitempty"`
	// Pushed are this host's bans that the LAPI holds: an unban deletes their decisions.
	Pushed []Pushed `json:"pushed,omitempty"`
	// Fleet are the decisions pulled from the LAPI that this host enforces (the jail "fleet").
	Fleet FleetBans `json:"fleet,omitempty"`
	// Hours counts, per hour (its start, unix seconds), the fleet's decisions pulled and lifted
	// and this host's bans pushed, for report; pruned with the history.
	Hours map[int64]*[3]int64 `json:"hours,omitempty"`
}

// Indexes of Crowdsec.Hours' counts.
const (
	FleetPulled = iota // fleet decisions taken
	FleetLifted        // fleet decisions gone (deleted in the LAPI, or run out)
	FleetPushed        // bans of this host pushed
)

// Count adds n to the count k of the hour of t.
func (c *Crowdsec) Count(t int64, k int, n int) {
	if n == 0 {
		return
	}
	if c.Hours == nil {
		c.Hours = map[int64]*[3]int64{}
	}
	h := t - t%3600
	if t < 0 && t%3600 != 0 {
		h -= 3600
	}
	if c.Hours[h] == nil {
		c.Hours[h] = &[3]int64{}
	}
	c.Hours[h][k] += int64(n)
}

// PruneHours drops the counts of the hours before from.
func (c *Crowdsec) PruneHours(from int64) {
	for h := range c.Hours {
		if h+3600 <= from {
			delete(c.Hours, h)
		}
	}
	if len(c.Hours) == 0 {
		c.Hours = nil
	}
}

// MaxPending bounds Crowdsec.Pending: when the LAPI stays away, the oldest are dropped.
const MaxPending = 10000

// Push kinds.
const (
	PushBan   = "ban"
	PushUnban = "unban"
)

// Push is a ban to post to the LAPI, or an unban whose decisions to delete there.
type Push struct {
	Kind     string  `json:"kind"` // PushBan or PushUnban
	Jail     string  `json:"jail"`
	IP       string  `json:"ip"`                 // the ban's key: an address or a prefix
	Time     int64   `json:"time"`               // when it was decided
	End      int64   `json:"end,omitempty"`      // ban: its end; -1 permanent
	Failures int     `json:"failures,omitempty"` // ban: the failures that led to it (0: manual)
	First    int64   `json:"first,omitempty"`    // ban: the first and last of those failures
	Last     int64   `json:"last,omitempty"`
	Manual   bool    `json:"manual,omitempty"` // ban: by the ban command
	Reason   string  `json:"reason,omitempty"` // ban: what decided its length, or that it is a prefix's
	Alerts   []int64 `json:"alerts,omitempty"` // unban: the alerts whose decisions go
	Tries    int     `json:"tries,omitempty"`  // the runs whose LAPI refused it (answered an error)
	Sent     int64   `json:"sent,omitempty"`   // ban: when a request carrying it got no answer (it may be in the LAPI)
}

// Pushed is one alert of this host in the LAPI, with the ban decision it carries.
type Pushed struct {
	Jail  string `json:"jail"`
	IP    string `json:"ip"`
	Alert int64  `json:"alert"`
	Until int64  `json:"until"` // when the decision ends in the LAPI (a permanent ban's too)
	End   int64  `json:"end"`   // the ban's own end: -1 permanent
}

// FleetBan is a decision of the fleet: a ban decided by another host, or by an origin the
// config takes (cscli, lists).
type FleetBan struct {
	Value    string // an address or a prefix, as a ban's key
	Until    int64  // when the LAPI lifts it (unix seconds)
	Origin   string
	Scenario string
}

// FleetBans maps a LAPI decision id to its ban. Its JSON is compact, as a fleet may hold
// 100,000 decisions: the distinct origin and scenario pairs once, and one string of
// "id=value,until,source" sorted by id, source indexing the pairs:
//
//	{"sources":[["fail2ban-scan","fail2ban-scan/postfix-sasl@mx2"]],"bans":"17=192.0.2.7,1786755600,0"}
type FleetBans map[int64]FleetBan

type fleetJSON struct {
	Sources [][2]string `json:"sources"`
	Bans    string      `json:"bans"`
}

// MarshalJSON writes the compact form.
func (f FleetBans) MarshalJSON() ([]byte, error) {
	ids := slices.Sorted(func(yield func(int64) bool) {
		for id := range f {
			if !yield(id) {
				return
			}
		}
	})
	out := fleetJSON{Sources: [][2]string{}}
	index := map[[2]string]int{}
	b := make([]byte, 0, 40*len(ids))
	for i, id := range ids {
		fb := f[id]
		src := [2]string{fb.Origin, fb.Scenario}
		n, ok := index[src]
		if !ok {
			n = len(out.Sources)
			index[src] = n
			out.Sources = append(out.Sources, src)
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, id, 10)
		b = append(b, '=')
		b = append(b, fb.Value...)
		b = append(b, ',')
		b = strconv.AppendInt(b, fb.Until, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(n), 10)
	}
	out.Bans = string(b)
	return json.Marshal(out)
}

// UnmarshalJSON reads the compact form and checks each entry.
func (f *FleetBans) UnmarshalJSON(data []byte) error {
	var in fleetJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	if in.Bans == "" {
		*f = nil // as Encode omits an empty fleet: Decode(Encode(s)) is s
		return nil
	}
	m := FleetBans{}
	rest := in.Bans
	for rest != "" {
		var entry string
		entry, rest, _ = strings.Cut(rest, " ")
		idText, fields, ok := strings.Cut(entry, "=")
		id, err := strconv.ParseInt(idText, 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("fleet entry %q: want id=value,until,source", entry)
		}
		parts := strings.Split(fields, ",")
		if len(parts) != 3 {
			return fmt.Errorf("fleet entry %q: want id=value,until,source", entry)
		}
		until, err1 := strconv.ParseInt(parts[1], 10, 64)
		src, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || src < 0 || src >= len(in.Sources) {
			return fmt.Errorf("fleet entry %q: bad until or source", entry)
		}
		if err := checkIPKey(parts[0]); err != nil {
			return fmt.Errorf("fleet entry %q: %w", entry, err)
		}
		if _, dup := m[id]; dup {
			return fmt.Errorf("fleet entry %q: id %d twice", entry, id)
		}
		m[id] = FleetBan{Value: parts[0], Until: until, Origin: in.Sources[src][0], Scenario: in.Sources[src][1]}
	}
	*f = m
	return nil
}

// checkCrowdsec validates the crowdsec section (nil: none), and makes its empty lists and
// maps nil, as Encode omits them.
func checkCrowdsec(c *Crowdsec) error {
	if c == nil {
		return nil
	}
	if len(c.Pending) == 0 {
		c.Pending = nil
	}
	if len(c.Pushed) == 0 {
		c.Pushed = nil
	}
	if len(c.Hours) == 0 {
		c.Hours = nil
	}
	for i := range c.Pending {
		if len(c.Pending[i].Alerts) == 0 {
			c.Pending[i].Alerts = nil
		}
	}
	for i, p := range c.Pending {
		where := fmt.Sprintf("crowdsec.pending[%d]", i)
		switch {
		case p.Kind != PushBan && p.Kind != PushUnban:
			return fmt.Errorf("%s: kind %q (want ban or unban)", where, p.Kind)
		case p.Jail == "":
			return fmt.Errorf("%s: no jail", where)
		}
		if err := checkIPKey(p.IP); err != nil {
			return fmt.Errorf("%s: ip %q: %w", where, p.IP, err)
		}
	}
	for h, n := range c.Hours {
		if n == nil {
			return fmt.Errorf("crowdsec.hours.%d: null", h)
		}
	}
	for i, p := range c.Pushed {
		if err := checkIPKey(p.IP); err != nil {
			return fmt.Errorf("crowdsec.pushed[%d]: ip %q: %w", i, p.IP, err)
		}
		if p.Jail == "" {
			return errors.New("crowdsec.pushed: no jail")
		}
	}
	return nil
}

// Empty reports whether c holds nothing worth saving.
func (c *Crowdsec) Empty() bool {
	return c == nil || !c.Streamed && c.Source == "" && len(c.Pending) == 0 && len(c.Pushed) == 0 && len(c.Fleet) == 0 && len(c.Hours) == 0
}

// Queue appends pushes to Pending and drops the oldest beyond MaxPending; it returns how many
// were dropped.
func (c *Crowdsec) Queue(p ...Push) (dropped int) {
	c.Pending = append(c.Pending, p...)
	if n := len(c.Pending) - MaxPending; n > 0 {
		c.Pending = slices.Delete(c.Pending, 0, n)
		return n
	}
	return 0
}
