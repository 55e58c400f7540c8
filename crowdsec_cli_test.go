package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/crowdsectest"
	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// fleetHost is one mail server of a fleet: its config and state, and a network namespace of
// its own for its firewall. Its commands run in process (runCLI) on a goroutine whose thread
// lives in that namespace, so iptables sees only the host's tables; the HTTP connections to
// the LAPI are dialled by net/http's own goroutines, in the test process's namespace, where
// the LAPI listens on loopback.
type fleetHost struct {
	name, cfg, state, log string
	do                    chan func()
}

func newFleetHost(t *testing.T, l *crowdsectest.LAPI, name, extra string) *fleetHost {
	t.Helper()
	dir := t.TempDir()
	h := &fleetHost{name: name, cfg: filepath.Join(dir, "config.yaml"), state: filepath.Join(dir, "state.json"),
		log: filepath.Join(dir, "mail.log"), do: make(chan func())}
	password := "password-of-" + name
	l.AddMachine(name, password)
	key := l.AddBouncer(name)
	for file, secret := range map[string]string{"password": password, "bouncer": key} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(t, h.log, "")
	write(t, h.cfg, fmt.Sprintf(`state: %s
fail2ban_socket: ""
defaults:
  maxretry: 1
  bantime: 1h
  ignoreip: [127.0.0.0/8, "::1", 10.0.0.0/8]
crowdsec:
  url: %s
  machine_id: %s
  password_file: %s
  bouncer_key_file: %s
%sjails:
  postfix-sasl:
    logpath: [%s]
`, h.state, l.URL, name, filepath.Join(dir, "password"), filepath.Join(dir, "bouncer"), extra, h.log))
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes with the goroutine
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for f := range h.do {
			f()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("host %s: unshare(CLONE_NEWNET): %v", name, err)
	}
	t.Cleanup(func() { close(h.do) })
	return h
}

// in runs f in the host's namespace.
func (h *fleetHost) in(f func()) {
	done := make(chan struct{})
	h.do <- func() { defer close(done); f() }
	<-done
}

// cli runs the command line on the host; it returns the exit status and stderr.
func (h *fleetHost) cli(args ...string) (code int, stdout, stderr string) {
	h.in(func() {
		var out, errb bytes.Buffer
		code = run(append([]string{"fail2ban-scan", "--config", h.cfg}, args...), &out, &errb)
		stdout, stderr = out.String(), errb.String()
	})
	return code, stdout, stderr
}

// mustCLI runs the command line and fails the test unless it exits with want.
func (h *fleetHost) mustCLI(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, out, stderr := h.cli(args...)
	if code != want {
		t.Fatalf("host %s: %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", h.name, args, code, want, out, stderr)
	}
	return stderr
}

// fail appends a failed SASL login of ip, a minute ago, to the host's log.
func (h *fleetHost) fail(t *testing.T, ip string) {
	t.Helper()
	f, err := os.OpenFile(h.log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, syslogLine(time.Now().Add(-time.Minute), "postfix/smtpd[77]: warning: unknown["+ip+"]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"))
}

// chain returns the sources the host's chain drops or rejects, both families, sorted.
func (h *fleetHost) chain(t *testing.T, chain string) []string {
	t.Helper()
	var got []string
	var err error
	h.in(func() {
		for _, bin := range []string{"iptables", "ip6tables"} {
			out, e := exec.Command(bin, "-w", "-S", chain).CombinedOutput()
			if e != nil {
				err = fmt.Errorf("%s -S %s: %v: %s", bin, chain, e, out)
				return
			}
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if f := strings.Fields(l); len(f) > 3 && f[0] == "-A" && f[2] == "-s" {
					got = append(got, strings.TrimSuffix(strings.TrimSuffix(f[3], "/32"), "/128"))
				}
			}
		}
	})
	if err != nil {
		t.Fatalf("host %s: %v", h.name, err)
	}
	slices.Sort(got)
	return got
}

