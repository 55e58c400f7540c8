package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/journaltest"
	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// The replay test writes hours of postfix log, rotating it in every way logrotate can, runs
// `scan` after every simulated minute (--now), and checks the ban set, the status counters and
// (inside a network namespace) the live iptables chain against a model of SPEC.md's
// semantics written here, apart from the code under test.

// event is one failure line written to the log.
type event struct {
	ip string
	t  int64
}

// model is SPEC.md's semantics, computed directly: per run, the new failures in order.
type model struct {
	maxretry          int
	findtime, bantime int64
	ignore            map[string]bool
	failures          map[string][]int64
	bans              map[string][2]int64
	totalFailed       int64
	totalBanned       int64
	runs              []modelRun // what each run did, for the report

	// Repeat offenders (README "Repeat offenders").
	esc     modelEsc
	count   map[string]int        // IP → the n of its current ban
	hist    map[string][2]int64   // IP → its past bans in this jail: count, start of the last
	peers   []*model              // with overalljails: the other jails, whose bans count too
	banLogs map[string][][3]int64 // IP → every ban applied: start, length (-1 permanent), n
}

// modelEsc is a jail's bantime_increment, permanent_after and forget_after.
type modelEsc struct {
	increment, overall bool
	factor             float64
	multipliers        []float64
	maxtime            int64
	permanentAfter     int
	forgetAfter        int64
}

// nth is which ban of ip a ban starting at t is: 1 + the bans of ip still remembered at t
// (the last one after t - forget_after) in this jail, and in its peers with overalljails.
func (m *model) nth(ip string, t int64) int {
	n := 1
	jails := []*model{m}
	if m.esc.overall {
		jails = append(jails, m.peers...)
	}
	for _, x := range jails {
		if h, ok := x.hist[ip]; ok && h[1] > t-m.esc.forgetAfter {
			n += int(h[0])
		}
	}
	return n
}

// length is the length of the n-th ban (-1 permanent), rndtime aside.
func (m *model) length(n int) int64 {
	e := m.esc
	if m.bantime < 0 || e.permanentAfter > 0 && n >= e.permanentAfter {
		return -1
	}
	if !e.increment {
		return m.bantime
	}
	mult := 1.0
	if len(e.multipliers) > 0 {
		mult = e.multipliers[len(e.multipliers)-1]
		if n <= len(e.multipliers) {
			mult = e.multipliers[n-1]
		}
	} else {
		for i := 1; i < n; i++ {
			mult *= e.factor
		}
	}
	l := float64(m.bantime) * mult
	if l > float64(e.maxtime) {
		return e.maxtime
	}
	return int64(l + 0.5)
}

// banned applies a ban of ip from t that the model decided: its count, its history.
func (m *model) banned(ip string, t, length int64, n int) {
	end := int64(-1)
	if length >= 0 {
		end = t + length
	}
	m.bans[ip] = [2]int64{t, end}
	m.count[ip] = n
	h := m.hist[ip]
	if h[1] <= t-m.esc.forgetAfter {
		h = [2]int64{}
	}
	m.hist[ip] = [2]int64{h[0] + 1, max(h[1], t)}
	m.banLogs[ip] = append(m.banLogs[ip], [3]int64{t, length, int64(n)})
	m.totalBanned++
}

// modelRun is what one run did: the report sums these over a period.
type modelRun struct {
	now                             int64
	failures                        map[string]int64 // per IP
	bans, unbans, permanent, manual int64
	banned                          map[string]int64 // bans after the run: IP → end (-1 never)
	totalFailed, totalBanned        int64            // the status counters after the run
}

// record appends r with the ban set as the run left it.
func (m *model) record(r modelRun) {
	r.totalFailed, r.totalBanned = m.totalFailed, m.totalBanned
	r.banned = map[string]int64{}
	for ip, b := range m.bans {
		r.banned[ip] = b[1]
	}
	m.runs = append(m.runs, r)
}

