package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	promodel "github.com/prometheus/common/model"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// requirePromtoolEnv set to 1 (as in CI) turns the skip for a missing promtool into a failure.
const requirePromtoolEnv = "FAIL2BAN_SCAN_REQUIRE_PROMTOOL"

// sample is one metric family of a metrics file: its type and its values by jail label
// ("" for the metrics without one).
type sample struct {
	typ    dto.MetricType
	byJail map[string]float64
}

// readMetrics parses the metrics file at path as Prometheus reads it.
func readMetrics(t *testing.T, path string) map[string]sample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(promodel.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	out := map[string]sample{}
	for name, mf := range mfs {
		s := sample{typ: mf.GetType(), byJail: map[string]float64{}}
		for _, m := range mf.GetMetric() {
			jail := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "jail" {
					jail = l.GetValue()
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				s.byJail[jail] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				s.byJail[jail] = m.GetGauge().GetValue()
			default:
				t.Errorf("%s: unexpected type %s", name, mf.GetType())
			}
		}
		out[name] = s
	}
	return out
}

// promtoolCheck runs `promtool check metrics < path` (Debian package prometheus), which lints
// names, types, units and help texts as Prometheus' own tooling does.
func promtoolCheck(t *testing.T, path string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv(requirePromtoolEnv) == "1" {
			t.Fatalf("promtool required (%s=1): %v", requirePromtoolEnv, err)
		}
		t.Skipf("promtool not installed (apt-get install prometheus, or set %s=1 to make this a failure): %v", requirePromtoolEnv, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s\nthe file:\n%s", err, out, data)
	}
}