func (h *fleetHost) expectChain(t *testing.T, chain string, want ...string) {
	t.Helper()
	if got := h.chain(t, chain); !slices.Equal(got, want) {
		t.Fatalf("host %s: chain %s holds %v, want %v", h.name, chain, got, want)
	}
}

func (h *fleetHost) loadState(t *testing.T) *state.State {
	t.Helper()
	st, err := state.Load(h.state)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// lapiDecision is a decision as `cscli decisions list -o json` shows it.
type lapiDecision struct {
	ID       int64  `json:"id"`
	Duration string `json:"duration"`
	Origin   string `json:"origin"`
	Scenario string `json:"scenario"`
	Scope    string `json:"scope"`
	Type     string `json:"type"`
	Value    string `json:"value"`
}

// lapiDecisions lists the LAPI's active decisions of an origin with cscli.
func lapiDecisions(t *testing.T, l *crowdsectest.LAPI, origin string) []lapiDecision {
	t.Helper()
	var alerts []struct {
		Decisions []lapiDecision `json:"decisions"`
	}
	out := l.Run("decisions", "list", "--origin", origin, "-o", "json")
	if err := json.Unmarshal([]byte(out), &alerts); err != nil {
		t.Fatalf("cscli decisions list -o json: %v\n%s", err, out)
	}
	var ds []lapiDecision
	for _, a := range alerts {
		ds = append(ds, a.Decisions...)
	}
	slices.SortFunc(ds, func(a, b lapiDecision) int { return strings.Compare(a.Value, b.Value) })
	return ds
}

// startFleet brings lo up in the test process's namespace and starts the LAPI there.
func startFleet(t *testing.T) *crowdsectest.LAPI {
	t.Helper()
	netnstest.Require(t)
	loopbackUp(t)
	return crowdsectest.Start(t)
}

// TestCrowdsecFleet: two hosts, two state files, two network namespaces, one real LAPI. A
// ban of host A is enforced on host B after B's next run, in B's f2b-fleet chain; unban on
// A lifts it there; B's own bans stay in its jail's chain; the origins chosen (cscli) come
// too, but never an address of ignoreip nor loopback.
func TestCrowdsecFleet(t *testing.T) {
	l := startFleet(t)
	a := newFleetHost(t, l, "mxa", "")
	b := newFleetHost(t, l, "mxb", "  origins: [cscli]\n")

	a.fail(t, "192.0.2.7")
	a.mustCLI(t, 0, "scan")
	a.expectChain(t, "f2b-postfix-sasl", "192.0.2.7")
	a.expectChain(t, "f2b-fleet") // its own decision is not pulled back

	ds := lapiDecisions(t, l, "fail2ban-scan")
	if len(ds) != 1 || ds[0].Value != "192.0.2.7" || ds[0].Scope != "Ip" || ds[0].Type != "ban" ||
		ds[0].Scenario != "fail2ban-scan/postfix-sasl@mxa" || ds[0].Origin != "fail2ban-scan" {
		t.Fatalf("cscli decisions list: %+v", ds)
	}
	// The ban's remaining time: it started at the failure, a minute ago, for 1h.
	if d, err := time.ParseDuration(ds[0].Duration); err != nil || d <= 58*time.Minute || d > 59*time.Minute {
		t.Errorf("the decision lasts %s, want the ban's remaining time, 59m or a little less", ds[0].Duration)
	}

	b.mustCLI(t, 0, "ban", "--jail", "postfix-sasl", "--bantime", "-1", "198.51.100.9")
	l.Run("decisions", "add", "--ip", "203.0.113.5", "--duration", "2h", "--reason", "by hand")
	l.Run("decisions", "add", "--ip", "10.1.2.3", "--duration", "2h")  // B's ignoreip
	l.Run("decisions", "add", "--ip", "127.0.0.2", "--duration", "2h") // never banned
	l.Run("decisions", "add", "--ip", "192.0.2.50", "--duration", "2h", "--type", "captcha")
	stderr := b.mustCLI(t, 0, "scan")
	for _, want := range []string{`skipped: decision`, `type "captcha", not ban`, "Ignore 10.1.2.3", "Ignore 127.0.0.2"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("B's pull does not log %q:\n%s", want, stderr)
		}
	}
	b.expectChain(t, "f2b-fleet", "192.0.2.7", "203.0.113.5")
	b.expectChain(t, "f2b-postfix-sasl", "198.51.100.9")

	a.mustCLI(t, 0, "scan")
	a.expectChain(t, "f2b-fleet", "198.51.100.9") // cscli is not among A's origins
	perm := lapiDecisions(t, l, "fail2ban-scan")
	if len(perm) != 2 || perm[1].Value != "198.51.100.9" || !strings.HasPrefix(perm[1].Duration, "2562046h") {
		t.Fatalf("the permanent ban in the LAPI: %+v", perm)
	}

	_, text, _ := b.cli("status", "fleet")
	if !strings.Contains(text, "Currently banned:\t2") || !strings.Contains(text, "192.0.2.7 203.0.113.5") {
		t.Errorf("status fleet:\n%s", text)
	}
	_, js, _ := b.cli("status", "--json")
	var status struct {
		Jails map[string]jailStatus `json:"jails"`
		Fleet *fleetStatus          `json:"fleet"`
	}
	if err := json.Unmarshal([]byte(js), &status); err != nil {
		t.Fatalf("status --json: %v\n%s", err, js)
	}
	if status.Fleet == nil || status.Fleet.CurrentlyBanned != 2 || status.Jails["postfix-sasl"].CurrentlyBanned != 1 {
		t.Errorf("status --json keeps the fleet apart:\n%s", js)
	}
	_, rep, _ := b.cli("report", "--json")
	if !strings.Contains(rep, `"fleet"`) || !strings.Contains(rep, `"pulled": 2`) {
		t.Errorf("report --json counts the fleet apart:\n%s", rep)
	}

	a.mustCLI(t, 0, "unban", "192.0.2.7")
	if ds := lapiDecisions(t, l, "fail2ban-scan"); len(ds) != 1 || ds[0].Value != "198.51.100.9" {
		t.Fatalf("after unban on A, the LAPI holds %+v", ds)
	}
	b.mustCLI(t, 0, "scan")
	b.expectChain(t, "f2b-fleet", "203.0.113.5")
	b.expectChain(t, "f2b-postfix-sasl", "198.51.100.9")
	if st := b.loadState(t); st.Jails["postfix-sasl"].TotalBanned != 1 {
		t.Errorf("fleet bans counted as the jail's: total banned %d", st.Jails["postfix-sasl"].TotalBanned)
	}

	// A takes cscli's decisions from now on: a startup pull brings those made before.
	cfg, _ := os.ReadFile(a.cfg)
	write(t, a.cfg, strings.Replace(string(cfg), "crowdsec:\n", "crowdsec:\n  origins: [cscli]\n", 1))
	if stderr := a.mustCLI(t, 0, "scan"); !strings.Contains(stderr, "pulled (startup)") {
		t.Errorf("a change of origins does not pull the fleet again:\n%s", stderr)
	}
	a.expectChain(t, "f2b-fleet", "198.51.100.9", "203.0.113.5")
}