func newModel(maxretry int, findtime, bantime int64, ignore ...string) *model {
	m := &model{maxretry: maxretry, findtime: findtime, bantime: bantime, ignore: map[string]bool{},
		failures: map[string][]int64{}, bans: map[string][2]int64{},
		esc:   modelEsc{factor: 2, maxtime: 7 * 86400, forgetAfter: 30 * 86400},
		count: map[string]int{}, hist: map[string][2]int64{}, banLogs: map[string][][3]int64{}}
	for _, ip := range ignore {
		m.ignore[ip] = true
	}
	return m
}

// run applies the events read by a run at now, then lifts the bans that are over.
func (m *model) run(events []event, now int64) {
	r := modelRun{now: now, failures: map[string]int64{}}
	defer func() { m.record(r) }()
	for _, e := range events {
		if m.ignore[e.ip] || e.t <= now-m.findtime {
			continue
		}
		if b, ok := m.bans[e.ip]; ok && e.t >= b[0] && (b[1] < 0 || e.t < b[1]) {
			continue
		}
		m.totalFailed++
		r.failures[e.ip]++
		m.failures[e.ip] = append(m.failures[e.ip], e.t)
		n := 0
		for _, f := range m.failures[e.ip] {
			if f > e.t-m.findtime && f <= e.t {
				n++
			}
		}
		if n >= m.maxretry {
			delete(m.failures, e.ip)
			nth := m.nth(e.ip, e.t)
			length := m.length(nth)
			if length < 0 || e.t+length > now {
				m.banned(e.ip, e.t, length, nth)
				r.bans++
				if length < 0 {
					r.permanent++
				}
			}
		}
	}
	for ip, b := range m.bans {
		if b[1] >= 0 && b[1] <= now {
			delete(m.bans, ip)
			r.unbans++
		}
	}
	for ip, h := range m.hist {
		if h[1] <= now-m.esc.forgetAfter {
			delete(m.hist, ip)
		}
	}
}

// ban is the ban command at now: a permanent manual ban.
func (m *model) ban(ip string, now int64) {
	m.banned(ip, now, -1, m.nth(ip, now))
	delete(m.failures, ip)
	m.record(modelRun{now: now, bans: 1, permanent: 1, manual: 1})
}

// unban is the unban command at now.
func (m *model) unban(ip string, now int64) {
	r := modelRun{now: now}
	if _, ok := m.bans[ip]; ok {
		delete(m.bans, ip)
		r.unbans = 1
	}
	delete(m.hist, ip) // unban forgets the IP's ban history in the jail
	m.record(r)
}

func (m *model) bannedIPs() []string {
	var out []string
	for ip := range m.bans {
		out = append(out, ip)
	}
	slices.Sort(out)
	return out
}

func (m *model) currentlyFailed(now int64) int {
	n := 0
	for _, ts := range m.failures {
		for _, t := range ts {
			if t > now-m.findtime && t <= now {
				n++
				break
			}
		}
	}
	return n
}

// logWriter appends syslog lines to the current log file and rotates it.
type logWriter struct {
	t    *testing.T
	dir  string
	path string
	late string // a renamed file that still gets writes, until the next rotation
	n    int    // rotations so far
}

func (w *logWriter) appendTo(path string, lines []string) {
	w.t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *logWriter) write(lines []string) {
	if w.late != "" && len(lines) > 1 {
		// Postfix's syslog still writes to the renamed file for a moment.
		w.appendTo(w.late, lines[:1])
		lines = lines[1:]
		w.late = ""
	}
	w.appendTo(w.path, lines)
}

func gzipFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(dst, buf.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
}

// shift renames name.N[.gz] to name.N+1[.gz], oldest first.
func (w *logWriter) shift() {
	for i := 20; i >= 1; i-- {
		for _, ext := range []string{"", ".gz"} {
			from := fmt.Sprintf("%s.%d%s", w.path, i, ext)
			if _, err := os.Stat(from); err == nil {
				if err := os.Rename(from, fmt.Sprintf("%s.%d%s", w.path, i+1, ext)); err != nil {
					w.t.Fatal(err)
				}
			}
		}
	}
}

