package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// fleetStatus is the fleet in `status --json`: the bans pulled from CrowdSec, apart from the
// jails', and what waits to be pushed.
type fleetStatus struct {
	URL             string          `json:"url"`
	CurrentlyBanned int             `json:"currently_banned"`
	Banned          []fleetBanEntry `json:"banned"`
	PendingPushes   int             `json:"pending_pushes"`
	Pushed          int             `json:"pushed"` // this host's decisions held by the LAPI
}

type fleetBanEntry struct {
	IP       string `json:"ip"`
	End      int64  `json:"end"`
	Origin   string `json:"origin"`
	Scenario string `json:"scenario"`
	ID       int64  `json:"id"` // the LAPI's decision id
}

// statusOfFleet computes the fleet's status at now: one entry per address or prefix (the
// decision that lasts longest), in address order.
func statusOfFleet(cfg *rules.CrowdsecConfig, cs *state.Crowdsec, now int64) *fleetStatus {
	s := &fleetStatus{URL: cfg.URL, Banned: []fleetBanEntry{}}
	if cs == nil {
		return s
	}
	best := map[string]fleetBanEntry{}
	for id, fb := range cs.Fleet {
		if fb.Until <= now {
			continue
		}
		if b, ok := best[fb.Value]; !ok || fb.Until > b.End {
			best[fb.Value] = fleetBanEntry{IP: fb.Value, End: fb.Until, Origin: fb.Origin, Scenario: fb.Scenario, ID: id}
		}
	}
	for _, ip := range sortedIPs(best) {
		s.Banned = append(s.Banned, best[ip])
	}
	s.CurrentlyBanned = len(s.Banned)
	s.PendingPushes, s.Pushed = len(cs.Pending), len(cs.Pushed)
	return s
}

// writeFleetStatus prints the fleet in the layout of a jail's status.
func writeFleetStatus(w io.Writer, s *fleetStatus) {
	ips := make([]string, len(s.Banned))
	origins := map[string]int{}
	for i, b := range s.Banned {
		ips[i] = b.IP
		origins[b.Origin]++
	}
	var per []string
	for _, o := range slices.Sorted(func(yield func(string) bool) {
		for o := range origins {
			if !yield(o) {
				return
			}
		}
	}) {
		per = append(per, fmt.Sprintf("%s %d", o, origins[o]))
	}
	fmt.Fprintf(w, "Status for the fleet: CrowdSec LAPI %s\n", s.URL)
	fmt.Fprintf(w, "|- Push\n")
	fmt.Fprintf(w, "|  |- Pending:\t%d\n", s.PendingPushes)
	fmt.Fprintf(w, "|  `- Held by the LAPI:\t%d\n", s.Pushed)
	fmt.Fprintf(w, "`- Pull\n")
	fmt.Fprintf(w, "   |- Currently banned:\t%d\n", s.CurrentlyBanned)
	fmt.Fprintf(w, "   |- By origin:\t%s\n", strings.Join(per, ", "))
	fmt.Fprintf(w, "   `- Banned IP list:\t%s\n", strings.Join(ips, " "))
}
