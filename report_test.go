package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// rday is 2026-08-15 00:00 UTC.
const rday = 1786752000

func hm(h, m int) int64 { return rday + int64(h)*3600 + int64(m)*60 }

// reportFixture writes a config and a state whose history was recorded through the history's
// own API, run by run, as scan, ban and unban record it. The figures the tests expect were
// worked out by hand from these runs.
func reportFixture(t *testing.T, extraConfig ...string) (cfg string) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	cfg = filepath.Join(dir, "config.yaml")
	write(t, cfg, `state: `+statePath+`
jails:
  postfix-sasl:
    logpath: [/var/log/maillog]
  submission:
    filter: postfix[mode=auth]
    backend: journal
`+strings.Join(extraConfig, ""))
	st := state.New()
	h := st.History
	run := func(jail string, now int64, f func(r *state.Recorder)) {
		r := h.Recorder(jail, now)
		f(r)
		r.Flush()
		h.Prune(now, 31)
	}
	fail := func(r *state.Recorder, ip string, n int) {
		for range n {
			r.Failure(ip)
		}
	}
	const pj = "postfix-sasl"
	run(pj, hm(17, 0), func(r *state.Recorder) { r.Lines(1000); fail(r, "198.51.100.200", 9) }) // before the period
	run(pj, hm(18, 20), func(r *state.Recorder) {
		r.Lines(400)
		fail(r, "192.0.2.7", 5)
		r.Ban("192.0.2.7", hm(19, 20), false)
	})
	run(pj, hm(19, 20), func(r *state.Recorder) { r.Lines(300); r.Unban("192.0.2.7", false); fail(r, "198.51.100.23", 3) })
	run(pj, hm(20, 5), func(r *state.Recorder) {
		r.Lines(500)
		fail(r, "192.0.2.7", 6)
		r.Ban("192.0.2.7", -1, false)
		fail(r, "2001:db8:7::5", 2)
	})
	run(pj, hm(20, 5), func(r *state.Recorder) { r.Ban("203.0.113.50", hm(23, 30), true) }) // `ban` in the same second
	run(pj, hm(21, 30), func(r *state.Recorder) {
		r.Lines(200)
		fail(r, "198.51.100.23", 4)
		r.Ban("198.51.100.23", hm(22, 30), false)
	})
	run("submission", hm(22, 0), func(r *state.Recorder) { r.Lines(50); fail(r, "198.51.100.99", 2) })
	run(pj, hm(22, 30), func(r *state.Recorder) { r.Lines(100); r.Unban("198.51.100.23", false); fail(r, "203.0.113.9", 1) })
	run(pj, hm(23, 59), func(r *state.Recorder) { r.Lines(80); r.Unban("203.0.113.50", false); fail(r, "2001:db8:7::5", 3) })
	st.Jail(pj).Bans["192.0.2.7"] = state.Ban{Start: hm(20, 4), End: -1}
	if err := state.Save(statePath, st); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// reportJSON is `report --json`.
type reportJSON struct {
	From  int64 `json:"from"`
	To    int64 `json:"to"`
	Jails map[string]struct {
		Failures        int64 `json:"failures"`
		DistinctIPs     int   `json:"distinct_ips"`
		Bans            int64 `json:"bans"`
		Unbans          int64 `json:"unbans"`
		PermanentBans   int64 `json:"permanent_bans"`
		ManualBans      int64 `json:"manual_bans"`
		CurrentlyBanned int   `json:"currently_banned"`
		Lines           int64 `json:"lines"`
		Top             []struct {
			IP       string `json:"ip"`
			Failures int64  `json:"failures"`
			Banned   bool   `json:"banned"`
		} `json:"top"`
		Hourly []int64 `json:"hourly"`
	} `json:"jails"`
}

func runReport(t *testing.T, args ...string) reportJSON {
	t.Helper()
	code, out, stderr := runCLI(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, stderr)
	}
	var r reportJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report --json: %v\n%s", err, out)
	}
	return r
}

func TestReportGolden(t *testing.T) {
	cfg := reportFixture(t)
	for _, tt := range []struct{ golden, args string }{
		{"report.txt", "report --from 2026-08-15T18:00:00Z"},
		{"report.json", "report --from 2026-08-15T18:00:00Z --json"},
		{"report.html", "report --from 2026-08-15T18:00:00Z --html"},
		{"report-partial.txt", "report --from 2026-08-15T18:10:00Z --to 2026-08-15T20:05:00Z --jail postfix-sasl"},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			args := append([]string{"--config", cfg, "--now", "2026-08-16T00:00:00Z"}, strings.Fields(tt.args)...)
			code, out, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			// The host name is the machine's: the golden files say mx1.
			host, _ := os.Hostname()
			out = strings.ReplaceAll(out, "report for "+host, "report for mx1")
			golden(t, tt.golden, out)
			if strings.HasSuffix(tt.golden, ".txt") {
				for i, l := range strings.Split(out, "\n") {
					if n := len([]rune(l)); n > 80 {
						t.Errorf("line %d is %d characters wide: %q", i+1, n, l)
					}
				}
			}
		})
	}
}

