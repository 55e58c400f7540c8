package state

import (
	"fmt"
	"maps"
	"slices"
)

// The history records what every run did, so that `report` can sum any period. Every event is
// attributed to the now of the run that counted it (not to the log line's time), which makes a
// period's figures equal the differences of the status counters between its ends, and leaves no
// trace of a run whose state was never saved. A period (from, to] holds the runs with
// from < now <= to; likewise an hour bucket keyed b holds the runs with b < now <= b+3600, and a
// day bucket keyed d (a UTC day start) the runs with d < now <= d+86400.
//
// Its size grows with runs (bounded), hours, bans and distinct IPs per day, never with failures:
//   - hours: per hour bucket, the counters of its runs;
//   - runs: one counter record per run that did something, for the last 48 h only, so that
//     counters are exact at any boundary inside them (older boundaries round down to the hour);
//   - days: per day bucket, the failures of each IP (the distinct IPs are its keys);
//   - ip_hours: the same per hour bucket, from the start of yesterday (UTC) on, so that per-IP
//     figures are exact to the hour there (older boundaries round down to the day);
//   - bans: every ban applied, with the run it was applied by and when it ended, so that the
//     bans active at any past time are known.

// Counter indexes of Counts and of a Run (after its first element, the run's now).
const (
	CFailures      = iota // failures counted (Total failed)
	CBans                 // bans applied, manual ones included (Total banned)
	CUnbans               // bans lifted: expired, or by the unban command
	CPermanentBans        // bans applied that never expire
	CManualBans           // bans applied by the ban command
	CLines                // log lines (or journal entries) read
	NCounters
)

// Counts are the counters of a set of runs, indexed by the C constants.
type Counts [NCounters]int64

// Add adds c2 to c.
func (c *Counts) Add(c2 Counts) {
	for i := range c {
		c[i] += c2[i]
	}
}

// Run is one run's record: its now, then its Counts.
type Run [1 + NCounters]int64

// Counts returns the counters of r.
func (r Run) Counts() (c Counts) { copy(c[:], r[1:]); return c }

// BanSpan is a ban as the history keeps it: At is the now of the run that applied it, End the
// time it ended (its end, or the now of the run that lifted it early), -1 while permanent.
type BanSpan struct {
	IP  string `json:"ip"`
	At  int64  `json:"at"`
	End int64  `json:"end"`
}

// ActiveAt reports whether the ban was in force after the runs up to t: applied by a run at or
// before t, and not over at t.
func (b BanSpan) ActiveAt(t int64) bool { return b.At <= t && (b.End < 0 || b.End > t) }

// JailHistory is the history of one jail.
type JailHistory struct {
	Hours   map[int64]*Counts   `json:"hours"`
	Runs    []Run               `json:"runs"`
	Days    map[int64]*IPCounts `json:"days"`
	IPHours map[int64]*IPCounts `json:"ip_hours"`
	Bans    []BanSpan           `json:"bans"`

	// lazySpans holds Bans as the JSON list LoadLazy read from a sealed file while they are
	// not decoded (see spans), tail the spans appended since, spansEnd the earliest end among
	// both, and latest the latest span of each address, once appendSpan needed it.
	lazySpans string
	tail      []BanSpan
	spansEnd  int64
	latest    map[string]spanTimes
}

// History is the history of every jail. Start, RunsSince and IPHoursSince say from when on each
// tier is complete: hours and days for runs after Start, runs after RunsSince, ip_hours for
// buckets at or after IPHoursSince.
type History struct {
	Start        int64                   `json:"start"`
	Last         int64                   `json:"last"` // the now of the latest run that wrote the state
	RunsSince    int64                   `json:"runs_since"`
	IPHoursSince int64                   `json:"ip_hours_since"`
	Jails        map[string]*JailHistory `json:"jails"`
}

const (
	hour = 3600
	day  = 86400
	// RunsKept is how long run records are kept, counted back from the latest run.
	RunsKept = 48 * hour
)

// HourKey is the key of the hour bucket of a run at now: the bucket holds b < now <= b+3600.
func HourKey(now int64) int64 { return floorDiv(now-1, hour) * hour }

// DayKey is the key of the UTC day bucket of a run at now: the bucket holds d < now <= d+86400.
func DayKey(now int64) int64 { return floorDiv(now-1, day) * day }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// NewHistory returns an empty history.
func NewHistory() *History { return &History{Jails: map[string]*JailHistory{}} }

// Jail returns the history of the named jail, or nil.
func (h *History) Jail(name string) *JailHistory { return h.Jails[name] }

func (h *History) jail(name string) *JailHistory {
	j := h.Jails[name]
	if j == nil {
		j = &JailHistory{}
		h.Jails[name] = j
	}
	j.init()
	return j
}

