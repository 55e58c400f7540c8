package notify

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// MaxListed is how many events of one jail and kind a digest's text lists; it counts the rest
// ("and 4980 more").
const MaxListed = 20

// stampLayout is how a digest writes times: local time, with its zone, as the reader may be
// elsewhere.
const stampLayout = "2006-01-02 15:04:05 MST"

// Digest is the one message a target gets in a run.
type Digest struct {
	Host   string        // this host's name
	Now    time.Time     // when the run sends it
	Events []state.Event // oldest first
}

// group is the events of one jail and kind, in the order of the digest.
type group struct {
	jail, kind string
	events     []state.Event
}

func (d Digest) groups() []group {
	var out []group
	index := map[[2]string]int{}
	for _, ev := range d.Events {
		k := [2]string{ev.Jail, ev.Kind}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, group{jail: ev.Jail, kind: ev.Kind})
		}
		out[i].events = append(out[i].events, ev)
	}
	return out
}

func (g group) title() string {
	return fmt.Sprintf("%d %s in %s", len(g.events), plural(len(g.events), g.kind), g.jail)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Summary counts the events per jail and kind: "3 bans in postfix-sasl, 1 unban in submission".
func (d Digest) Summary() string {
	var parts []string
	for _, g := range d.groups() {
		parts = append(parts, g.title())
	}
	return strings.Join(parts, ", ")
}

// Title is the first line of the text and the mail's subject:
// "fail2ban-scan on mx1.example.org: 3 bans in postfix-sasl".
func (d Digest) Title() string { return "fail2ban-scan on " + d.Host + ": " + d.Summary() }

// Text is the digest for people: the title, then per jail and kind up to MaxListed events,
// one a line, and how many more.
//
//	fail2ban-scan on mx1.example.org: 3 bans in postfix-sasl
//	3 bans in postfix-sasl:
//	- 192.0.2.7: 5 failures, for 10m until 2026-08-15 22:50:00 UTC (1st ban: bantime 10m)
func (d Digest) Text() string {
	var b strings.Builder
	b.WriteString(d.Title() + "\n")
	for _, g := range d.groups() {
		b.WriteString(g.title() + ":\n")
		for i, ev := range g.events {
			if i == MaxListed {
				fmt.Fprintf(&b, "- and %d more\n", len(g.events)-MaxListed)
				break
			}
			b.WriteString("- " + line(ev) + "\n")
		}
	}
	return b.String()
}

// line describes one event.
func line(ev state.Event) string {
	var parts []string
	if ev.Failures > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", ev.Failures, plural(ev.Failures, "failure")))
	}
	if ev.Manual {
		parts = append(parts, "by hand")
	}
	if ev.Kind == state.EventBan {
		if ev.End < 0 {
			parts = append(parts, "permanent")
		} else {
			parts = append(parts, "for "+duration(ev.BanTime)+" until "+time.Unix(ev.End, 0).Local().Format(stampLayout))
		}
	}
	s := ev.IP
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	if ev.Reason != "" {
		s += " (" + ev.Reason + ")"
	}
	return s
}

// duration writes seconds as the config does: 10m, 1h30m, 1d.
func duration(s int64) string {
	if s <= 0 {
		return strconv.FormatInt(s, 10) + "s"
	}
	var b strings.Builder
	for _, u := range []struct {
		n    int64
		name string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}} {
		if s >= u.n {
			fmt.Fprintf(&b, "%d%s", s/u.n, u.name)
			s %= u.n
		}
	}
	return b.String()
}

// Payload is the JSON of `format: json` webhooks and of a command's standard input.
type Payload struct {
	Host    string        `json:"host"`
	Summary string        `json:"summary"`
	Events  []state.Event `json:"events"`
}

// JSON is the digest as a Payload.
func (d Digest) JSON() []byte {
	data, err := json.Marshal(Payload{Host: d.Host, Summary: d.Summary(), Events: d.Events})
	if err != nil {
		panic(err) // strings and integers only
	}
	return append(data, '\n')
}

// Env is the environment a command gets besides its own: F2B_COUNT, and for a digest of one
// event, F2B_EVENT, F2B_JAIL, F2B_IP, F2B_FAILURES, F2B_BANTIME and F2B_END.
func (d Digest) Env() []string {
	env := []string{"F2B_COUNT=" + strconv.Itoa(len(d.Events))}
	if len(d.Events) != 1 {
		return env
	}
	ev := d.Events[0]
	return append(env,
		"F2B_EVENT="+ev.Kind,
		"F2B_JAIL="+ev.Jail,
		"F2B_IP="+ev.IP,
		"F2B_FAILURES="+strconv.Itoa(ev.Failures),
		"F2B_BANTIME="+strconv.FormatInt(ev.BanTime, 10),
		"F2B_END="+strconv.FormatInt(ev.End, 10),
	)
}
