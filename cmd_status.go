package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/scan"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// jailStatus is one jail in `status --json`.
type jailStatus struct {
	CurrentlyFailed int         `json:"currently_failed"`
	TotalFailed     int64       `json:"total_failed"`
	CurrentlyBanned int         `json:"currently_banned"`
	TotalBanned     int64       `json:"total_banned"`
	Banned          []banStatus `json:"banned"`
	Files           []string    `json:"files"`
	JournalMatches  []string    `json:"journal_matches"`
	Notice          string      `json:"notice,omitempty"`
}

// quietNotice is how long a jail may read lines without a single match before status says so.
const quietNotice = 24 * 3600

type banStatus struct {
	IP        string `json:"ip"` // an address, or a prefix such as 203.0.113.0/24
	Start     int64  `json:"start"`
	End       int64  `json:"end"` // -1: permanent
	Permanent bool   `json:"permanent"`
	Count     int    `json:"count"`  // the IP's n-th ban (0: made before bans were counted)
	Prefix    bool   `json:"prefix"` // a ban of a whole subnet or IPv6 prefix
}

// statusOf computes a jail's status from the state at now. Bans are ordered by IP; the bans
// inside a banned prefix are not listed (the prefix's one rule blocks them).
func statusOf(j *rules.Jail, js *state.Jail, now int64) jailStatus {
	s := jailStatus{
		CurrentlyFailed: j.CurrentlyFailed(js, now),
		TotalFailed:     js.TotalFailed,
		TotalBanned:     js.TotalBanned,
		Banned:          []banStatus{},
		Files:           []string{},
		JournalMatches:  []string{},
	}
	for _, ip := range rules.ActiveKeys(js, now) { // a ban that is over goes at the next scan
		b := js.Bans[ip]
		s.Banned = append(s.Banned, banStatus{IP: ip, Start: b.Start, End: b.End, Permanent: b.Permanent(), Count: b.Count, Prefix: rules.IsPrefixKey(ip)})
	}
	s.CurrentlyBanned = len(s.Banned)
	if js.Unmatched > 0 && now-js.QuietSince >= quietNotice {
		what, check := "lines", "logpath and filter"
		if j.Backend == "journal" {
			what, check = "journal entries", "journalmatch and filter"
		}
		s.Notice = fmt.Sprintf("%d %s read since %s, and not one matched the filter: check the jail's %s (fail2ban-scan regex tests a filter)",
			js.Unmatched, what, time.Unix(js.QuietSince, 0).Local().Format(stampLayout), check)
	}
	if j.Backend == "journal" {
		s.JournalMatches = append(s.JournalMatches, j.JournalMatch...)
	} else if paths, err := scan.Expand(j.LogPath); err == nil {
		s.Files = append(s.Files, paths...)
	} else {
		s.Files = append(s.Files, j.LogPath...)
	}
	return s
}

// sortedIPs returns the keys of m in address order (v4 before v6), a prefix before the
// addresses inside it.
func sortedIPs[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, rules.CompareKeys)
	return keys
}

// writeJailStatus prints one jail in fail2ban-client's layout.
func writeJailStatus(w io.Writer, name string, j *rules.Jail, s jailStatus) {
	fmt.Fprintf(w, "Status for the jail: %s\n", name)
	fmt.Fprintf(w, "|- Filter\n")
	fmt.Fprintf(w, "|  |- Currently failed:\t%d\n", s.CurrentlyFailed)
	fmt.Fprintf(w, "|  |- Total failed:\t%d\n", s.TotalFailed)
	if j.Backend == "journal" {
		fmt.Fprintf(w, "|  `- Journal matches:\t%s\n", strings.Join(s.JournalMatches, " "))
	} else {
		fmt.Fprintf(w, "|  `- File list:\t%s\n", strings.Join(s.Files, " "))
	}
	ips := make([]string, len(s.Banned))
	for i, b := range s.Banned {
		ips[i] = b.IP
	}
	fmt.Fprintf(w, "`- Actions\n")
	fmt.Fprintf(w, "   |- Currently banned:\t%d\n", s.CurrentlyBanned)
	fmt.Fprintf(w, "   |- Total banned:\t%d\n", s.TotalBanned)
	fmt.Fprintf(w, "   `- Banned IP list:\t%s\n", strings.Join(ips, " "))
	if s.Notice != "" {
		fmt.Fprintf(w, "Notice: %s\n", s.Notice)
	}
}

