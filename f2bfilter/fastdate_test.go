package f2bfilter

import (
	"bufio"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// slowDate is detect without the fast reader: the templates in order.
func slowDate(d *dateDetector, line string, now time.Time, loc *time.Location) (date, int, bool) {
	for i, t := range d.templates {
		s, e, groups, ok := t.find(line)
		if !ok {
			continue
		}
		tm, ok := t.parse(groups, now, loc)
		return date{start: s, end: e, time: tm, ok: ok}, i, true
	}
	return date{}, -1, false
}

// checkFastDate fails when fastDate reads line otherwise than the templates' regexes.
func checkFastDate(t *testing.T, d *dateDetector, line string) (fast bool) {
	t.Helper()
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 8, 15, 12, 0, 0, 0, loc)
	got, gi, ok := d.fastDate(line, now, loc, false)
	if !ok {
		return false
	}
	want, wi, wok := slowDate(d, line, now, loc)
	if !wok || gi != wi || got.start != want.start || got.end != want.end || got.ok != want.ok || !got.time.Equal(want.time) {
		t.Errorf("%q: fastDate = template %d [%d:%d] %v %v, the regexes = %v template %d [%d:%d] %v %v",
			line, gi, got.start, got.end, got.time, got.ok, wok, wi, want.start, want.end, want.time, want.ok)
	}
	sp, _, _ := d.fastDate(line, now, loc, true)
	if sp.start != got.start || sp.end != got.end {
		t.Errorf("%q: fastDate with noTime = [%d:%d], want [%d:%d]", line, sp.start, sp.end, got.start, got.end)
	}
	return true
}

// fastDateSeeds are dates in and around the strict forms fastDate reads.
var fastDateSeeds = []string{
	"Aug 15 00:00:00 mx1 postfix/smtpd[1]: x",
	"Aug  5 23:59:59 host sshd[2]: y",
	"Feb 31 12:00:00 host z",
	"Dec 01 00:00:00",
	"Aug 15 00:00:00.123 host x",
	"Aug 15 00:00:00 2026 host x",
	"Aug 15 00:00:00 20x host",
	"Aug 15 00:00:001 x",
	"Aug 15 24:00:00 x",
	"Aug 15 00:60:00 x",
	"Aug 15 00:00:60 x",
	"aug 15 00:00:00 x",
	"AUG 15 00:00:00 x",
	"Aug 00 00:00:00 x",
	"Aug 32 00:00:00 x",
	"Aug 1 00:00:00 x",
	"Aug 15  0:00:00 x",
	"Aug 15 00:00:00_x",
	"Aug 15 00:00:00:x",
	"Mon Aug 15 00:00:00 x",
	"2026-08-15T00:00:00 x",
	"2026-08-15 00:00:00,123 x",
	"2026-08-15T00:00:00.123456Z x",
	"2026-08-15T00:00:00.1234567Z x",
	"2026-08-15T00:00:00+02:00 x",
	"2026-08-15T00:00:00-0130 x",
	"2026-08-15T00:00:00+02 x",
	"2026-08-15T00:00:00+021 x",
	"2026-08-15T00:00:00+02:0 x",
	"2026-08-15T00:00:00+20:00 x",
	"2026-08-15T00:00:00 UTC x",
	"2026-08-15T00:00:00 +0000 x",
	"2026-08-15T00:00:00UTC x",
	"2026-08-15T00:00:00Zulu",
	"2026-08-15  00:00:00 x",
	"2026-13-15T00:00:00 x",
	"2026-02-30T00:00:00 x",
	"2026-08-15T00:00:00.x",
	"2026-08-15T00:00:00",
	"2126-08-15T00:00:00 x",
	"2026/08/15 00:00:00 x",
}

// TestFastDate compares fastDate with the default templates' regexes on the seeds, on the
// lines of fail2ban's corpus and on random variations of the seeds.
func TestFastDate(t *testing.T) {
	for _, pats := range [][]string{nil, {"{^LN-BEG}"}} {
		d, err := newDateDetector(pats)
		if err != nil {
			t.Fatal(err)
		}
		if !d.fast {
			t.Fatalf("datepattern %q: fast reader not used", pats)
		}
		read := 0
		for _, s := range fastDateSeeds {
			if checkFastDate(t, d, s) {
				read++
			}
		}
		if read < 10 {
			t.Errorf("datepattern %q: fastDate read %d seeds, want >= 10", pats, read)
		}
		files, _ := filepath.Glob(filepath.Join(corpusDir, "*"))
		for _, file := range files {
			fh, err := os.Open(file)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(fh)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				checkFastDate(t, d, sc.Text())
			}
			fh.Close()
		}
		rng := rand.New(rand.NewSource(1))
		const alphabet = "0123456789 :.,+-TZUGa_\t2"
		for i := 0; i < 200000; i++ {
			b := []byte(fastDateSeeds[rng.Intn(len(fastDateSeeds))])
			for n := rng.Intn(3) + 1; n > 0; n-- {
				b[rng.Intn(len(b))] = alphabet[rng.Intn(len(alphabet))]
			}
			checkFastDate(t, d, string(b))
		}
	}
	// a datepattern of its own before the defaults: the fast reader would skip it
	d, err := newDateDetector([]string{"%Y-%m-%d", "{^LN-BEG}"})
	if err != nil {
		t.Fatal(err)
	}
	if d.fast {
		t.Errorf("datepattern %q then {^LN-BEG}: fast reader used", "%Y-%m-%d")
	}
}

func FuzzFastDate(f *testing.F) {
	for _, s := range fastDateSeeds {
		f.Add(s)
	}
	d, err := newDateDetector(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) { checkFastDate(t, d, line) })
}
