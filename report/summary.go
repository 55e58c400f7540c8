// Package report sums the history of the state over a period and renders the summary as text
// for a mail body, JSON for scripts and a self-contained HTML document. It is pure: the caller
// gives the state, the period, the host name and the time zone.
package report

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

const (
	hour = 3600
	day  = 86400
	// TopN is how many offenders a summary lists.
	TopN = 10
)

// Summary is the figures of every jail over the period (From, To]: the runs with
// From < now <= To.
type Summary struct {
	Host     string
	Loc      *time.Location // for the times shown to people (nil: UTC)
	From, To int64
	// CountsFrom and CountsTo are the bounds the counters were summed over: From and To, or
	// rounded down to the hour where the per-run records were already pruned.
	CountsFrom, CountsTo int64
	// IPsFrom and IPsTo are the bounds of the per-IP figures (distinct IPs, top offenders):
	// rounded down to the hour, or to the UTC day before the per-hour IP records.
	IPsFrom, IPsTo int64
	// HourStart is the start of the first bucket of each jail's Hourly.
	HourStart int64
	// HistoryStart is when the history begins: nothing is known before it.
	HistoryStart int64
	// DistinctIPs counts the IPs that failed in any jail (per-IP bounds).
	DistinctIPs int
	Jails       []Jail
	// Fleet is the bans shared through CrowdSec, counted apart from the jails' (nil: the state
	// has no crowdsec section).
	Fleet *Fleet
}

// Fleet is the figures of the bans shared through a CrowdSec LAPI over the period, by the
// hour: the fleet's decisions this host took and saw lifted, and its own bans it pushed.
type Fleet struct {
	Pulled, Lifted, Pushed int64
	CurrentlyBanned        int // distinct addresses and prefixes at To
}

// Jail is one jail's figures.
type Jail struct {
	Name            string
	Failures        int64
	DistinctIPs     int
	Bans            int64 // every ban applied, manual ones included
	Unbans          int64
	PermanentBans   int64
	ManualBans      int64
	Lines           int64
	CurrentlyBanned int // at To
	Top             []Offender
	Hourly          []int64 // failures per hour bucket from HourStart
}

// Offender is an IP and its failures over the period.
type Offender struct {
	IP       string
	Failures int64
	Banned   bool // banned at To
}

func floorTo(t, unit int64) int64 {
	q := t / unit
	if t%unit != 0 && t < 0 {
		q--
	}
	return q * unit
}

// Summarize sums the history of st for the named jails over (from, to].
func Summarize(st *state.State, jails []string, from, to int64) Summary {
	h := st.History
	if h == nil {
		h = state.NewHistory()
	}
	if to < from {
		to = from
	}
	s := Summary{From: from, To: to, CountsFrom: from, CountsTo: to, HistoryStart: h.Start}
	if s.CountsFrom < h.RunsSince {
		s.CountsFrom = floorTo(from, hour)
	}
	if s.CountsTo < h.RunsSince {
		s.CountsTo = floorTo(to, hour)
	}
	s.IPsFrom, s.IPsTo = floorTo(from, hour), floorTo(to, hour)
	if s.IPsFrom < h.IPHoursSince {
		s.IPsFrom = floorTo(s.IPsFrom, day)
	}
	if s.IPsTo < h.IPHoursSince {
		s.IPsTo = floorTo(s.IPsTo, day)
	}
	s.HourStart = floorTo(s.CountsFrom, hour)
	all := map[string]bool{}
	for _, name := range jails {
		jh := h.Jail(name)
		if jh == nil {
			jh = &state.JailHistory{}
		}
		var bans map[string]state.Ban
		if js := st.Jails[name]; js != nil {
			bans = js.Bans
		}
		j, perIP := s.jail(name, jh, bans, to >= h.Last)
		for ip := range perIP {
			all[ip] = true
		}
		s.Jails = append(s.Jails, j)
	}
	s.DistinctIPs = len(all)
	if cs := st.Crowdsec; cs != nil {
		s.Fleet = fleet(cs, from, to)
	}
	return s
}