func TestReportPeriods(t *testing.T) {
	cfg := reportFixture(t)
	type want struct {
		failures                        int64
		ips                             int
		bans, unbans, permanent, manual int64
		banned                          int
		top                             string // ip:failures:banned of the first offender
		hourly                          string
	}
	for _, tt := range []struct {
		name, args string
		want       want
	}{
		{"whole evening", "--since 6h", want{24, 4, 4, 3, 1, 1, 1, "192.0.2.7:11:true", "[5 3 8 4 1 3]"}},
		{"the day", "--since 24h", want{33, 5, 4, 3, 1, 1, 1, "192.0.2.7:11:true", ""}},
		{"unaligned: counters exact, IPs to the hour", "--from 2026-08-15T18:10:00Z --to 2026-08-15T20:05:00Z",
			want{16, 2, 3, 1, 1, 1, 2, "192.0.2.7:5:true", "[5 3 8]"}},
		{"past end: bans from the spans", "--from 2026-08-15T21:00:00Z --to 2026-08-15T22:00:00Z",
			want{4, 1, 1, 0, 0, 0, 3, "198.51.100.23:4:true", "[4]"}},
		{"before the first ban", "--from 1786809600 --to 1786813200", want{9, 1, 0, 0, 0, 0, 0, "198.51.100.200:9:false", "[9]"}},
		{"nothing", "--from 2026-08-15T10:00:00Z --to 2026-08-15T12:00:00Z", want{0, 0, 0, 0, 0, 0, 0, "", "[0 0]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--config", cfg, "--now", "2026-08-16T00:00:00Z", "report", "--jail", "postfix-sasl"}, strings.Fields(tt.args)...)
			j := runReport(t, args...).Jails["postfix-sasl"]
			top := ""
			if len(j.Top) > 0 {
				top = fmt.Sprintf("%s:%d:%v", j.Top[0].IP, j.Top[0].Failures, j.Top[0].Banned)
			}
			got := want{j.Failures, j.DistinctIPs, j.Bans, j.Unbans, j.PermanentBans, j.ManualBans, j.CurrentlyBanned, top, fmt.Sprint(j.Hourly)}
			if tt.want.hourly == "" {
				got.hourly = ""
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestReportHTML parses the HTML report: no script, no external resource, and one SVG bar per
// hour, its height proportional to that hour's failures.
func TestReportHTML(t *testing.T) {
	cfg := reportFixture(t)
	args := []string{"--config", cfg, "--now", "2026-08-16T00:00:00Z", "report", "--since", "6h"}
	code, out, stderr := runCLI(t, append(args, "--html")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := runReport(t, args...)
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var svgs []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "link", "img", "iframe", "object", "embed":
				t.Errorf("<%s> in the report", n.Data)
			case "svg":
				svgs = append(svgs, n)
			}
			for _, a := range n.Attr {
				if a.Key == "src" || a.Key == "href" || strings.HasPrefix(a.Key, "on") || strings.Contains(a.Val, "url(") {
					t.Errorf("<%s %s=%q> in the report", n.Data, a.Key, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if len(svgs) != 2 {
		t.Fatalf("%d svg charts, want 2 (one per jail)", len(svgs))
	}
	for i, name := range []string{"postfix-sasl", "submission"} {
		want := rep.Jails[name].Hourly
		var heights []float64
		for c := svgs[i].FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode || c.Data != "rect" {
				continue
			}
			for _, a := range c.Attr {
				if a.Key == "height" {
					h, err := strconv.ParseFloat(a.Val, 64)
					if err != nil {
						t.Fatal(err)
					}
					heights = append(heights, h)
				}
			}
		}
		if len(heights) != 6 || len(want) != 6 {
			t.Fatalf("%s: %d bars and %d hours, want 6 of each", name, len(heights), len(want))
		}
		// The tallest bar is 100 units; each other one is count/max of it.
		var max int64
		for _, n := range want {
			max = maxInt(max, n)
		}
		for k, n := range want {
			exp := 100 * float64(n) / float64(max)
			if d := heights[k] - exp; d > 0.005 || d < -0.005 {
				t.Errorf("%s: bar %d is %.2f high for %d failures (max %d), want %.2f", name, k, heights[k], n, max, exp)
			}
		}
	}
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// TestReportUnderScan: `scan report` is the same command; a bare `scan` still scans.
func TestReportUnderScan(t *testing.T) {
	cfg := reportFixture(t)
	a := runReport(t, "--config", cfg, "--now", "2026-08-16T00:00:00Z", "report", "--since", "6h")
	b := runReport(t, "--config", cfg, "--now", "2026-08-16T00:00:00Z", "scan", "report", "--since", "6h")
	if fmt.Sprint(a) != fmt.Sprint(b) || a.Jails["postfix-sasl"].Failures != 24 {
		t.Errorf("scan report differs from report:\n%+v\n%+v", b, a)
	}
}

func TestReportUsage(t *testing.T) {
	cfg := reportFixture(t)
	for _, tt := range []struct{ args, wantErr string }{
		{"report --from 1 --since 1h", "--from and --since exclude each other"},
		{"report --since yesterday", `--since: want a positive duration`},
		{"report --to tomorrow", `--to: want RFC 3339 or unix seconds, got "tomorrow"`},
		{"report --from 2026-08-16T01:00:00Z", "the period is empty"},
		{"report --json --html", "--json and --html exclude each other"},
		{"report --jail nosuch", `no jail "nosuch"`},
		{"report --mail", "no recipient: set report.mail_to in " + cfg},
	} {
		t.Run(tt.args, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"--config", cfg, "--now", "2026-08-16T00:00:00Z"}, strings.Fields(tt.args)...)...)
			if code != 2 || !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.wantErr)
			}
		})
	}
}