func (j *JailHistory) init() {
	if j.Hours == nil {
		j.Hours = map[int64]*Counts{}
	}
	if j.Days == nil {
		j.Days = map[int64]*IPCounts{}
	}
	if j.IPHours == nil {
		j.IPHours = map[int64]*IPCounts{}
	}
	if j.Runs == nil {
		j.Runs = []Run{}
	}
	if j.Bans == nil {
		j.Bans = []BanSpan{}
	}
}

// Recorder records the events of one run in one jail. A nil *Recorder records nothing (dry
// runs). Each call updates a few counters in place: nothing is stored per failure (a count
// per IP until Flush).
type Recorder struct {
	h    *History
	j    *JailHistory
	now  int64
	run  int // index of this run's record in j.Runs, -1 until the first event
	hour *Counts
	// pending counts this run's failures per IP until Flush adds them to the day's and the
	// hour's counts: one map update per failure instead of two (a first run over a botnet's
	// log counts half a million).
	pending map[string]int64
	// last indexes j.Bans by IP (the latest span of each), built at the first closeBan: a
	// scan linear in the spans for each ban made a first run's 100,000 bans take half a
	// minute.
	last map[string]int
	// open holds the IPs whose spans were open at the first NewBan (openBefore).
	open map[string]bool
}

// Recorder returns the recorder of the run at now in the named jail.
func (h *History) Recorder(jail string, now int64) *Recorder {
	if h.Start == 0 && h.Last == 0 {
		h.Start = now - 1 // the first run belongs to its history
	}
	return &Recorder{h: h, j: h.jail(jail), now: now, run: -1}
}

// add adds n to counter i of the run and of its hour.
func (r *Recorder) add(i int, n int64) {
	if r.run < 0 {
		if k := len(r.j.Runs) - 1; k >= 0 && r.j.Runs[k][0] == r.now {
			r.run = k // a second recorder of the same run
		} else {
			r.j.Runs = append(r.j.Runs, Run{r.now})
			r.run = len(r.j.Runs) - 1
		}
		key := HourKey(r.now)
		if r.hour = r.j.Hours[key]; r.hour == nil {
			r.hour = &Counts{}
			r.j.Hours[key] = r.hour
		}
	}
	r.j.Runs[r.run][1+i] += n
	r.hour[i] += n
}

// Failure records one counted failure of ip.
func (r *Recorder) Failure(ip string) {
	if r == nil {
		return
	}
	r.add(CFailures, 1)
	if r.pending == nil {
		r.pending = map[string]int64{}
	}
	r.pending[ip]++
}

// Flush adds the failures recorded since the last Flush to the per-IP counts of the run's day
// and hour. A run calls it once it has recorded its failures, before the state is saved or
// its history read; until then they count in the run's counters only.
func (r *Recorder) Flush() {
	if r == nil || len(r.pending) == 0 {
		return
	}
	day, hour := DayKey(r.now), HourKey(r.now)
	if r.j.Days[day] == nil && r.j.IPHours[hour] == nil {
		r.j.Days[day], r.j.IPHours[hour] = newTwins(r.pending) // the same counts in both
	} else {
		addCounts(r.j.Days, day, r.pending, true)
		addCounts(r.j.IPHours, hour, r.pending, false)
	}
	r.pending = nil
}

// addCounts adds counts to bucket key of m. A bucket not there yet is counts itself (its own
// copy unless mine): a first run's 100,000 addresses are one map copy, not 100,000 updates.
func addCounts(m map[int64]*IPCounts, key int64, counts map[string]int64, mine bool) {
	v := m[key]
	if v == nil {
		if !mine {
			counts = maps.Clone(counts)
		}
		m[key] = NewIPCounts(counts)
		return
	}
	have := v.Map()
	for ip, n := range counts {
		have[ip] += n
	}
}

// Ban records a ban of ip applied by this run, ending at end (-1: never); manual for the ban
// command. A ban of ip still open in the history ends now: the new one replaces it.
func (r *Recorder) Ban(ip string, end int64, manual bool) {
	r.ban(ip, end, manual, true)
}

// NewBan is Ban of an ip the jail's state held no ban of: no span of it opened by this run is
// open, so only those open when the run began are looked for (in a first run over a botnet's
// log, none: 100,000 bans need no index of the spans by IP).
func (r *Recorder) NewBan(ip string, end int64) {
	r.ban(ip, end, false, false)
}

func (r *Recorder) ban(ip string, end int64, manual, replaces bool) {
	if r == nil {
		return
	}
	r.add(CBans, 1)
	if end < 0 {
		r.add(CPermanentBans, 1)
	}
	if manual {
		r.add(CManualBans, 1)
	}
	span := BanSpan{IP: ip, At: r.now, End: end}
	if r.j.appendSpan(span, r.now) {
		return // spans left as text, none of ip's open: appended to them
	}
	if replaces || r.openBefore(ip) {
		r.closeBan(ip)
	}
	spans := r.j.spans()
	if len(spans) == cap(spans) {
		// Twice the room, not append's quarter more: a first run's 100,000 spans left 16 MB
		// of outgrown arrays to the collector, 5 MB now.
		spans = slices.Grow(spans, max(len(spans), 64))
	}
	r.j.Bans = append(spans, span)
	if r.last != nil {
		r.last[ip] = len(r.j.Bans) - 1
	}
}