// TestCrowdsecLAPIDown: the LAPI stopped during a run: the run bans locally, keeps the push
// in the state and exits 1, and the fleet's bans stay; started again, the next run pushes
// every ban, once. A LAPI that does not answer costs at most crowdsec.timeout.
func TestCrowdsecLAPIDown(t *testing.T) {
	l := startFleet(t)
	a := newFleetHost(t, l, "mxa", "  origins: [cscli]\n")
	metricsFile := filepath.Join(t.TempDir(), "f2b.prom")
	cfg, _ := os.ReadFile(a.cfg)
	write(t, a.cfg, "metrics_file: "+metricsFile+"\n"+string(cfg))
	metric := func(want string) {
		t.Helper()
		if data, _ := os.ReadFile(metricsFile); !strings.Contains(string(data), want+"\n") {
			t.Errorf("metrics file without %q:\n%s", want, data)
		}
	}
	l.Run("decisions", "add", "--ip", "203.0.113.5", "--duration", "2h")
	a.mustCLI(t, 0, "scan")
	a.expectChain(t, "f2b-fleet", "203.0.113.5")
	metric("fail2ban_scan_fleet_lapi_up 1")
	metric("fail2ban_scan_fleet_currently_banned 1")

	l.Stop()
	a.fail(t, "192.0.2.7")
	a.fail(t, "192.0.2.8")
	stderr := a.mustCLI(t, 1, "scan")
	if !strings.Contains(stderr, "crowdsec") || !strings.Contains(stderr, "2 pushes waiting in the state") {
		t.Errorf("the failed push is not logged:\n%s", stderr)
	}
	a.expectChain(t, "f2b-postfix-sasl", "192.0.2.7", "192.0.2.8")
	a.expectChain(t, "f2b-fleet", "203.0.113.5") // pulled bans stay until they run out
	if st := a.loadState(t); st.Crowdsec == nil || len(st.Crowdsec.Pending) != 2 {
		t.Fatalf("pending pushes in the state: %+v", st.Crowdsec)
	}
	metric("fail2ban_scan_fleet_lapi_up 0")
	metric("fail2ban_scan_fleet_pending_pushes 2")
	a.mustCLI(t, 1, "ban", "--jail", "postfix-sasl", "192.0.2.9")

	l.Start()
	a.mustCLI(t, 0, "scan")
	a.mustCLI(t, 0, "scan")
	var got []string
	for _, d := range lapiDecisions(t, l, "fail2ban-scan") {
		got = append(got, d.Value)
	}
	if want := []string{"192.0.2.7", "192.0.2.8", "192.0.2.9"}; !slices.Equal(got, want) {
		t.Fatalf("the LAPI holds %v, want each of %v once", got, want)
	}
	if st := a.loadState(t); len(st.Crowdsec.Pending) != 0 || len(st.Crowdsec.Pushed) != 3 {
		t.Fatalf("after the pushes: %+v", st.Crowdsec)
	}

	// A LAPI that answers an error: a bouncer key it does not know.
	cfg, _ = os.ReadFile(a.cfg)
	write(t, a.cfg, strings.Replace(string(cfg), "bouncer_key_file: ", "bouncer_key_file: /nonexistent/", 1))
	stderr = a.mustCLI(t, 1, "scan")
	if !strings.Contains(stderr, "bouncer_key_file: stat /nonexistent/") {
		t.Errorf("a missing bouncer key file is not named:\n%s", stderr)
	}
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("not-a-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	write(t, a.cfg, strings.Replace(string(cfg), "bouncer_key_file: ", "bouncer_key_file: "+key+" #", 1))
	stderr = a.mustCLI(t, 1, "scan")
	if !strings.Contains(stderr, "HTTP 403") {
		t.Errorf("the LAPI's refusal is not logged:\n%s", stderr)
	}
	a.expectChain(t, "f2b-fleet", "203.0.113.5")
	write(t, a.cfg, string(cfg))

	// A LAPI that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	write(t, a.cfg, strings.Replace(strings.Replace(string(cfg), l.URL, "http://"+ln.Addr().String(), 1), "crowdsec:\n", "crowdsec:\n  timeout: 1s\n", 1))
	a.fail(t, "192.0.2.10")
	start := time.Now()
	stderr = a.mustCLI(t, 1, "scan")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a silent LAPI held the run %s; crowdsec.timeout is 1s", d)
	}
	if !strings.Contains(stderr, "crowdsec.timeout") {
		t.Errorf("the timeout is not named:\n%s", stderr)
	}
	a.expectChain(t, "f2b-postfix-sasl", "192.0.2.10", "192.0.2.7", "192.0.2.8", "192.0.2.9")
	a.expectChain(t, "f2b-fleet", "203.0.113.5")
}