// fleet sums the crowdsec section's hours that overlap (from, to].
func fleet(cs *state.Crowdsec, from, to int64) *Fleet {
	f := &Fleet{}
	for h, n := range cs.Hours {
		if n == nil || h+hour <= from || h >= to {
			continue
		}
		f.Pulled += n[state.FleetPulled]
		f.Lifted += n[state.FleetLifted]
		f.Pushed += n[state.FleetPushed]
	}
	seen := map[string]bool{}
	for _, fb := range cs.Fleet {
		if fb.Until > to {
			seen[fb.Value] = true
		}
	}
	f.CurrentlyBanned = len(seen)
	return f
}

// jail sums one jail; it also returns the failures per IP.
func (s *Summary) jail(name string, jh *state.JailHistory, bans map[string]state.Ban, fromState bool) (Jail, map[string]int64) {
	j := Jail{Name: name, Hourly: []int64{}, Top: []Offender{}}
	var total state.Counts
	for b := s.HourStart; b < s.CountsTo; b += hour {
		var c state.Counts
		if s.CountsFrom <= b && b+hour <= s.CountsTo {
			if hc := jh.Hours[b]; hc != nil {
				c = *hc
			}
		} else { // a partial hour: from the run records
			lo, hi := max(s.CountsFrom, b), min(s.CountsTo, b+hour)
			for _, r := range jh.Runs {
				if lo < r[0] && r[0] <= hi {
					c.Add(r.Counts())
				}
			}
		}
		total.Add(c)
		j.Hourly = append(j.Hourly, c[state.CFailures])
	}
	j.Failures, j.Bans, j.Unbans = total[state.CFailures], total[state.CBans], total[state.CUnbans]
	j.PermanentBans, j.ManualBans, j.Lines = total[state.CPermanentBans], total[state.CManualBans], total[state.CLines]

	// Banned at To: the state's bans when no run came after To, else the ban spans.
	banned := map[string]bool{}
	if fromState {
		for ip, b := range bans {
			if b.Permanent() || b.End > s.To {
				banned[ip] = true
			}
		}
	} else {
		for _, b := range jh.Bans {
			if b.ActiveAt(s.To) {
				banned[b.IP] = true
			}
		}
	}
	j.CurrentlyBanned = len(banned)

	perIP := map[string]int64{}
	add := func(m map[string]int64) {
		for ip, n := range m {
			perIP[ip] += n
		}
	}
	for b := s.IPsFrom; b < s.IPsTo; {
		if b%day == 0 && b+day <= s.IPsTo {
			add(jh.Days[b].Map())
			b += day
		} else {
			add(jh.IPHours[b].Map())
			b += hour
		}
	}
	j.DistinctIPs = len(perIP)
	for ip, n := range perIP {
		j.Top = append(j.Top, Offender{IP: ip, Failures: n, Banned: banned[ip]})
	}
	slices.SortFunc(j.Top, func(a, b Offender) int {
		if a.Failures != b.Failures {
			if a.Failures > b.Failures {
				return -1
			}
			return 1
		}
		return compareIP(a.IP, b.IP)
	})
	if len(j.Top) > TopN {
		j.Top = j.Top[:TopN]
	}
	return j, perIP
}

// compareIP orders addresses as status does: v4 before v6, numerically.
func compareIP(a, b string) int {
	x, errx := netip.ParseAddr(a)
	y, erry := netip.ParseAddr(b)
	if errx != nil || erry != nil {
		return strings.Compare(a, b)
	}
	return x.Compare(y)
}

// Totals sums the failures and the bans of every jail.
func (s Summary) Totals() (failures, bans int64) {
	for _, j := range s.Jails {
		failures += j.Failures
		bans += j.Bans
	}
	return failures, bans
}