// openBefore reports whether a span of ip was open (ActiveAt) when the first NewBan came.
func (r *Recorder) openBefore(ip string) bool {
	if r.open == nil {
		r.open = map[string]bool{}
		for _, b := range r.j.spans() {
			if b.ActiveAt(r.now) {
				r.open[b.IP] = true
			}
		}
	}
	return r.open[ip]
}

// Unban records that this run lifted the ban of ip: expired, or early (manual) by the unban
// command, which ends its span now.
func (r *Recorder) Unban(ip string, manual bool) {
	if r == nil {
		return
	}
	r.add(CUnbans, 1)
	if manual {
		r.closeBan(ip)
	}
}

// closeBan ends now the latest span of ip that is still active now.
func (r *Recorder) closeBan(ip string) {
	if r.last == nil {
		r.last = make(map[string]int, len(r.j.spans()))
		for i, b := range r.j.Bans {
			r.last[b.IP] = i
		}
	}
	if i, ok := r.last[ip]; ok {
		if b := &r.j.Bans[i]; b.ActiveAt(r.now) {
			b.End = r.now
		}
	}
}

// Lines records n lines read.
func (r *Recorder) Lines(n int64) {
	if r == nil || n == 0 {
		return
	}
	r.add(CLines, n)
}

// Prune ends a run at now that writes the state: it notes now as the latest run and drops
// what the history no longer keeps: hours, days and ended bans older than `days` days (counted
// from the start of now's UTC day), run records older than 48 h (from the hour), and ip_hours
// before the start of yesterday.
func (h *History) Prune(now int64, days int) {
	if now > h.Last {
		h.Last = now
	}
	cutoff := DayKey(h.Last) - int64(days-1)*day
	if cutoff > h.Start {
		h.Start = cutoff
	}
	if rs := HourKey(h.Last - RunsKept); rs > h.RunsSince {
		h.RunsSince = rs
	}
	if is := DayKey(h.Last) - day; is > h.IPHoursSince {
		h.IPHoursSince = is
	}
	for _, j := range h.Jails {
		for k := range j.Hours {
			if k < h.Start-hour+1 { // the bucket holds no run after Start
				delete(j.Hours, k)
			}
		}
		for k := range j.Days {
			if k < h.Start-day+1 {
				delete(j.Days, k)
			}
		}
		for k := range j.IPHours {
			if k < h.IPHoursSince {
				delete(j.IPHours, k)
			}
		}
		j.Runs = slices.DeleteFunc(j.Runs, func(r Run) bool { return r[0] <= h.RunsSince })
		if j.lazySpans != "" && j.spansEnd > h.Start {
			continue // none to drop: they stay the text they were read from
		}
		j.Bans = slices.DeleteFunc(j.spans(), func(b BanSpan) bool { return b.End >= 0 && b.End <= h.Start })
	}
}

// check validates a decoded history.
func (h *History) check() error {
	if h.Jails == nil {
		h.Jails = map[string]*JailHistory{}
	}
	for name, j := range h.Jails {
		if j == nil {
			return fmt.Errorf("history.jails.%s: null", name)
		}
		j.init()
		for k, c := range j.Hours {
			if c == nil {
				return fmt.Errorf("history.jails.%s.hours.%d: null", name, k)
			}
			if k%hour != 0 {
				return fmt.Errorf("history.jails.%s.hours.%d: not the start of an hour", name, k)
			}
			if i := slices.IndexFunc(c[:], func(n int64) bool { return n < 0 }); i >= 0 {
				return fmt.Errorf("history.jails.%s.hours.%d[%d]: negative counter %d", name, k, i, c[i])
			}
		}
		for i, r := range j.Runs {
			if k := slices.IndexFunc(r[:], func(n int64) bool { return n < 0 }); k >= 0 {
				return fmt.Errorf("history.jails.%s.runs[%d][%d]: negative %d", name, i, k, r[k])
			}
		}
		for k := range j.Days {
			if k%day != 0 {
				return fmt.Errorf("history.jails.%s.days.%d: not the start of a day", name, k)
			}
		}
		for k := range j.IPHours {
			if k%hour != 0 {
				return fmt.Errorf("history.jails.%s.ip_hours.%d: not the start of an hour", name, k)
			}
		}
		for i, b := range j.Bans {
			if err := checkIPKey(b.IP); err != nil {
				return fmt.Errorf("history.jails.%s.bans[%d].ip %q: %w", name, i, b.IP, err)
			}
			if b.At < 0 || b.End < -1 {
				return fmt.Errorf("history.jails.%s.bans[%d]: negative time", name, i)
			}
			if b.End >= 0 && b.End < b.At {
				return fmt.Errorf("history.jails.%s.bans[%d]: end %d before %d", name, i, b.End, b.At)
			}
		}
	}
	return nil
}