// rotate rotates the log the way kind says, as logrotate would at time now.
func (w *logWriter) rotate(kind string, now time.Time) {
	t := w.t
	t.Helper()
	w.n++
	switch kind {
	case "rename": // create
		w.shift()
		os.Rename(w.path, w.path+".1")
	case "late-writes": // create, and the daemon keeps writing to the old file for a moment
		w.shift()
		os.Rename(w.path, w.path+".1")
		w.late = w.path + ".1"
	case "copytruncate":
		w.shift()
		data, err := os.ReadFile(w.path)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(w.path+".1", data, 0o640)
		if err := os.Truncate(w.path, 0); err != nil {
			t.Fatal(err)
		}
	case "compress": // compress, no delaycompress
		w.shift()
		gzipFile(t, w.path, w.path+".1.gz")
	case "delaycompress":
		w.shift()
		if _, err := os.Stat(w.path + ".2"); err == nil {
			gzipFile(t, w.path+".2", w.path+".2.gz")
		}
		os.Rename(w.path, w.path+".1")
	case "dateext":
		os.Rename(w.path, w.path+"-"+now.UTC().Format("200601021504"))
	case "dateext-compress":
		gzipFile(t, w.path, w.path+"-"+now.UTC().Format("200601021504")+".gz")
	default:
		t.Fatalf("unknown rotation %q", kind)
	}
}

// attackers: name, address, seconds between failures.
var attackers = []struct {
	ip    string
	every int64
}{
	{"192.0.2.7", 30},      // banned again and again
	{"198.51.100.23", 170}, // 3+ failures per 10 min: banned
	{"198.51.100.99", 320}, // 2 per 10 min: never banned with maxretry 3
	{"2001:db8:7::5", 200},
	{"127.0.0.1", 45}, // ignoreip
}

func syslogLine(t time.Time, msg string) string {
	return t.UTC().Format(time.Stamp) + " mx1 " + msg
}

func TestReplay(t *testing.T) {
	kinds := []string{"rename", "late-writes", "copytruncate", "compress", "delaycompress", "dateext", "dateext-compress"}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) { replay(t, kind) })
	}
}

