package f2bfilter

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestLineBytes compares LineBytes with Line, both with the same prefilter (one that turns
// lines away by length, to turn away lines that match too), on the corpus of each filter.
func TestLineBytes(t *testing.T) {
	requireCorpus(t)
	loc := corpusZone(t)
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
	compared, matched := 0, 0
	for _, file := range files {
		conf := filterFile(filepath.Base(file))
		if conf == "" {
			continue
		}
		f, err := Load(conf, nil, os.ReadFile)
		if err != nil || f.MaxLines() != 1 {
			continue
		}
		pre := func(b []byte) bool { return len(b)%3 != 0 }
		a, b := f.NewMatcher(false), f.NewMatcher(false)
		a.SetPrefilter(pre)
		b.SetPrefilter(pre)
		fh, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "#") {
				continue
			}
			buf := []byte(line)
			want := a.Line(line, corpusNow, loc)
			got := b.LineBytes(buf, corpusNow, loc)
			for i := range buf {
				buf[i] = 'x' // nothing of the line may be kept
			}
			compared++
			if len(want.Failures) > 0 {
				matched++
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %q: LineBytes = %+v, Line = %+v", filepath.Base(file), line, got, want)
			}
			if a.lastText != b.lastText || !a.lastDate.Equal(b.lastDate) {
				t.Errorf("%s: %q: LineBytes keeps the date %q %v, Line %q %v", filepath.Base(file), line,
					b.lastText, b.lastDate, a.lastText, a.lastDate)
			}
		}
		fh.Close()
	}
	t.Logf("%d lines compared, %d with failures", compared, matched)
	if matched == 0 {
		t.Error("no line matched: the comparison shows nothing")
	}
}
