package f2bfilter

import (
	"bufio"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitTail(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{`^\s*warning: (?P<content>.+)$`, true},
		{`^a(?P<content>.+)$`, true},
		{`^a|b(?P<content>.+)$`, false},   // binds to b alone
		{`^(?:a(?P<content>.+)$)`, false}, // not at the top level
		{`^a(?P<content>.*)$`, false},     // may be empty
		{`(?P<content>.+)$`, false},       // nothing before
		{`^a[(](?P<content>.+)$`, true},   // a class holds no group
		{`^a(?P<content>.+)\$`, false},
	} {
		if got := splitTail(tc.src) != nil; got != tc.want {
			t.Errorf("splitTail(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

// wholeFind is c.find without the tail split.
func wholeFind(c *compiled, s string) (*match, error) {
	w := *c
	w.tail = nil
	return w.find(s)
}

// TestTailDifferential compares the tail split of the filters' regexes (prefregexes mostly)
// with the whole regex on fail2ban's corpus lines less their dates, and variants of them:
// cut, continued with random bytes, with a newline.
func TestTailDifferential(t *testing.T) {
	requireCorpus(t)
	var files []string
	for _, dir := range []string{filterDir, testFilterDir} {
		f, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
		files = append(files, f...)
	}
	type pair struct {
		c *compiled
		f *Filter
	}
	var res []pair
	seen := map[string]bool{}
	for _, file := range files {
		def, err := ReadDefinition(file, nil, os.ReadFile)
		if err != nil {
			continue
		}
		f, err := Compile(def)
		if err != nil {
			continue
		}
		for _, c := range append(append([]*compiled{f.pref}, f.fail...), f.ignore...) {
			if c != nil && c.tail != nil && !seen[c.src] {
				seen[c.src] = true
				res = append(res, pair{c, f})
			}
		}
	}
	if len(res) < 10 {
		t.Fatalf("%d regexes split, want >= 10", len(res))
	}
	var lines []string
	logs, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
	for _, file := range logs {
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
	rng := rand.New(rand.NewSource(4))
	const alphabet = "ab :[]\n\x80é"
	compared, split := 0, 0
	for _, p := range res {
		check := func(s string) {
			want, _ := wholeFind(p.c, s)
			got, _ := p.c.find(s)
			compared++
			if m, decided := p.c.tail.find(s); decided && m != nil {
				split++
			}
			if (want == nil) != (got == nil) || want != nil && (want.start != got.start || want.end != got.end ||
				!reflect.DeepEqual(want.groups, got.groups) || want.date != got.date) {
				t.Errorf("%s\non %q: tail split = %+v, whole = %+v", p.c.src, s, got, want)
			}
		}
		for _, l := range lines {
			if d, ok := p.f.dates.detect(l, corpusNow, nil, nil, true); ok {
				l = l[:d.start] + l[d.end:]
			}
			check(l)
			for n := 0; n < 2; n++ {
				b := []byte(l[:rng.Intn(len(l)+1)])
				for k := rng.Intn(3); k > 0; k-- {
					b = append(b, alphabet[rng.Intn(len(alphabet))])
				}
				check(string(b))
			}
		}
	}
	t.Logf("%d regexes, %d comparisons, %d matched by the split", len(res), compared, split)
	if split == 0 {
		t.Error("the split matched nothing: the comparison shows nothing")
	}
}
