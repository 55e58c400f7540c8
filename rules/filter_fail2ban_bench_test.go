package rules

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"testing"
)

// benchLines is a slice of bench/genlog's output (the benchmark log of bench/scan.sh).
func fail2banBenchLines(b *testing.B) [][]byte {
	data, err := os.ReadFile("../bench/out/mail-200000.log")
	if err != nil {
		b.Skipf("run LINES=200000 bench/filterd.sh first: %v", err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() && len(lines) < 100000 {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines
}

// BenchmarkFail2banFilter compares postfix.conf read from filter.d with the built-in
// postfix[mode=auth] (goal: within 3x).
func BenchmarkFail2banFilter(b *testing.B) {
	lines := fail2banBenchLines(b)
	const conf = "/etc/fail2ban/filter.d/postfix.conf"
	if _, err := os.Stat(conf); err != nil {
		b.Skip(err)
	}
	for _, spec := range []string{"postfix[mode=auth]", "fail2ban:" + conf + "[mode=auth]"} {
		f, err := LoadFilterIn(spec, nil, nil, nil, os.ReadFile)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(spec, func(b *testing.B) {
			n := 0
			for b.Loop() {
				for _, l := range lines {
					if r, _, _ := f.Match(l); r == Match {
						n++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(lines)), "ns/line")
			_ = fmt.Sprint(n)
		})
	}
}