// TestCrowdsecCheck: check refuses a jail named fleet, and warns of a secret file that every
// user can read; with such a file a scan does its local work and exits 1.
func TestCrowdsecCheck(t *testing.T) {
	dir := t.TempDir()
	cfg, logPath := filepath.Join(dir, "c.yaml"), filepath.Join(dir, "mail.log")
	write(t, logPath, "")
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte("secret\n"), 0o644); err != nil { // every user reads it
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bouncer"), []byte("key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	section := "crowdsec:\n  url: http://127.0.0.1:9\n  machine_id: mx1\n  password_file: password\n  bouncer_key_file: bouncer\n  timeout: 1s\n"
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\nfail2ban_socket: \"\"\n"+section+"jails:\n  fleet:\n    logpath: ["+logPath+"]\n")
	code, _, stderr := runCLI(t, "--config", cfg, "check")
	if code != 2 || !strings.Contains(stderr, cfg+":10: jails.fleet: the name fleet is reserved for the bans pulled from CrowdSec") {
		t.Errorf("check of a jail named fleet: exit %d\n%s", code, stderr)
	}
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\nfail2ban_socket: \"\"\n"+section+"defaults:\n  maxretry: 1\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n")
	code, _, stderr = runCLI(t, "--config", cfg, "check")
	if code != 0 || !strings.Contains(stderr, "crowdsec.password_file: "+filepath.Join(dir, "password")+" is readable by every user") {
		t.Errorf("check of a readable password file: exit %d\n%s", code, stderr)
	}
	write(t, logPath, syslogLine(time.Now().Add(-time.Minute), "postfix/smtpd[77]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6")+"\n")
	code, out, stderr := runCLI(t, "--config", cfg, "--state", filepath.Join(dir, "s.json"), "scan", "--dry-run")
	if code != 0 || !strings.Contains(out, "crowdsec: would push 1 ban and 0 unbans to http://127.0.0.1:9 (0 more wait from earlier runs)") {
		t.Errorf("a dry run does not call the LAPI, and says what it would push: exit %d\n%s%s", code, out, stderr)
	}
}