func replay(t *testing.T, kind string) {
	netnstest.Isolate(t) // the scans reconcile the firewall: only inside a fresh namespace
	dir := t.TempDir()
	logPath := filepath.Join(dir, "mail.log")
	statePath := filepath.Join(dir, "state.json")
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`state: %s
jails:
  postfix-sasl:
    filter: postfix-sasl
    logpath: [%s]
    maxretry: 3
    findtime: 10m
    bantime: 20m
    ignoreip: [127.0.0.0/8]
`, statePath, logPath)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	m := newModel(3, 600, 1200, "127.0.0.1")
	w := &logWriter{t: t, dir: dir, path: logPath}
	start := time.Date(2026, 8, 15, 21, 0, 0, 0, time.UTC)
	const minutes = 180
	next := map[string]int64{}
	for i, a := range attackers {
		next[a.ip] = start.Unix() + int64(i*7)
	}
	var pending []event // written, not yet read by a run
	for minute := 0; minute < minutes; minute++ {
		from := start.Unix() + int64(minute)*60
		// Quiet stretches of 12 minutes, in which the bans of before end: runs with no
		// failure leave the bans as text in the state (state.LoadLazy) and must still lift
		// each on time.
		quiet := minute%50 >= 38
		var lines []string
		for s := from; s < from+60; s++ {
			ts := time.Unix(s, 0)
			for _, a := range attackers {
				if next[a.ip] == s {
					if !quiet {
						lines = append(lines, syslogLine(ts, fmt.Sprintf("postfix/smtpd[%d]: warning: unknown[%s]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", 900+minute, a.ip)))
						pending = append(pending, event{a.ip, s})
					}
					next[a.ip] += a.every
				}
			}
			if s%13 == 0 {
				// Hostile text: an innocent address in the HELO and the sender.
				lines = append(lines, syslogLine(ts, "postfix/smtpd[77]: NOQUEUE: reject: RCPT from unknown[203.0.113.5]: 554 5.7.1 <x@[10.9.9.9]>: Relay access denied; from=<a@[10.9.9.9]> to=<x@[10.9.9.9]> proto=ESMTP helo=<[10.9.9.9]>"))
				lines = append(lines, syslogLine(ts, "postfix/smtpd[78]: warning: unknown[203.0.113.6]: SASL LOGIN authentication failed: Connection lost to authentication server"))
			}
		}
		if minute%20 == 10 {
			// Rotate in the middle of the minute: half the lines land in the old file.
			half := len(lines) / 2
			w.write(lines[:half])
			w.rotate(kind, time.Unix(from+30, 0))
			w.write(lines[half:])
		} else {
			w.write(lines)
		}
		now := from + 60
		code, _, stderr := runCLI(t, "--config", cfgPath, "--now", fmt.Sprint(now), "--log-level", "notice", "scan")
		if code != 0 {
			t.Fatalf("minute %d: scan exit %d\n%s", minute, code, stderr)
		}
		m.run(pending, now)
		pending = nil
		// Manual bans and unbans between scans, at the scan's now.
		switch minute {
		case 45, 60:
			ip := map[int]string{45: "203.0.113.50", 60: "198.51.100.99"}[minute]
			if code, _, stderr := runCLI(t, "--config", cfgPath, "--now", fmt.Sprint(now), "ban", "--jail", "postfix-sasl", "--bantime", "permanent", ip); code != 0 {
				t.Fatalf("minute %d: ban exit %d\n%s", minute, code, stderr)
			}
			m.ban(ip, now)
		case 130:
			if code, _, stderr := runCLI(t, "--config", cfgPath, "--now", fmt.Sprint(now), "unban", "198.51.100.99"); code != 0 {
				t.Fatalf("minute %d: unban exit %d\n%s", minute, code, stderr)
			}
			m.unban("198.51.100.99", now)
		}
		checkStatus(t, minute, cfgPath, now, m)
		checkChain(t, minute, "f2b-postfix-sasl", m.bannedIPs())
	}
	if m.totalBanned < 10 {
		t.Fatalf("the replay should ban many times, banned %d", m.totalBanned)
	}
	end := start.Unix() + minutes*60
	for _, p := range [][2]int64{
		{start.Unix(), end},                           // the whole replay
		{end - 86400, end},                            // --since 24h: more than the history
		{start.Unix() + 3600, start.Unix() + 7200},    // one hour
		{start.Unix() + 37*60 + 30, end - 47*60 - 15}, // between runs: counters exact, per-IP to the hour
		{start.Unix(), start.Unix() + 95*60 + 30},     // ends between two runs: bans from the history
		{start.Unix() + 44*60, start.Unix() + 61*60},  // the manual bans
	} {
		checkReport(t, cfgPath, end, p[0], p[1], m)
	}
}

// reportWant is what `report --json` must say of one jail, from the model.
type reportWant struct {
	Failures, Bans, Unbans, Permanent, Manual int64
	IPs, Banned                               int
	TopFailures                               int64
}

// want sums the model's runs over (from, to]. Per-IP figures are documented to the hour:
// over (from, to] both rounded down to the hour.
func (m *model) want(from, to int64) reportWant {
	var w reportWant
	perIP := map[string]int64{}
	hf, ht := from/3600*3600, to/3600*3600
	var last *modelRun
	for i := range m.runs {
		r := &m.runs[i]
		if r.now <= to {
			last = r
		}
		if hf < r.now && r.now <= ht {
			for ip, n := range r.failures {
				perIP[ip] += n
			}
		}
		if r.now <= from || r.now > to {
			continue
		}
		for _, n := range r.failures {
			w.Failures += n
		}
		w.Bans += r.bans
		w.Unbans += r.unbans
		w.Permanent += r.permanent
		w.Manual += r.manual
	}
	w.IPs = len(perIP)
	for _, n := range perIP {
		w.TopFailures = max(w.TopFailures, n)
	}
	if last != nil {
		for _, end := range last.banned {
			if end < 0 || end > to {
				w.Banned++
			}
		}
	}
	return w
}

