package f2bfilter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the corpus zone, whatever the host has installed
)

var update = flag.Bool("update", false, "rewrite testdata/fail2ban-conformance.txt")

// fail2ban 1.0.2's test suite (tests/samplestestcase.py) and the filters it tests.
const (
	f2bTests      = "/usr/lib/python3/dist-packages/fail2ban/tests"
	corpusDir     = f2bTests + "/files/logs"
	testFilterDir = f2bTests + "/config/filter.d" // zzz-*.conf
	filterDir     = "/etc/fail2ban/filter.d"
	reportFile    = "testdata/fail2ban-conformance.txt"
	minPassRate   = 90.0
)

// corpusNow is TEST_NOW (tests/utils.py): 2005-08-14 12:00 CEST. fail2ban's tests run with
// TZ=CET-01CEST-02,M3.5.0,M10.5.0, Europe/Zurich's rule in 2005.
var corpusNow = time.Unix(1124013600, 0)

func corpusZone(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func requireCorpus(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(corpusDir); err != nil {
		if os.Getenv("FAIL2BAN_SCAN_REQUIRE_CORPUS") == "1" {
			t.Fatalf("fail2ban corpus required (FAIL2BAN_SCAN_REQUIRE_CORPUS=1): %v", err)
		}
		t.Skipf("fail2ban corpus not installed (install fail2ban, or set FAIL2BAN_SCAN_REQUIRE_CORPUS=1 to make this a failure): %v", err)
	}
}

// filterTest is one filterOptions set of a sample log with its own matcher state.
type filterTest struct {
	name string // "sshd{'mode': 'aggressive'}"-like, for the report
	opts map[string]any
	m    *Matcher
	err  error
}

type tally struct{ pass, total int }

var (
	jsonCommentRE = regexp.MustCompile(`^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$`)
	nameCondRE    = regexp.MustCompile(`^name\s*==\s*'([^']*)'$`)
	optCondRE     = regexp.MustCompile(`^opts\.get\('([^']*)'\)\s*(==|!=)\s*'([^']*)'$`)
)

// evalCondition evaluates the few Python conditions the corpus uses.
func evalCondition(cond, name string, opts map[string]any) (bool, error) {
	cond = strings.TrimSpace(cond)
	if m := nameCondRE.FindStringSubmatch(cond); m != nil {
		return name == m[1], nil
	}
	if m := optCondRE.FindStringSubmatch(cond); m != nil {
		v, _ := opts[m[1]].(string)
		return (v == m[3]) == (m[2] == "=="), nil
	}
	return false, fmt.Errorf("condition %q not understood", cond)
}

func filterFile(name string) string {
	for _, dir := range []string{filterDir, testFilterDir} {
		p := filepath.Join(dir, name+".conf")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func optsName(opts map[string]any) string {
	if len(opts) == 0 {
		return ""
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, opts[k]))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestFail2banConformance runs every failJSON case of fail2ban's sample logs against the
// filter.d file of the same name, under each filterOptions set, and compares match, host and
// time. Cases not passed are listed with their reason in testdata/fail2ban-conformance.txt.
func TestFail2banConformance(t *testing.T) {
	requireCorpus(t)
	loc := corpusZone(t)
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var report bytes.Buffer
	all := tally{}
	perFilter := map[string]*tally{}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		file := filterFile(name)
		if file == "" {
			continue // a log included by addFILE, or without a filter
		}
		names = append(names, name)
		tl := &tally{}
		perFilter[name] = tl
		runSampleLog(t, name, file, loc, tl, &report)
		all.pass += tl.pass
		all.total += tl.total
	}
	for _, n := range names {
		tl := perFilter[n]
		t.Logf("%-28s pass %4d/%-4d (%5.1f%%)", n, tl.pass, tl.total, pct(*tl))
	}
	t.Logf("%-28s pass %4d/%-4d (%5.1f%%)", "all", all.pass, all.total, pct(all))
	header := fmt.Sprintf("# fail2ban-scan conformance with fail2ban's filter.d corpus: pass %d/%d (%.1f%%)\n"+
		"# regenerate: go test ./f2bfilter -run TestFail2banConformance -update\n", all.pass, all.total, pct(all))
	got := append([]byte(header), report.Bytes()...)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(reportFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(reportFile); err != nil || !bytes.Equal(want, got) {
		t.Errorf("%s is out of date (run with -update and review the diff): %v", reportFile, err)
	}
	if pct(all) < minPassRate {
		t.Errorf("conformance %.1f%% < %.0f%%", pct(all), minPassRate)
	}
}

func pct(t tally) float64 {
	if t.total == 0 {
		return 0
	}
	return 100 * float64(t.pass) / float64(t.total)
}

func runSampleLog(t *testing.T, name, file string, loc *time.Location, tl *tally, report *bytes.Buffer) {
	// The test filters include common.conf by a path into fail2ban's source tree
	// (../../../../../../../config/filter.d/common.conf); installed, it is filter.d's.
	readFile := func(p string) ([]byte, error) {
		data, err := os.ReadFile(p)
		if err != nil && strings.HasSuffix(p, "/config/filter.d/common.conf") {
			return os.ReadFile(filepath.Join(filterDir, "common.conf"))
		}
		return data, err
	}
	cache := map[string]*filterTest{}
	getTest := func(opts map[string]any) *filterTest {
		flt := map[string]string{}
		for k, v := range opts {
			if !strings.HasPrefix(k, "test.") {
				flt[k] = fmt.Sprint(v)
			}
		}
		key := name + optsName(opts)
		if fn, ok := opts["test.filter-name"].(string); ok {
			key = name + fn
		}
		if ft, ok := cache[key]; ok {
			return ft
		}
		ft := &filterTest{name: name + optsName(opts), opts: opts}
		f, err := Load(file, flt, readFile)
		if err != nil {
			ft.err = err
		} else {
			ft.m = f.NewMatcher(true)
		}
		cache[key] = ft
		return ft
	}
	fail := func(ft *filterTest, src string, n int, line, reason string) {
		fmt.Fprintf(report, "%s:%d %s: %s\n    %s\n", src, n, ft.name, reason, line)
	}
	var tests []*filterTest
	commonOpts := map[string]any{}
	files := []string{name}
	for fi := 0; fi < len(files); fi++ {
		src := files[fi]
		data, err := os.ReadFile(filepath.Join(corpusDir, src))
		if err != nil {
			t.Fatal(err)
		}
		ignoreBlock := false
		var faildata map[string]any
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		pending := false
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimRight(sc.Text(), "\r\n")
			if !pending {
				if m := jsonCommentRE.FindStringSubmatch(line); m != nil {
					var v any
					if err := json.Unmarshal([]byte(m[2]), &v); err != nil {
						t.Fatalf("%s:%d: %v", src, n, err)
					}
					switch m[1] {
					case "fileOptions":
						commonOpts, _ = v.(map[string]any)
					case "filterOptions":
						tests, ignoreBlock = nil, false
						list, ok := v.([]any)
						if !ok {
							list = []any{v}
						}
						for _, o := range list {
							opts := map[string]any{}
							for k, v := range commonOpts {
								opts[k] = v
							}
							for k, v := range o.(map[string]any) {
								opts[k] = v
							}
							if c, ok := opts["test.condition"].(string); ok {
								ok, err := evalCondition(c, name, opts)
								ignoreBlock = !ok || err != nil
							}
							if !ignoreBlock {
								tests = append(tests, getTest(opts))
							}
						}
					case "addFILE":
						files = append(files, v.(string))
					case "failJSON":
						faildata, _ = v.(map[string]any)
						pending = true
					}
					continue
				}
				if ignoreBlock || strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
					continue
				}
				faildata = map[string]any{}
			}
			pending = false
			if ignoreBlock {
				continue
			}
			if tests == nil {
				tests = []*filterTest{getTest(map[string]any{})}
			}
			for _, ft := range tests {
				if c, ok := faildata["constraint"].(string); ok {
					ok, err := evalCondition(c, name, ft.opts)
					if err != nil {
						tl.total++
						fail(ft, src, n, line, err.Error())
						continue
					}
					if !ok {
						continue
					}
				}
				tl.total++
				if ft.err != nil {
					fail(ft, src, n, line, "filter does not load: "+ft.err.Error())
					continue
				}
				reason := checkCase(ft, line, faildata, loc)
				if reason == "" {
					tl.pass++
				} else {
					fail(ft, src, n, line, reason)
				}
			}
		}
	}
}

// checkCase runs one line and returns why it does not give what faildata says ("" if it does).
func checkCase(ft *filterTest, line string, faildata map[string]any, loc *time.Location) string {
	var res Result
	if ft.opts["logtype"] == "journal" {
		if p, ok := ft.opts["test.prefix-line"].(string); ok {
			line = p + line
		}
		res = ft.m.Entry(line, corpusNow)
	} else {
		res = ft.m.Line(line, corpusNow, loc)
	}
	wantMatch, _ := faildata["match"].(bool)
	var found []Failure
	for _, f := range res.Failures {
		if f.Host != "" {
			found = append(found, f)
		}
	}
	switch {
	case len(found) == 0 && wantMatch:
		if res.Ignored {
			return "not matched (an ignoreregex matched)"
		}
		return "not matched"
	case len(found) == 0:
		return ""
	case !wantMatch:
		return fmt.Sprintf("matched (failregex %d, host %q) when it should not", found[0].Pattern, found[0].Host)
	case len(found) > 1:
		return fmt.Sprintf("%d failregexes matched", len(found))
	}
	got := found[0]
	if h, ok := faildata["host"]; ok && h != nil {
		want := fmt.Sprint(h)
		if normHost(want) != normHost(got.Host) {
			return fmt.Sprintf("host %q, want %q", got.Host, want)
		}
	}
	if ts, ok := faildata["time"].(string); ok {
		want, err := parseJSONTime(ts, loc)
		if err != nil {
			return "bad time in failJSON: " + err.Error()
		}
		if got.Time.IsZero() {
			return fmt.Sprintf("no time, want %s", ts)
		}
		if got.Time.UnixMicro() != want.UnixMicro() {
			return fmt.Sprintf("time %s, want %s", got.Time.In(loc).Format("2006-01-02T15:04:05.999999"), ts)
		}
	}
	return ""
}

func normHost(s string) string {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	return s
}

var jsonTimeRE = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?$`)

// parseJSONTime reads a failJSON time as Python's strptime("%Y-%m-%dT%H:%M:%S[.%f]") does
// (one-digit fields allowed), in loc.
func parseJSONTime(s string, loc *time.Location) (time.Time, error) {
	m := jsonTimeRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("time %q: not %%Y-%%m-%%dT%%H:%%M:%%S[.%%f]", s)
	}
	n := make([]int, 7)
	for i := 1; i <= 6; i++ {
		n[i-1], _ = strconv.Atoi(m[i])
	}
	if m[7] != "" {
		f := m[7] + strings.Repeat("0", 6-len(m[7]))
		n[6], _ = strconv.Atoi(f)
	}
	return time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], n[6]*1000, loc), nil
}