// TestCrowdsecLAPIStopsMidRun: the LAPI stops during a run, after the pull and before the
// push (a reverse proxy in front of it stops it once the stream is served, then answers 502):
// the run bans locally, keeps the push and exits 1; the LAPI back, the next run pushes it, once.
func TestCrowdsecLAPIStopsMidRun(t *testing.T) {
	l := startFleet(t)
	target, err := url.Parse(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	var stopped atomic.Bool
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy.ServeHTTP(w, r)
		if r.URL.Path == "/v1/decisions/stream" && !stopped.Swap(true) {
			l.Stop()
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	a := newFleetHost(t, l, "mxa", "  origins: [cscli]\n")
	cfg, _ := os.ReadFile(a.cfg)
	write(t, a.cfg, strings.Replace(string(cfg), l.URL, "http://"+ln.Addr().String(), 1))
	l.Run("decisions", "add", "--ip", "203.0.113.5", "--duration", "2h")

	a.fail(t, "192.0.2.7")
	stderr := a.mustCLI(t, 1, "scan")
	if !stopped.Load() || !strings.Contains(stderr, "pulled (startup)") || !strings.Contains(stderr, "HTTP 502") || !strings.Contains(stderr, "1 push waiting in the state") {
		t.Fatalf("the run that lost the LAPI after its pull:\n%s", stderr)
	}
	a.expectChain(t, "f2b-postfix-sasl", "192.0.2.7")
	a.expectChain(t, "f2b-fleet", "203.0.113.5")

	l.Start()
	a.mustCLI(t, 0, "scan")
	a.mustCLI(t, 0, "scan")
	if ds := lapiDecisions(t, l, "fail2ban-scan"); len(ds) != 1 || ds[0].Value != "192.0.2.7" {
		t.Fatalf("the LAPI holds %+v, want the ban of 192.0.2.7 once", ds)
	}
}

// requireCommand skips the test when cmd is not installed, or fails it when env is 1.
func requireCommand(t *testing.T, cmd, env string) {
	t.Helper()
	for _, dir := range []string{"", "/usr/sbin/", "/sbin/"} {
		if _, err := exec.LookPath(dir + cmd); err == nil {
			return
		}
	}
	if os.Getenv(env) == "1" {
		t.Fatalf("needs %s (%s=1)", cmd, env)
	}
	t.Skipf("needs %s (%s=1 makes this a failure)", cmd, env)
}

// TestCrowdsecFleetSets: a pull of many decisions goes into the fleet's set with the set
// backends, ipset and nftables, and a later pull is incremental.
func TestCrowdsecFleetSets(t *testing.T) {
	l := startFleet(t)
	const n = 2000
	var csv strings.Builder
	csv.WriteString("duration,reason,scope,type,value\n")
	for i := range n {
		fmt.Fprintf(&csv, "2h,fail2ban-scan/postfix-sasl@mx9,ip,ban,10.99.%d.%d\n", i/250, i%250+1)
	}
	csvPath := filepath.Join(t.TempDir(), "decisions.csv")
	write(t, csvPath, csv.String())
	l.Run("decisions", "import", "-i", csvPath)
	for _, tt := range []struct{ action, cmd, env string }{
		{"ipset", "ipset", "FAIL2BAN_SCAN_REQUIRE_IPSET"},
		{"nftables", "nft", "FAIL2BAN_SCAN_REQUIRE_NFT"},
	} {
		t.Run(tt.action, func(t *testing.T) {
			requireCommand(t, tt.cmd, tt.env)
			// 10.0.0.0/8 is in the hosts' ignoreip: these hosts ignore nothing.
			h := newFleetHost(t, l, "mx-"+tt.action, "  banaction: "+tt.action+"\n  origins: [cscli-import]\n")
			cfg, _ := os.ReadFile(h.cfg)
			write(t, h.cfg, strings.Replace(string(cfg), `ignoreip: [127.0.0.0/8, "::1", 10.0.0.0/8]`, `ignoreip: [127.0.0.0/8, "::1"]`, 1))
			if stderr := h.mustCLI(t, 0, "scan"); !strings.Contains(stderr, "pulled (startup)") || !strings.Contains(stderr, fmt.Sprintf("%d new", n)) {
				t.Fatalf("startup pull:\n%s", stderr)
			}
			count := func() int {
				var out []byte
				var err error
				h.in(func() {
					if tt.action == "ipset" {
						out, err = exec.Command("ipset", "list", "f2b-fleet").CombinedOutput()
					} else {
						out, err = exec.Command("nft", "list", "set", "inet", "fail2ban-scan", "f2b-fleet-v4").CombinedOutput()
					}
				})
				if err != nil {
					t.Fatalf("list the fleet's set: %v\n%s", err, out)
				}
				return strings.Count(string(out), "10.99.")
			}
			if got := count(); got != n {
				t.Fatalf("the fleet's set holds %d addresses, want %d", got, n)
			}
			l.Run("decisions", "add", "--ip", "10.98.0.1", "--duration", "1h")
			if stderr := h.mustCLI(t, 0, "--log-level", "debug", "scan"); !strings.Contains(stderr, "pulled (incremental)") || !strings.Contains(stderr, ": 0 new, 0 gone") {
				t.Errorf("the next pull:\n%s", stderr)
			}
			if st := h.loadState(t); len(st.Crowdsec.Fleet) != n {
				t.Fatalf("the fleet in the state: %d decisions, want %d (cscli's own decision is not among the origins)", len(st.Crowdsec.Fleet), n)
			}
		})
	}
}