// TestMetricsFile runs real scans of two jails, one of which cannot read its log, and checks
// the metrics file each run replaces against status, across runs that fail and succeed.
func TestMetricsFile(t *testing.T) {
	netnstest.Isolate(t) // scans reconcile the firewall
	dir := t.TempDir()
	logA, logB := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	statePath, prom := filepath.Join(dir, "state.json"), filepath.Join(dir, "textfile", "fail2ban-scan.prom")
	if err := os.Mkdir(filepath.Dir(prom), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+statePath+"\nfail2ban_socket: \"\"\nmetrics_file: "+prom+`
jails:
  a:
    filter: postfix-sasl
    logpath: [`+logA+`]
    maxretry: 3
    findtime: 10m
    bantime: 5m
  b:
    filter: postfix-sasl
    logpath: [`+logB+`]
    bantime: permanent
`)
	fail := func(ip, stamp string) string {
		return "Aug 15 " + stamp + " mx1 postfix/smtpd[1]: warning: unknown[" + ip + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n"
	}
	// 192.0.2.7 fails 3 times (banned), 192.0.2.8 once; one line that is no failure.
	write(t, logA, fail("192.0.2.7", "22:30:00")+fail("192.0.2.8", "22:30:10")+fail("192.0.2.7", "22:31:00")+
		"Aug 15 22:31:30 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.9]\n"+fail("192.0.2.7", "22:32:00"))
	const t1 = "2026-08-15T22:35:00Z"
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.Unix()
	}
	scan := func(now string, wantCode int) map[string]sample {
		t.Helper()
		code, _, stderr := runCLI(t, "--config", cfg, "--now", now, "scan")
		if code != wantCode {
			t.Fatalf("scan at %s: exit %d, want %d: %s", now, code, wantCode, stderr)
		}
		return readMetrics(t, prom)
	}
	status := func(now string) map[string]jailStatus {
		t.Helper()
		code, out, stderr := runCLI(t, "--config", cfg, "--now", now, "status", "--json")
		if code != 0 {
			t.Fatalf("status: exit %d: %s", code, stderr)
		}
		var st struct {
			Jails map[string]jailStatus `json:"jails"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		return st.Jails
	}
	// check compares the per-jail metrics with status and with want, metric by jail.
	check := func(m map[string]sample, now string, want map[string]map[string]float64) {
		t.Helper()
		for jail, s := range status(now) {
			for name, v := range map[string]int64{
				"fail2ban_scan_failures_total":   s.TotalFailed,
				"fail2ban_scan_bans_total":       s.TotalBanned,
				"fail2ban_scan_currently_banned": int64(s.CurrentlyBanned),
				"fail2ban_scan_currently_failed": int64(s.CurrentlyFailed),
			} {
				if got, ok := m[name].byJail[jail]; !ok || got != float64(v) {
					t.Errorf("%s{jail=%q} = %v (present %v), status says %d", name, jail, got, ok, v)
				}
			}
		}
		for name, byJail := range want {
			for jail, v := range byJail {
				if got, ok := m[name].byJail[jail]; !ok || got != v {
					t.Errorf("%s{jail=%q} = %v (present %v), want %v", name, jail, got, ok, v)
				}
			}
		}
	}

	// Run 1: b's log is missing, so the run fails: b is down with a read error, a is up.
	m := scan(t1, 1)
	check(m, t1, map[string]map[string]float64{
		"fail2ban_scan_failures_total":             {"a": 4, "b": 0},
		"fail2ban_scan_bans_total":                 {"a": 1},
		"fail2ban_scan_currently_banned":           {"a": 1},
		"fail2ban_scan_currently_failed":           {"a": 1},
		"fail2ban_scan_lines_read_total":           {"a": 5, "b": 0},
		"fail2ban_scan_read_errors_total":          {"a": 0, "b": 1},
		"fail2ban_scan_unbans_total":               {"a": 0},
		"fail2ban_scan_jail_up":                    {"a": 1, "b": 0},
		"fail2ban_scan_config_maxretry":            {"a": 3, "b": 5},
		"fail2ban_scan_config_findtime_seconds":    {"a": 600, "b": 600},
		"fail2ban_scan_config_bantime_seconds":     {"a": 300, "b": -1},
		"fail2ban_scan_last_run_timestamp_seconds": {"": float64(at(t1))},
	})
	for name, typ := range map[string]dto.MetricType{
		"fail2ban_scan_failures_total":            dto.MetricType_COUNTER,
		"fail2ban_scan_unbans_total":              dto.MetricType_COUNTER,
		"fail2ban_scan_read_errors_total":         dto.MetricType_COUNTER,
		"fail2ban_scan_currently_banned":          dto.MetricType_GAUGE,
		"fail2ban_scan_last_run_duration_seconds": dto.MetricType_GAUGE,
	} {
		if m[name].typ != typ {
			t.Errorf("%s has type %s, want %s", name, m[name].typ, typ)
		}
	}
	if _, ok := m["fail2ban_scan_last_success_timestamp_seconds"]; ok {
		t.Errorf("no run has succeeded yet, but last_success is there: %v", m["fail2ban_scan_last_success_timestamp_seconds"])
	}
	if d := m["fail2ban_scan_last_run_duration_seconds"].byJail[""]; d <= 0 || d > 60 {
		t.Errorf("duration %v s: want the real time the run took, not the --now clock", d)
	}
	if fi, err := os.Stat(prom); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("metrics file mode: %v %v, want 0644 for node_exporter", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(prom)); len(ents) != 1 {
		t.Errorf("the textfile directory holds %d files, want the metrics file alone: %v", len(ents), ents)
	}
	promtoolCheck(t, prom)

	// Run 2: b's log is there now; everything succeeds. 192.0.2.7's ban (5 min from 22:32)
	// is over at 22:38: one unban. The counters only grow.
	write(t, logB, fail("198.51.100.1", "22:36:00")+fail("198.51.100.1", "22:36:01"))
	appendFile(t, logA, fail("192.0.2.8", "22:37:00"))
	const t2 = "2026-08-15T22:38:00Z"
	m = scan(t2, 0)
	check(m, t2, map[string]map[string]float64{
		"fail2ban_scan_failures_total":                 {"a": 5, "b": 2},
		"fail2ban_scan_unbans_total":                   {"a": 1, "b": 0},
		"fail2ban_scan_currently_banned":               {"a": 0},
		"fail2ban_scan_currently_failed":               {"a": 1, "b": 1},
		"fail2ban_scan_lines_read_total":               {"a": 6, "b": 2},
		"fail2ban_scan_read_errors_total":              {"b": 1},
		"fail2ban_scan_jail_up":                        {"a": 1, "b": 1},
		"fail2ban_scan_last_success_timestamp_seconds": {"": float64(at(t2))},
		"fail2ban_scan_last_run_timestamp_seconds":     {"": float64(at(t2))},
	})
	promtoolCheck(t, prom)

	// A dry run writes no metrics.
	before, _ := os.ReadFile(prom)
	if code, _, stderr := runCLI(t, "--config", cfg, "--now", "2026-08-15T22:39:00Z", "scan", "--dry-run"); code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(prom); !bytes.Equal(before, after) {
		t.Errorf("a dry run rewrote the metrics file")
	}

	// Run 3: b's log is gone again. The failed run keeps the last success of run 2.
	if err := os.Remove(logB); err != nil {
		t.Fatal(err)
	}
	const t3 = "2026-08-15T22:40:00Z"
	m = scan(t3, 1)
	check(m, t3, map[string]map[string]float64{
		"fail2ban_scan_read_errors_total":              {"a": 0, "b": 2},
		"fail2ban_scan_failures_total":                 {"a": 5, "b": 2},
		"fail2ban_scan_jail_up":                        {"a": 1, "b": 0},
		"fail2ban_scan_last_success_timestamp_seconds": {"": float64(at(t2))},
		"fail2ban_scan_last_run_timestamp_seconds":     {"": float64(at(t3))},
	})

	// Runs 4 and 5: every jail reads, but the firewall cannot be changed (the runs are
	// nobody's): each fails after the state was saved, and the state must not keep saying
	// that it succeeded — run 5, failing the same way, still shows run 2's success.
	write(t, logB, "")
	asNobody := nobodyRunner(t, dir)
	for _, now := range []string{"2026-08-15T22:41:00Z", "2026-08-15T22:42:00Z"} {
		code, _, stderr := asNobody("--config", cfg, "--now", now, "scan")
		if code != 1 || !strings.Contains(stderr, "iptables") {
			t.Fatalf("scan as nobody at %s: exit %d, want 1 and a firewall error: %s", now, code, stderr)
		}
		check(readMetrics(t, prom), now, map[string]map[string]float64{
			"fail2ban_scan_jail_up":                        {"a": 1, "b": 1},
			"fail2ban_scan_last_success_timestamp_seconds": {"": float64(at(t2))},
			"fail2ban_scan_last_run_timestamp_seconds":     {"": float64(at(now))},
		})
	}
	var st struct {
		LastSuccess int64 `json:"last_success"`
	}
	if data, err := os.ReadFile(statePath); err != nil || json.Unmarshal(data, &st) != nil || st.LastSuccess != at(t2) {
		t.Errorf("the state's last_success is %d (%v), want run 2's %d", st.LastSuccess, err, at(t2))
	}
}

// nobodyRunner gives dir (the test's files) to nobody and returns a runner of the built
// binary as nobody, who may read and write them but not change the firewall.
func nobodyRunner(t *testing.T, dir string) func(args ...string) (int, string, string) {
	t.Helper()
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) is missing")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	bin := buildBinary(t)
	os.Chmod(filepath.Dir(bin), 0o755)
	os.Chmod(filepath.Dir(dir), 0o755) // the test's own temporary directory
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
	return func(args ...string) (int, string, string) {
		cmd := exec.Command("setpriv", append([]string{"--reuid=nobody", "--regid=" + nobody.Gid, "--clear-groups", "--", bin}, args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
}

// TestMetricsFileUnwritable: a metrics file that cannot be written is logged, naming it, and
// makes the run exit 1; the state is saved all the same.
func TestMetricsFileUnwritable(t *testing.T) {
	netnstest.Isolate(t)
	dir := t.TempDir()
	logPath, prom := filepath.Join(dir, "mail.log"), filepath.Join(dir, "no-such-dir", "f.prom")
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "s.json")+"\nfail2ban_socket: \"\"\nmetrics_file: "+prom+
		"\njails:\n  a:\n    filter: postfix-sasl\n    logpath: ["+logPath+"]\n")
	write(t, logPath, "Aug 15 22:34:53 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x\n")
	now := []string{"--config", cfg, "--now", "2026-08-15T22:35:00Z"}
	code, _, stderr := runCLI(t, append(now, "scan")...)
	if code != 1 || !strings.Contains(stderr, "write metrics file "+prom) {
		t.Fatalf("exit %d, want 1 and an error naming %s: %s", code, prom, stderr)
	}
	if _, out, _ := runCLI(t, append(now, "status", "a")...); !strings.Contains(out, "Total failed:\t1") {
		t.Errorf("the state was not saved:\n%s", out)
	}
}

// TestMetricsConfig: metrics_file is a non-empty string; check warns about a name that
// node_exporter would not read.
func TestMetricsConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ value, want string }{
		{`""`, "metrics_file: must not be empty"},
		{`[a, b]`, "metrics_file: must be a string"},
		{dir + "/metrics.txt", `does not end in .prom`},
		{"fail2ban-scan.prom", "relative path"},
		{dir + "/none/f.prom", "metrics file " + dir + "/none/f.prom cannot be written: " + dir + "/none: no such file or directory"},
	} {
		t.Run(tt.value, func(t *testing.T) {
			cfg := filepath.Join(dir, "c.yaml")
			write(t, cfg, fmt.Sprintf("state: %s/s.json\nmetrics_file: %s\njails:\n  a:\n    filter: postfix-sasl\n    logpath: [/var/log/mail.log]\n", dir, tt.value))
			_, out, stderr := runCLI(t, "--config", cfg, "check")
			if !strings.Contains(out+stderr, cfg+":2: metrics_file") || !strings.Contains(out+stderr, tt.want) {
				t.Errorf("check says:\n%s%s\nwant %q at line 2", out, stderr, tt.want)
			}
		})
	}
}

// appendFile appends s to the file at path, as a logger does.
func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsQuietScan: a scan with nothing new leaves the state's bans as text (the state is
// sealed), and still counts them in currently_banned as status does.
func TestMetricsQuietScan(t *testing.T) {
	netnstest.Isolate(t) // scans reconcile the firewall
	dir := t.TempDir()
	logPath, statePath, prom := filepath.Join(dir, "mail.log"), filepath.Join(dir, "state.json"), filepath.Join(dir, "f2b.prom")
	fail := func(ip string) string {
		return "Aug 15 22:30:00 mx1 postfix/smtpd[1]: warning: unknown[" + ip + "]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n"
	}
	write(t, logPath, fail("192.0.2.7")+fail("192.0.2.8")+fail("2001:db8::9"))
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+statePath+"\nfail2ban_socket: \"\"\nmetrics_file: "+prom+"\njails:\n  a:\n    filter: postfix-sasl\n    logpath: ["+logPath+"]\n    maxretry: 1\n    bantime: 1h\n")
	for _, now := range []string{"2026-08-15T22:31:00Z", "2026-08-15T22:32:00Z", "2026-08-15T22:33:00Z"} {
		if code, _, stderr := runCLI(t, "--config", cfg, "--now", now, "scan"); code != 0 {
			t.Fatalf("scan at %s: exit %d: %s", now, code, stderr)
		}
		if got := readMetrics(t, prom)["fail2ban_scan_currently_banned"].byJail["a"]; got != 3 {
			t.Errorf("scan at %s: currently_banned %v, want the 3 bans", now, got)
		}
	}
}