// checkReport compares `report --json` over (from, to] with the model, and its counters with
// the differences of status's counters between the ends.
func checkReport(t *testing.T, cfgPath string, now, from, to int64, m *model) {
	t.Helper()
	rep := runReport(t, "--config", cfgPath, "--now", fmt.Sprint(now), "report", "--from", fmt.Sprint(from), "--to", fmt.Sprint(to))
	j := rep.Jails["postfix-sasl"]
	got := reportWant{Failures: j.Failures, Bans: j.Bans, Unbans: j.Unbans, Permanent: j.PermanentBans, Manual: j.ManualBans,
		IPs: j.DistinctIPs, Banned: j.CurrentlyBanned}
	if len(j.Top) > 0 {
		got.TopFailures = j.Top[0].Failures
	}
	want := m.want(from, to)
	if got != want {
		t.Errorf("report (%d, %d]:\n got %+v\nwant %+v", from, to, got, want)
	}
	var sum int64
	for _, n := range j.Hourly {
		sum += n
	}
	if sum != j.Failures {
		t.Errorf("report (%d, %d]: hourly sums to %d, failures %d", from, to, sum, j.Failures)
	}
	if rep.From != from || rep.To != to {
		t.Errorf("report says (%d, %d], asked (%d, %d]", rep.From, rep.To, from, to)
	}
	// Status's Total failed and Total banned (checked against the model after every run)
	// differ between the ends of the period by the report's failures and bans.
	at := func(x int64) (f, b int64) {
		for _, r := range m.runs {
			if r.now <= x {
				f, b = r.totalFailed, r.totalBanned
			}
		}
		return f, b
	}
	f0, b0 := at(from)
	f1, b1 := at(to)
	if j.Failures != f1-f0 || j.Bans != b1-b0 {
		t.Errorf("report (%d, %d]: %d failures, %d bans; status counted %d and %d", from, to, j.Failures, j.Bans, f1-f0, b1-b0)
	}
	if want.Failures == 0 || (to-from >= 3600 && want.Bans == 0) {
		t.Errorf("report (%d, %d]: the period should have failures and bans: %+v", from, to, want)
	}
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"fail2ban-scan"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func checkStatus(t *testing.T, minute int, cfgPath string, now int64, m *model) {
	t.Helper()
	checkJails(t, minute, cfgPath, now, map[string]*model{"postfix-sasl": m})
}

// checkJails compares `status --json` of each jail with its model: bans with their counts,
// and counters.
func checkJails(t *testing.T, minute int, cfgPath string, now int64, models map[string]*model) {
	t.Helper()
	code, out, stderr := runCLI(t, "--config", cfgPath, "--now", fmt.Sprint(now), "status", "--json")
	if code != 0 {
		t.Fatalf("status exit %d: %s", code, stderr)
	}
	var st struct {
		Jails map[string]jailStatus `json:"jails"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	for name, m := range models {
		js, ok := st.Jails[name]
		if !ok {
			t.Fatalf("minute %d: status has no jail %s", minute, name)
		}
		var got []string
		for _, b := range js.Banned {
			got = append(got, b.IP)
			want := m.bans[b.IP]
			if b.Start != want[0] || b.End != want[1] || b.Count != m.count[b.IP] || b.Permanent != (want[1] < 0) || b.Prefix {
				t.Errorf("minute %d: %s: ban of %s is [%d, %d) n=%d permanent=%v prefix=%v, model [%d, %d) n=%d", minute, name,
					b.IP, b.Start, b.End, b.Count, b.Permanent, b.Prefix, want[0], want[1], m.count[b.IP])
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, m.bannedIPs()) {
			t.Fatalf("minute %d: %s: banned %v, model %v", minute, name, got, m.bannedIPs())
		}
		if js.TotalFailed != m.totalFailed || js.TotalBanned != m.totalBanned ||
			js.CurrentlyBanned != len(m.bans) || js.CurrentlyFailed != m.currentlyFailed(now) {
			t.Fatalf("minute %d: %s: counters failed %d/%d banned %d/%d, model failed %d/%d banned %d/%d", minute, name,
				js.CurrentlyFailed, js.TotalFailed, js.CurrentlyBanned, js.TotalBanned,
				m.currentlyFailed(now), m.totalFailed, len(m.bans), m.totalBanned)
		}
	}
}

// checkChain compares the live chain (both families) with the wanted ban set.
func checkChain(t *testing.T, minute int, chain string, want []string) {
	t.Helper()
	var got []string
	for _, bin := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(bin, "-w", "-S", chain).CombinedOutput()
		if err != nil {
			t.Fatalf("minute %d: %s -S %s: %v\n%s", minute, bin, chain, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 2 || lines[len(lines)-1] != "-A "+chain+" -j RETURN" {
			t.Fatalf("minute %d: %s chain %s does not end in RETURN:\n%s", minute, bin, chain, out)
		}
		for _, l := range lines[1 : len(lines)-1] {
			f := strings.Fields(l)
			if len(f) < 6 || f[2] != "-s" {
				t.Fatalf("minute %d: unexpected rule %q", minute, l)
			}
			ip, _, _ := strings.Cut(f[3], "/")
			got = append(got, ip)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("minute %d: live chain bans %v, want %v", minute, got, want)
	}
}

// TestReplayJournal is the replay through the journal backend: real journal files written by
// systemd-journal-remote between runs, read by the real journalctl, resumed by cursor.
// Entries of another unit carry the same messages and must not count.
func TestReplayJournal(t *testing.T) {
	journaltest.Require(t)
	netnstest.Isolate(t)
	dir := t.TempDir()
	jr := journaltest.New(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`state: %s
jails:
  postfix-sasl:
    filter: postfix-sasl
    backend: journal
    journal_directory: %s
    journalmatch: [_SYSTEMD_UNIT=postfix.service]
    maxretry: 3
    findtime: 10m
    bantime: 20m
`, filepath.Join(dir, "state.json"), jr.Dir)
	write(t, cfgPath, cfg)
	m := newModel(3, 600, 1200, "127.0.0.1")
	start := time.Date(2026, 8, 15, 21, 0, 0, 0, time.UTC)
	next := map[string]int64{}
	for i, a := range attackers {
		next[a.ip] = start.Unix() + int64(i*7)
	}
	const minutes = 120
	for minute := 0; minute < minutes; minute++ {
		from := start.Unix() + int64(minute)*60
		var entries []journaltest.Entry
		var events []event
		for s := from; s < from+60; s++ {
			for _, a := range attackers {
				if next[a.ip] != s {
					continue
				}
				msg := "warning: unknown[" + a.ip + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
				entries = append(entries, journaltest.Entry{Realtime: time.Unix(s, 0), Hostname: "mx1",
					Identifier: "postfix/smtpd", PID: 900 + minute, Unit: "postfix.service", Message: msg})
				events = append(events, event{a.ip, s})
				next[a.ip] += a.every
			}
			if s%17 == 0 {
				entries = append(entries, journaltest.Entry{Realtime: time.Unix(s, 0), Hostname: "mx1",
					Identifier: "postfix/smtpd", PID: 77, Unit: "other.service",
					Message: "warning: unknown[203.0.113.77]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"})
			}
		}
		if minute%7 == 3 {
			events = nil // now and then a minute with nothing new: those failures never happened
		} else {
			jr.Append(t, entries...)
		}
		now := from + 60
		code, _, stderr := runCLI(t, "--config", cfgPath, "--now", fmt.Sprint(now), "--log-level", "notice", "scan")
		if code != 0 {
			t.Fatalf("minute %d: scan exit %d\n%s", minute, code, stderr)
		}
		m.run(events, now)
		checkStatus(t, minute, cfgPath, now, m)
		checkChain(t, minute, "f2b-postfix-sasl", m.bannedIPs())
	}
	if m.totalBanned < 5 {
		t.Fatalf("the replay should ban many times, banned %d", m.totalBanned)
	}
}
