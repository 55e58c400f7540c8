package rules

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Zurich for the corpus times, whatever the host has installed
)

// The conformance corpus of fail2ban's own test suite (fail2ban/tests/samplestestcase.py).
const postfixCorpus = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs/postfix"

// corpusNow is fail2ban's TEST_NOW (tests/utils.py): 2005-08-14 12:00 CEST. Its tests run
// with TZ=CET-01CEST-02,M3.5.0,M10.5.0, which is Europe/Zurich's rule in 2005.
var corpusNow = time.Unix(1124013600, 0)

// corpusFile opens a fail2ban sample log or skips the test (fails it when
// FAIL2BAN_SCAN_REQUIRE_CORPUS=1).
func corpusFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("FAIL2BAN_SCAN_REQUIRE_CORPUS") == "1" {
			t.Fatalf("fail2ban corpus required (FAIL2BAN_SCAN_REQUIRE_CORPUS=1): %v", err)
		}
		t.Skipf("fail2ban corpus not installed (install fail2ban, or set FAIL2BAN_SCAN_REQUIRE_CORPUS=1 to make this a failure): %v", err)
	}
	return data
}

// corpusCase is one log line of a sample file with what fail2ban expects of it under each of
// the filter option sets in force where it appears.
type corpusCase struct {
	lineNo int
	line   string
	want   map[string]any // failJSON; empty: the line must not match
	specs  []string       // filter specs ("postfix[mode=auth]") the case applies to
}

var corpusJSONRE = regexp.MustCompile(`^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$`)

// parseCorpus reads a sample log the way samplestestcase.py does: "# filterOptions: [...]"
// sets the option sets for the lines after it ({} is the filter's default), "# failJSON: {...}"
// describes the next line, other non-comment lines must not match.
func parseCorpus(t *testing.T, name string, data []byte) []corpusCase {
	t.Helper()
	cases, added := parseCorpusFile(t, name, data)
	if len(added) > 0 {
		t.Fatalf("%s: addFILE %q not supported by this test", name, added)
	}
	return cases
}

// parseCorpusFile is parseCorpus that also returns the files named by "# addFILE:" lines,
// which fail2ban reads after this one. A "test.condition" of "name=='NAME'" holds (the
// filter tested is NAME) and is dropped; any other is an error.
func parseCorpusFile(t *testing.T, name string, data []byte) ([]corpusCase, []string) {
	t.Helper()
	var (
		added      []string
		cases      []corpusCase
		specs      = []string{name}
		commonOpts map[string]any
		pending    map[string]any // failJSON waiting for its line
		pendingAt  int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r\n")
		if pending != nil {
			cases = append(cases, corpusCase{lineNo: n, line: line, want: pending, specs: specs})
			pending = nil
			continue
		}
		if m := corpusJSONRE.FindStringSubmatch(line); m != nil {
			var v any
			if err := json.Unmarshal([]byte(m[2]), &v); err != nil {
				t.Fatalf("%s:%d: %s: %v", name, n, m[1], err)
			}
			switch m[1] {
			case "fileOptions":
				commonOpts = v.(map[string]any)
				dropCondition(t, name, n, commonOpts)
			case "filterOptions":
				list, ok := v.([]any)
				if !ok {
					list = []any{v}
				}
				specs = nil
				for _, o := range list {
					opts := map[string]string{}
					for k, v := range commonOpts {
						opts[k] = fmt.Sprint(v)
					}
					om := o.(map[string]any)
					dropCondition(t, name, n, om)
					for k, v := range om {
						opts[k] = fmt.Sprint(v)
					}
					for k := range opts {
						if strings.HasPrefix(k, "test.") {
							t.Fatalf("%s:%d: filterOptions %q not supported by this test", name, n, k)
						}
					}
					specs = append(specs, canonicalSpec(name, opts))
				}
			case "addFILE":
				f, ok := v.(string)
				if !ok {
					t.Fatalf("%s:%d: addFILE: want a file name", name, n)
				}
				added = append(added, f)
			case "failJSON":
				pending, pendingAt = v.(map[string]any), n
			}
			continue
		}
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		cases = append(cases, corpusCase{lineNo: n, line: line, want: map[string]any{}, specs: specs})
	}
	if pending != nil {
		t.Fatalf("%s:%d: failJSON without a line after it", name, pendingAt)
	}
	return cases, added
}

// dropCondition removes a "test.condition" that holds for filter name from opts.
func dropCondition(t *testing.T, name string, n int, opts map[string]any) {
	t.Helper()
	c, ok := opts["test.condition"]
	if !ok {
		return
	}
	if c != "name=='"+name+"'" {
		t.Fatalf("%s:%d: test.condition %q not supported by this test", name, n, c)
	}
	delete(opts, "test.condition")
}

// matchingPatterns lists every failregex that matches line, to check, as fail2ban does, that
// a sample is matched by exactly one.
func matchingPatterns(f *Filter, line []byte) []int {
	_, n := scanStamp(line)
	buf := line[n:]
	if f.pref != nil {
		loc, ok := f.pref.match(buf, true)
		if !ok {
			return nil
		}
		if f.toEnd {
			buf = buf[loc[2*f.pref.content]:]
		} else {
			buf = buf[loc[2*f.pref.content]:loc[2*f.pref.content+1]]
		}
	}
	var out []int
	for i, p := range f.fail {
		if _, ok := p.match(buf, true); ok {
			out = append(out, i)
		}
	}
	return out
}

