package scan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// benchLog returns n lines of a busy postfix log, one in ten a SASL failure.
func benchLog(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		s, ip := i/10, fmt.Sprintf("203.0.113.%d", i%251)
		stamp := fmt.Sprintf("Aug 15 %02d:%02d:%02d mail", s/3600%24, s/60%60, s%60)
		if i%10 == 0 {
			fmt.Fprintf(&b, "%s postfix/smtpd[%d]: warning: unknown[%s]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n", stamp, 1000+i%5000, ip)
		} else {
			fmt.Fprintf(&b, "%s postfix/smtpd[%d]: %08X: client=mx%d.example.net[%s], sasl_method=PLAIN, sasl_username=user%d@example.org\n", stamp, 1000+i%5000, i, i%97, ip, i%1000)
		}
	}
	return b.Bytes()
}

// BenchmarkReadLog reads a 100,000-line log from its start (a first run).
func BenchmarkReadLog(b *testing.B) {
	data := benchLog(100_000)
	path := filepath.Join(b.TempDir(), "mail.log")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		_, st, err := ReadLog(path, nil, func([]byte) {})
		if err != nil || st.Lines != 100_000 {
			b.Fatal(st, err)
		}
	}
}

// BenchmarkReadLogGzip reads a compressed rotated file of 100,000 lines from its start.
func BenchmarkReadLogGzip(b *testing.B) {
	data := benchLog(100_000)
	dir := b.TempDir()
	path := filepath.Join(dir, "mail.log")
	writeGzip(b, path+".1.gz", data)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	// A position of the file before it was compressed, at its start.
	prev := []state.FilePos{{Path: path + ".1", Ino: 1, FPLen: fpMax, FP: fingerprint(data[:fpMax])}}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		_, st, err := ReadLog(path, prev, func([]byte) {})
		if err != nil || st.Lines != 100_000 {
			b.Fatal(st, err)
		}
	}
}

// BenchmarkReadLogNothingNew is the minute job's usual case: a rotated plain file and a
// compressed one beside the log, and nothing new since the stored positions.
func BenchmarkReadLogNothingNew(b *testing.B) {
	data := benchLog(100_000)
	dir := b.TempDir()
	path := filepath.Join(dir, "mail.log")
	writeGzip(b, path+".2.gz", data)
	if err := os.WriteFile(path+".1", data, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	pos, _, err := ReadLog(path, nil, func([]byte) {})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_, st, err := ReadLog(path, pos, func([]byte) {})
		if err != nil || st.Lines != 0 {
			b.Fatal(st, err)
		}
	}
}
