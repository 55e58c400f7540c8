package f2bfilter

import (
	"bufio"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestSplitLookahead(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{`^\[(?P<ip4>\d+)\]: failed:(?! lost| Invalid)`, true},
		{`a(?=b)`, true},
		{`(?i)a(?!b)`, true},
		{`a(?!b)c`, false},  // not at the end
		{`a|b(?!c)`, false}, // binds to b alone
		{`a(?!\bb)`, false}, // looks behind its position
		{`a(?!(b))`, false}, // captures
		{`a(?!b(?<=b))`, false},
		{`(?-i)a(?!b)`, false},
		{`(a)\1(?!b)`, false}, // R is not RE2
		{`(?!b)`, false},
		{`a(?:b(?!c))`, false}, // not at the top level
	} {
		if got := splitLookahead(tc.src) != nil; got != tc.want {
			t.Errorf("splitLookahead(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

// splitRegexes are the regexes of filter.d's filters (and fail2ban's test filters) that
// splitLookahead runs on RE2, with the modes the filters know.
// The value is the filter, whose prefregex and dates cut the lines the regex sees.
func splitRegexes(t *testing.T) map[*compiled]*Filter {
	out := map[*compiled]*Filter{}
	seen := map[string]bool{}
	var files []string
	for _, dir := range []string{filterDir, testFilterDir} {
		f, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
		files = append(files, f...)
	}
	modes := []string{"", "normal", "more", "auth", "rbl", "ddos", "extra", "aggressive", "errors", "ddos", "fallback"}
	for _, file := range files {
		for _, mode := range modes {
			opts := map[string]string{}
			if mode != "" {
				opts["mode"] = mode
			}
			def, err := ReadDefinition(file, opts, os.ReadFile)
			if err != nil {
				continue
			}
			f, err := Compile(def)
			if err != nil {
				continue
			}
			all := append(append([]*compiled{f.pref}, f.fail...), f.ignore...)
			for _, c := range all {
				if c != nil && c.head != nil && !seen[c.src] {
					seen[c.src] = true
					out[c] = f
				}
			}
		}
	}
	return out
}

// backtrackFind is c.find on the backtracking engine alone.
func backtrackFind(c *compiled, s string) (*match, error) {
	b := *c
	b.head = nil
	return b.find(s)
}

// TestLookaheadDifferential compares the RE2 split of the lookahead regexes with regexp2 on
// fail2ban's corpus lines and on variants of them cut after a random point and continued with
// pieces of the lookaheads' text.
var corpusNowForTest = corpusNow

func TestLookaheadDifferential(t *testing.T) {
	requireCorpus(t)
	res := splitRegexes(t)
	if len(res) == 0 {
		t.Fatal("no filter.d regex ends in a lookahead splitLookahead takes")
	}
	var lines []string
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
	for _, file := range files {
		fh, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if !strings.HasPrefix(sc.Text(), "#") {
				lines = append(lines, sc.Text())
			}
		}
		fh.Close()
	}
	// pieces: words of the lookaheads and of the regexes' literal text
	var pieces []string
	word := regexp.MustCompile(`[A-Za-z][A-Za-z0-9_-]*|[:;,.\[\]= ]`)
	for c := range res {
		pieces = append(pieces, word.FindAllString(c.src, -1)...)
	}
	pieces = append(pieces, "\n", "\v", "é", " ", "  ", "[192.0.2.1]", "192.0.2.1")
	rng := rand.New(rand.NewSource(2))
	compared, split := 0, 0
	for c, f := range res {
		src := c.src
		check := func(s string) {
			want, werr := backtrackFind(c, s)
			got, gerr := c.find(s)
			if werr != nil || gerr != nil {
				return // a timeout: nothing to compare
			}
			compared++
			if m, decided := c.head.find(s); decided && m != nil {
				split++
			}
			if (want == nil) != (got == nil) || want != nil && (want.start != got.start || want.end != got.end ||
				!reflect.DeepEqual(want.groups, got.groups) || want.date != got.date) {
				t.Errorf("%s\non %q: RE2 split = %+v, regexp2 = %+v", src, s, got, want)
			}
		}
		for _, l := range lines {
			// what the regex sees of the line: less its date, the prefregex's content
			if d, ok := f.dates.detect(l, corpusNowForTest, nil, nil, true); ok {
				l = l[:d.start] + l[d.end:]
			}
			if f.pref != nil && c != f.pref {
				pm, err := f.pref.find(l)
				if err != nil || pm == nil {
					continue
				}
				if content, ok := pm.groups["content"]; ok {
					l = content
				}
			}
			check(l)
			for n := 0; n < 40; n++ {
				b := []byte(l[:rng.Intn(len(l)+1)])
				for k := rng.Intn(6); k > 0; k-- {
					b = append(b, pieces[rng.Intn(len(pieces))]...)
				}
				check(string(b))
			}
		}
	}
	t.Logf("%d regexes, %d comparisons, %d matched by the RE2 split", len(res), compared, split)
	if split == 0 {
		t.Error("the RE2 split matched nothing: the comparison shows nothing")
	}
}

// TestLookaheadRandom compares the RE2 split with regexp2 on regexes written to make the
// first path through R fail the lookahead, on random text over a small alphabet.
func TestLookaheadRandom(t *testing.T) {
	srcs := []string{
		`(?P<fid>a|ab)(?!c)`,
		`(?P<fid>a+)(?!a)`,
		`(?P<fid>a+?)(?=b)`,
		`(?P<fid>[ab]*)b(?!a|c)`,
		`^(?P<fid>\w+) (?:x|xy)(?= y|$)`,
		`(?i)(?P<fid>B+)(?!a)`,
		`(?P<fid>a)(?i:b)(?=B)`,
		`((?i)A|c)(?P<fid>b)?(?![ac]b)`,
	}
	rng := rand.New(rand.NewSource(3))
	const alphabet = "abcAB xy\n"
	for _, src := range srcs {
		c, err := compileRegex(src)
		if err != nil {
			t.Fatal(err)
		}
		if c.head == nil {
			t.Fatalf("%s: not split", src)
		}
		split := 0
		for i := 0; i < 20000; i++ {
			b := make([]byte, rng.Intn(12))
			for j := range b {
				b[j] = alphabet[rng.Intn(len(alphabet))]
			}
			s := string(b)
			want, _ := backtrackFind(c, s)
			got, _ := c.find(s)
			if m, decided := c.head.find(s); decided && m != nil {
				split++
			}
			if (want == nil) != (got == nil) || want != nil && (want.start != got.start || want.end != got.end ||
				!reflect.DeepEqual(want.groups, got.groups) || want.date != got.date) {
				t.Fatalf("%s on %q: RE2 split = %+v, regexp2 = %+v", src, s, got, want)
			}
			if ok, _ := c.matches(s); ok != (want != nil) {
				t.Fatalf("%s on %q: matches = %v, regexp2 finds %+v", src, s, ok, want)
			}
		}
		if split == 0 {
			t.Errorf("%s: the RE2 split matched nothing", src)
		}
	}
}
