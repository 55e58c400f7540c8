package report_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/report"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// A busy server: 31 days of a scan every minute, 50,000 failures a day from 5,000 IPs (each
// IP's share skewed, as attackers' are), one ban per 100 failures, recorded through the
// history's API as scan records them.
const (
	benchDays     = 31
	failuresADay  = 50_000
	ipsADay       = 5_000
	benchStart    = 1786752000 // 2026-08-15 00:00 UTC
	benchHistDays = 31
)

var (
	benchOnce  sync.Once
	benchPath  string
	benchBytes int64
	benchErr   error
)

func busyState(b *testing.B) (path string, size int64) {
	benchOnce.Do(func() {
		st := state.New()
		rng := rand.New(rand.NewPCG(1, 2))
		ips := make([]string, ipsADay)
		for i := range ips {
			ips[i] = fmt.Sprintf("198.%d.%d.%d", 18+i/65536, i/256%256, i%256)
		}
		n := 0
		for m := 1; m <= benchDays*1440; m++ {
			now := int64(benchStart + m*60)
			r := st.History.Recorder("postfix-sasl", now)
			r.Lines(400)
			for k := 0; k < failuresADay/1440+boolInt(m%1440 < failuresADay%1440); k++ {
				// Skewed: the square of a uniform number favours the low indexes.
				u := rng.Float64()
				ip := ips[int(u*u*ipsADay)]
				r.Failure(ip)
				if n++; n%100 == 0 {
					r.Ban(ip, now+600, false)
				}
			}
			r.Flush()
			st.History.Prune(now, benchHistDays)
		}
		dir, err := os.MkdirTemp("", "report-bench")
		if err != nil {
			benchErr = err
			return
		}
		benchPath = filepath.Join(dir, "state.json")
		if benchErr = state.Save(benchPath, st); benchErr != nil {
			return
		}
		fi, err := os.Stat(benchPath)
		benchErr = err
		if err == nil {
			benchBytes = fi.Size()
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath, benchBytes
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// BenchmarkReport is `report` over the last 24 h and over the 31 days: load the state, sum,
// render the text.
func BenchmarkReport(b *testing.B) {
	path, size := busyState(b)
	end := int64(benchStart + benchDays*86400)
	for _, p := range []struct {
		name string
		from int64
	}{{"24h", end - 86400}, {"31d", end - benchDays*86400}} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				st, err := state.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				s := report.Summarize(st, []string{"postfix-sasl"}, p.from, end)
				if s.Jails[0].Failures == 0 {
					b.Fatal("no failures")
				}
				if err := report.Text(io.Discard, s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size), "state-bytes")
		})
	}
}

// BenchmarkStateLoadSave is what the history adds to every scan: load and save the state.
func BenchmarkStateLoadSave(b *testing.B) {
	path, size := busyState(b)
	out := filepath.Join(b.TempDir(), "state.json")
	for b.Loop() {
		st, err := state.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := state.Save(out, st); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "state-bytes")
}