// checkCase runs one case against one filter and returns what went wrong ("" if nothing).
func checkCase(f *Filter, c corpusCase, want map[string]any, zurich *time.Location) string {
	res, host, idx := f.Match([]byte(c.line))
	wantMatch, _ := want["match"].(bool)
	if (res == Match) != wantMatch {
		return fmt.Sprintf("got %v (%v, pattern %d), want match=%v", res, host, idx, wantMatch)
	}
	if !wantMatch {
		return ""
	}
	if all := matchingPatterns(f, []byte(c.line)); len(all) != 1 {
		return fmt.Sprintf("matched by patterns %v, want exactly one", all)
	}
	for k, v := range want {
		switch k {
		case "match", "desc", "time":
		case "host":
			if host.String() != v {
				return fmt.Sprintf("host %v, want %v", host, v)
			}
		default:
			return fmt.Sprintf("failJSON key %q not supported by this test", k)
		}
	}
	if ts, ok := want["time"].(string); ok {
		wantT, err := parseCorpusTime(ts, zurich)
		if err != nil {
			return err.Error()
		}
		got, err := ParseTime([]byte(c.line), corpusNow, zurich)
		if err != nil {
			return fmt.Sprintf("ParseTime: %v", err)
		}
		if !got.Equal(wantT) {
			return fmt.Sprintf("time %v, want %v", got, wantT)
		}
	}
	return ""
}

// parseCorpusTime parses failJSON's local "2005-03-7T02:09:33" (Python's strptime takes a
// one-digit day).
func parseCorpusTime(s string, loc *time.Location) (time.Time, error) {
	var y, mo, d, h, mi, sec int
	if _, err := fmt.Sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec); err != nil {
		return time.Time{}, fmt.Errorf("failJSON time %q: %v", s, err)
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, 0, loc), nil
}

func TestCorpusPostfix(t *testing.T) {
	data := corpusFile(t, postfixCorpus)
	zurich, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Fatal(err)
	}
	cases := parseCorpus(t, "postfix", data)
	filters := map[string]*Filter{}
	used := map[string]map[int]bool{}
	checks, lines := 0, 0
	for _, c := range cases {
		if _, ok := c.want["constraint"]; ok {
			t.Fatalf("line %d: failJSON constraint not supported by this test", c.lineNo)
		}
		lines++
		for _, spec := range c.specs {
			f := filters[spec]
			if f == nil {
				if f, err = LoadFilter(spec, nil, nil, nil); err != nil {
					t.Fatalf("LoadFilter(%q): %v", spec, err)
				}
				filters[spec], used[spec] = f, map[int]bool{}
			}
			checks++
			if msg := checkCase(f, c, c.want, zurich); msg != "" {
				t.Errorf("%s line %d, %s: %s\n  %s", postfixCorpus, c.lineNo, spec, msg, c.line)
				continue
			}
			if _, _, idx := f.Match([]byte(c.line)); idx >= 0 {
				used[spec][idx] = true
			}
		}
	}
	// As fail2ban: every failregex of every option set tested has a sample.
	for spec, f := range filters {
		for i, p := range f.Patterns() {
			if !used[spec][i] {
				t.Errorf("%s: failregex %d has no sample in the corpus: %s", spec, i, p)
			}
		}
	}
	if lines < 50 {
		t.Errorf("only %d corpus lines parsed; the corpus format may have changed", lines)
	}
	specs := make([]string, 0, len(filters))
	for s := range filters {
		specs = append(specs, s)
	}
	sort.Strings(specs)
	t.Logf("postfix corpus: %d lines, %d line×mode checks over %s", lines, checks, strings.Join(specs, ", "))
}

// TestCorpusPostfixSASL holds postfix-sasl to the SASL cases of the postfix corpus, as
// aggressive mode judges them (0.11's filter also counts "Invalid authentication mechanism"),
// and checks it matches no other corpus line.
func TestCorpusPostfixSASL(t *testing.T) {
	data := corpusFile(t, postfixCorpus)
	zurich, err := time.LoadLocation("Europe/Zurich")
	if err != nil {
		t.Fatal(err)
	}
	f, err := LoadFilter("postfix-sasl", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sasl, other := 0, 0
	seen := map[string]bool{}
	for _, c := range parseCorpus(t, "postfix", data) {
		var want map[string]any
		switch {
		case strings.Contains(c.line, " SASL ") && slices.Contains(c.specs, "postfix[mode=aggressive]"):
			want = c.want
			sasl++
		case strings.Contains(c.line, " SASL "):
			continue // judged in the aggressive block
		default:
			want = map[string]any{} // not a SASL failure
			other++
		}
		key := c.line + fmt.Sprint(want)
		if seen[key] {
			continue
		}
		seen[key] = true
		if msg := checkCase(f, c, want, zurich); msg != "" {
			t.Errorf("%s line %d, postfix-sasl: %s\n  %s", postfixCorpus, c.lineNo, msg, c.line)
		}
	}
	if sasl < 10 {
		t.Errorf("only %d SASL cases found", sasl)
	}
	t.Logf("postfix-sasl: %d SASL cases, %d other corpus lines that must miss", sasl, other)
}