// writeBansWithTime prints a jail's bans as fail2ban-client's `get JAIL banip --with-time`
// does, "IP \tSTART + BANTIME = END", each line after prefix; a permanent ban has BANTIME -1
// and END "permanent".
func writeBansWithTime(w io.Writer, prefix string, s jailStatus) {
	for _, b := range s.Banned {
		start := time.Unix(b.Start, 0).Local().Format(stampLayout)
		if b.Permanent {
			fmt.Fprintf(w, "%s%s \t%s + -1 = permanent\n", prefix, b.IP, start)
			continue
		}
		end := time.Unix(b.End, 0).Local().Format(stampLayout)
		fmt.Fprintf(w, "%s%s \t%s + %d = %s\n", prefix, b.IP, start, b.End-b.Start, end)
	}
}

func cmdStatus(c *cli.Context) error {
	e, err := setup(c)
	if err != nil {
		return err
	}
	defer e.closeLog()
	if c.NArg() > 1 {
		return usageErr(fmt.Errorf("status takes at most one jail, got %d arguments", c.NArg()))
	}
	var names []string
	if c.NArg() == 1 {
		names = []string{c.Args().First()}
	}
	if cs := e.cfg.Crowdsec; cs != nil && len(names) == 1 && names[0] == rules.FleetJail {
		st, err := e.loadState()
		if err != nil {
			return err
		}
		return e.fleetStatus(c.Bool("json"), statusOfFleet(cs, st.Crowdsec, e.now.Unix()))
	}
	jails, err := e.jails(names)
	if err != nil {
		return err
	}
	st, err := e.loadState()
	if err != nil {
		return err
	}
	now := e.now.Unix()
	if c.Bool("json") {
		out := struct {
			Jails map[string]jailStatus `json:"jails"`
			Fleet *fleetStatus          `json:"fleet,omitempty"` // with a crowdsec: section
		}{Jails: map[string]jailStatus{}}
		for _, j := range jails {
			out.Jails[j.Name] = statusOf(j, st.Jail(j.Name), now)
		}
		if cs := e.cfg.Crowdsec; cs != nil && len(names) == 0 {
			out.Fleet = statusOfFleet(cs, st.Crowdsec, now)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if c.Bool("with-time") {
		for _, j := range jails {
			prefix := ""
			if len(names) == 0 {
				prefix = "[" + j.Name + "] "
			}
			writeBansWithTime(e.stdout, prefix, statusOf(j, st.Jail(j.Name), now))
		}
		return nil
	}
	if len(names) == 1 {
		writeJailStatus(e.stdout, jails[0].Name, jails[0], statusOf(jails[0], st.Jail(jails[0].Name), now))
		return nil
	}
	list := make([]string, len(jails))
	for i, j := range jails {
		list[i] = j.Name
	}
	if cs := e.cfg.Crowdsec; cs != nil {
		f := statusOfFleet(cs, st.Crowdsec, now)
		fmt.Fprintf(e.stdout, "Status\n|- Number of jail:\t%d\n|- Jail list:\t%s\n`- Fleet (CrowdSec):\t%d banned, %d pushes pending\n",
			len(jails), strings.Join(list, ", "), f.CurrentlyBanned, f.PendingPushes)
		return nil
	}
	fmt.Fprintf(e.stdout, "Status\n|- Number of jail:\t%d\n`- Jail list:\t%s\n", len(jails), strings.Join(list, ", "))
	return nil
}

// fleetStatus prints `status fleet`.
func (e *env) fleetStatus(asJSON bool, s *fleetStatus) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Fleet *fleetStatus `json:"fleet"`
		}{s})
	}
	writeFleetStatus(e.stdout, s)
	return nil
}
