package scan

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// logRig drives successive ReadLog runs over a real log in a temporary directory and
// records what was written (want) and what was delivered (got).
type logRig struct {
	t     *testing.T
	path  string
	pos   []state.FilePos
	n     int
	want  []string
	got   []string
	stats []Stats
}

func newLogRig(t *testing.T) *logRig {
	return &logRig{t: t, path: filepath.Join(t.TempDir(), "mail.log")}
}

// line returns the next unique log line.
func (h *logRig) line() string {
	h.n++
	return fmt.Sprintf("Aug 15 22:%02d:%02d mail postfix/smtpd[%d]: warning: unknown[192.0.2.%d]: SASL LOGIN authentication failed: line %06d",
		h.n/60%60, h.n%60, 1000+h.n, h.n%250, h.n)
}

func (h *logRig) appendFile(name string, data []byte) {
	h.t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		h.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		h.t.Fatal(err)
	}
}

// write appends k new lines to the file path+suffix; they are expected to be delivered.
func (h *logRig) write(suffix string, k int) {
	h.t.Helper()
	var b bytes.Buffer
	for range k {
		l := h.line()
		h.want = append(h.want, l)
		b.WriteString(l + "\n")
	}
	h.appendFile(h.path+suffix, b.Bytes())
}

// writeLost appends k new lines that the test does not expect to be delivered.
func (h *logRig) writeLost(suffix string, k int) {
	h.t.Helper()
	var b bytes.Buffer
	for range k {
		b.WriteString(h.line() + "\n")
	}
	h.appendFile(h.path+suffix, b.Bytes())
}

// raw appends bytes as they are; expect says which lines they make.
func (h *logRig) raw(suffix, s string) {
	h.t.Helper()
	h.appendFile(h.path+suffix, []byte(s))
}

func (h *logRig) expect(lines ...string) { h.want = append(h.want, lines...) }

func (h *logRig) rename(from, to string) {
	h.t.Helper()
	if err := os.Rename(h.path+from, h.path+to); err != nil {
		h.t.Fatal(err)
	}
}

func (h *logRig) remove(suffix string) {
	h.t.Helper()
	if err := os.Remove(h.path + suffix); err != nil {
		h.t.Fatal(err)
	}
}

func (h *logRig) touch(suffix string) { h.t.Helper(); h.appendFile(h.path+suffix, nil) }

// gzip compresses path+from into path+to and removes path+from, as gzip(1) does.
func (h *logRig) gzip(from, to string) {
	h.t.Helper()
	data, err := os.ReadFile(h.path + from)
	if err != nil {
		h.t.Fatal(err)
	}
	writeGzip(h.t, h.path+to, data)
	h.remove(from)
}

func writeGzip(t testing.TB, name string, data []byte) {
	t.Helper()
	var b bytes.Buffer
	zw := stdgzip.NewWriter(&b)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copytruncate copies path to path+to and truncates path, as logrotate's copytruncate does.
func (h *logRig) copytruncate(to string) {
	h.t.Helper()
	data, err := os.ReadFile(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.path+to, data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Truncate(h.path, 0); err != nil {
		h.t.Fatal(err)
	}
}

// runErr is one minute's run: ReadLog from the stored positions, which it then replaces.
func (h *logRig) runErr() (Stats, error) {
	h.t.Helper()
	next, st, err := ReadLog(h.path, h.pos, func(line []byte) { h.got = append(h.got, string(line)) })
	checkMonotonic(h.t, h.pos, next)
	if len(next) > maxPositions {
		h.t.Errorf("%d positions stored, want at most %d", len(next), maxPositions)
	}
	h.pos = next
	h.stats = append(h.stats, st)
	return st, err
}

func (h *logRig) run() Stats {
	h.t.Helper()
	st, err := h.runErr()
	if err != nil {
		h.t.Fatalf("ReadLog: %v", err)
	}
	if st.Gap {
		h.t.Errorf("ReadLog reported a gap")
	}
	return st
}

// check asserts that everything written was delivered once, in order.
func (h *logRig) check() {
	h.t.Helper()
	if slices.Equal(h.got, h.want) {
		return
	}
	h.t.Errorf("delivered %d lines, want %d", len(h.got), len(h.want))
	for i := 0; i < max(len(h.got), len(h.want)); i++ {
		var g, w string
		if i < len(h.got) {
			g = h.got[i]
		}
		if i < len(h.want) {
			w = h.want[i]
		}
		if g != w {
			h.t.Errorf("first difference at line %d:\n got %.120q\nwant %.120q", i, g, w)
			break
		}
	}
}

// checkMonotonic asserts that a position for the same file (same fingerprint over the
// shorter of the two lengths) never moves backwards, except for a copy shorter than what
// was read (ReadLog's documented exception, not exercised here).
func checkMonotonic(t testing.TB, prev, next []state.FilePos) {
	t.Helper()
	for _, n := range next {
		for _, p := range prev {
			if p.FPLen == 0 || n.FPLen < p.FPLen || n.Dev != p.Dev || n.Ino != p.Ino {
				continue
			}
			if p.FPLen == n.FPLen && p.FP == n.FP && n.Offset < p.Offset {
				t.Errorf("offset of %s went back from %d to %d", n.Path, p.Offset, n.Offset)
			}
		}
	}
}

func TestReadLogRotation(t *testing.T) {
	long := strings.Repeat("x", 3*MaxLine)
	tests := []struct {
		name  string
		steps func(h *logRig)
	}{
		{"append only", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.run()
			h.write("", 2)
			h.run()
		}},
		{"first run reads only the current file", func(h *logRig) {
			h.writeLost("", 3)
			h.rename("", ".1")
			h.write("", 2)
			h.run()
			h.write("", 1)
			h.run()
		}},
		{"empty file first", func(h *logRig) {
			h.touch("")
			h.run()
			h.write("", 2)
			h.run()
		}},
		{"rename rotation", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 2)
			h.rename("", ".1")
			h.write("", 2)
			h.run()
			h.write("", 1)
			h.run()
		}},
		{"rename rotation of an empty file", func(h *logRig) {
			h.touch("")
			h.run()
			h.rename("", ".1")
			h.write("", 2)
			h.run()
		}},
		{"rename rotation, new file empty at the run", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", ".1")
			h.touch("")
			h.run()
			h.write("", 2)
			h.run()
		}},
		{"copytruncate", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 2)
			h.copytruncate(".1")
			h.write("", 2)
			h.run()
			h.write("", 1)
			h.run()
		}},
		{"copytruncate, new file empty at the run", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 2)
			h.copytruncate(".1")
			h.run()
			h.write("", 1)
			h.run()
		}},
		{"copytruncate, new file longer than the old offset", func(h *logRig) {
			h.write("", 1)
			h.run()
			h.copytruncate(".1")
			h.write("", 5)
			h.run()
		}},
		{"copytruncate then compression", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.copytruncate(".1")
			h.write("", 2)
			h.run()
			h.write("", 1)
			h.gzip(".1", ".2.gz")
			h.copytruncate(".1")
			h.write("", 2)
			h.run()
		}},
		{"copytruncate of a file empty at the last run", func(h *logRig) {
			h.write("", 2)
			h.run()
			h.copytruncate(".1")
			h.run()
			h.write("", 2)
			h.rename(".1", ".2")
			h.copytruncate(".1")
			h.write("", 1)
			h.run()
		}},
		{"copytruncate of a file empty at the first run, compressed", func(h *logRig) {
			h.touch("")
			h.run()
			h.write("", 2)
			h.copytruncate(".1")
			h.gzip(".1", ".1.gz")
			h.write("", 1)
			h.run()
		}},
		{"rename of a file empty at the last run, late writes", func(h *logRig) {
			h.touch("")
			h.run()
			h.rename("", ".1")
			h.touch("")
			h.run()
			h.write(".1", 2)
			h.write("", 1)
			h.run()
			h.write(".1", 1)
			h.run()
		}},
		{"immediate compression", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 2)
			h.rename("", ".1")
			h.gzip(".1", ".1.gz")
			h.write("", 2)
			h.run()
			h.rename(".1.gz", ".2.gz")
			h.rename("", ".1")
			h.gzip(".1", ".1.gz")
			h.write("", 1)
			h.run()
		}},
		{"immediate compression of a fully read file", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.rename("", ".1")
			h.gzip(".1", ".1.gz")
			h.write("", 2)
			h.run()
			h.run()
		}},
		{"delaycompress", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", ".1")
			h.write("", 2)
			h.run()
			h.write("", 1)
			h.gzip(".1", ".2.gz")
			h.rename("", ".1")
			h.write("", 2)
			h.run()
			h.write("", 1)
			h.rename(".2.gz", ".3.gz")
			h.gzip(".1", ".2.gz")
			h.rename("", ".1")
			h.write("", 2)
			h.run()
		}},
		{"date suffix", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", "-20260815")
			h.write("", 2)
			h.run()
			h.write("-20260815", 1) // late write
			h.write("", 1)
			h.rename("", "-20260816")
			h.write("", 2)
			h.run()
		}},
		{"date suffix compressed", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", "-20260815")
			h.gzip("-20260815", "-20260815.gz")
			h.write("", 2)
			h.run()
			h.write("", 1)
			h.rename("", "-20260816")
			h.gzip("-20260816", "-20260816.gz")
			h.write("", 2)
			h.run()
		}},
		{"date suffix with delaycompress", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", "-20260815")
			h.write("", 2)
			h.run()
			h.write("", 1)
			h.gzip("-20260815", "-20260815.gz")
			h.rename("", "-20260816")
			h.write("", 2)
			h.run()
		}},
		{"hourly date suffix", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", "-2026081522")
			h.gzip("-2026081522", "-2026081522.gz")
			h.write("", 1)
			h.rename("", "-2026081523")
			h.gzip("-2026081523", "-2026081523.gz")
			h.write("", 2)
			h.run()
		}},
		{"late writes to the renamed file", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", ".1")
			h.write(".1", 2)
			h.write("", 2)
			h.run()
			h.write(".1", 1)
			h.run()
			h.write(".1", 1)
			h.write("", 1)
			h.run()
		}},
		{"late writes, then compressed at the next rotation", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.rename("", ".1")
			h.write("", 1)
			h.run()
			h.write(".1", 2)
			h.gzip(".1", ".2.gz")
			h.rename("", ".1")
			h.write("", 1)
			h.run()
		}},
		{"late writes, then compressed immediately", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", ".1")
			h.write(".1", 2)
			h.gzip(".1", ".1.gz")
			h.write("", 1)
			h.run()
		}},
		{"two rotations between runs", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", ".1")
			h.write("", 2)
			h.rename(".1", ".2")
			h.rename("", ".1")
			h.write("", 2)
			h.run()
		}},
		{"two rotations between runs, compressed", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", ".1")
			h.gzip(".1", ".1.gz")
			h.write("", 2)
			h.rename(".1.gz", ".2.gz")
			h.rename("", ".1")
			h.gzip(".1", ".1.gz")
			h.write("", 2)
			h.run()
		}},
		{"two rotations between runs, delaycompress", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.rename("", ".1")
			h.write("", 2)
			h.gzip(".1", ".2.gz")
			h.rename("", ".1")
			h.write("", 2)
			h.run()
		}},
		{"oldest rotated files deleted", func(h *logRig) {
			for range 6 {
				h.write("", 2)
				h.run()
				h.write("", 1)
				if _, err := os.Stat(h.path + ".3.gz"); err == nil {
					h.remove(".3.gz")
				}
				if _, err := os.Stat(h.path + ".2.gz"); err == nil {
					h.rename(".2.gz", ".3.gz")
				}
				if _, err := os.Stat(h.path + ".1"); err == nil {
					h.gzip(".1", ".2.gz")
				}
				h.rename("", ".1")
			}
			h.write("", 1)
			h.run()
		}},
		{"many plain rotations keep few positions", func(h *logRig) {
			for i := range 20 {
				h.write("", 2)
				h.run()
				h.write("", 1)
				for k := i; k >= 1; k-- {
					h.rename(fmt.Sprintf(".%d", k), fmt.Sprintf(".%d", k+1))
				}
				h.rename("", ".1")
			}
			h.write("", 1)
			h.run()
		}},
		{"partial last line completed later", func(h *logRig) {
			h.write("", 2)
			h.raw("", "Aug 15 22:34:53 mail postfix/smtpd[1]: half")
			h.run()
			h.raw("", " and the rest\n")
			h.expect("Aug 15 22:34:53 mail postfix/smtpd[1]: half and the rest")
			h.run()
		}},
		{"partial last line completed after rename", func(h *logRig) {
			h.write("", 2)
			h.raw("", "partial")
			h.run()
			h.rename("", ".1")
			h.raw(".1", " line\n")
			h.expect("partial line")
			h.write("", 1)
			h.run()
		}},
		{"partial last line of a gzip file is delivered", func(h *logRig) {
			h.write("", 2)
			h.raw("", "no newline at the end")
			h.run()
			h.rename("", ".1")
			h.gzip(".1", ".1.gz")
			h.expect("no newline at the end")
			h.write("", 1)
			h.run()
		}},
		{"long lines", func(h *logRig) {
			h.write("", 1)
			h.raw("", long+"\n")
			h.expect(long[:MaxLine])
			h.raw("", long[:MaxLine]+"\n")
			h.expect(long[:MaxLine])
			h.raw("", long[:MaxLine]+"\r\n")
			h.expect(long[:MaxLine])
			h.raw("", long[:MaxLine+1]+"\n")
			h.expect(long[:MaxLine])
			h.write("", 1)
			h.run()
			if st := h.stats[len(h.stats)-1]; st.LongLines != 2 {
				h.t.Errorf("LongLines = %d, want 2", st.LongLines)
			}
		}},
		{"long line written across runs", func(h *logRig) {
			h.write("", 1)
			h.raw("", long[:MaxLine/2])
			h.run()
			h.raw("", long[:2*MaxLine])
			h.run()
			h.raw("", "end\n")
			h.expect(long[:MaxLine])
			h.write("", 1)
			h.run()
		}},
		{"long line at the end of a gzip file", func(h *logRig) {
			h.write("", 1)
			h.run()
			h.raw("", long)
			h.run()
			h.rename("", ".1")
			h.gzip(".1", ".1.gz")
			h.expect(long[:MaxLine])
			h.write("", 1)
			h.run()
		}},
		{"very long line over several buffers", func(h *logRig) {
			h.write("", 1)
			h.run()
			h.raw("", strings.Repeat("y", 3*bufSize+17)+"\n")
			h.expect(strings.Repeat("y", MaxLine))
			h.write("", 1)
			h.run()
		}},
		{"NUL bytes, invalid UTF-8, CR", func(h *logRig) {
			h.raw("", "a\x00b\n\xff\xfe\xc3\x28\n\r\n\n\x1f\x8b\x08 gzip magic inside\nwin\r\n")
			h.expect("a\x00b", "\xff\xfe\xc3\x28", "", "", "\x1f\x8b\x08 gzip magic inside", "win")
			h.run()
			h.rename("", ".1")
			h.gzip(".1", ".1.gz")
			h.raw("", "\x00\x00\n")
			h.expect("\x00\x00")
			h.run()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newLogRig(t)
			tt.steps(h)
			h.run() // nothing new: nothing delivered
			h.check()
		})
	}
}

// TestReadLogGap: the files of the stored positions are gone before the run. Everything
// there is is read once, and the gap is reported.
func TestReadLogGap(t *testing.T) {
	tests := []struct {
		name  string
		steps func(h *logRig)
	}{
		{"rotated away and deleted", func(h *logRig) {
			h.write("", 3)
			h.run()
			h.writeLost("", 2)
			h.rename("", ".1")
			h.write(".2", 1)
			h.write("", 2)
			h.remove(".1")
		}},
		{"copytruncate with rotate 1", func(h *logRig) {
			h.write("", 2)
			h.run()
			h.copytruncate(".1")
			h.run()
			h.write("", 2)
			h.copytruncate(".1") // overwrites the copy that was known
			h.write("", 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newLogRig(t)
			tt.steps(h)
			st, err := h.runErr()
			if err != nil {
				t.Fatal(err)
			}
			if !st.Gap {
				t.Errorf("Gap not reported")
			}
			h.write("", 1)
			h.run()
			h.check()
		})
	}
}

func TestReadLogMissing(t *testing.T) {
	h := newLogRig(t)
	_, err := h.runErr()
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), h.path) {
		t.Fatalf("first run without the file: error %v, want ErrNotExist naming %s", err, h.path)
	}
	h.write("", 2)
	h.run()
	// Renamed and not yet recreated: the late lines of the renamed file are still read.
	h.rename("", ".1")
	h.write(".1", 2)
	_, err = h.runErr()
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want ErrNotExist", err)
	}
	h.gzip(".1", ".1.gz")
	if _, err = h.runErr(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want ErrNotExist", err)
	}
	if _, err = h.runErr(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v, want ErrNotExist", err)
	}
	h.write("", 2)
	h.run()
	h.run()
	h.check()
}

// TestReadLogCompressionInProgress: P.1 and the P.1.gz being written from it both exist.
func TestReadLogCompressionInProgress(t *testing.T) {
	for _, oldest := range []bool{false, true} {
		t.Run(fmt.Sprintf("older files matched %v", oldest), func(t *testing.T) {
			h := newLogRig(t)
			if oldest {
				// An older matched file, so that P.1.gz is not older than every match.
				h.write("", 2)
				h.run()
				h.rename("", ".2")
			}
			h.write("", 3)
			h.run()
			h.write("", 200)
			h.rename("", ".1")
			data, err := os.ReadFile(h.path + ".1")
			if err != nil {
				t.Fatal(err)
			}
			writeGzip(t, h.path+".1.gz", data)
			full, _ := os.ReadFile(h.path + ".1.gz")
			if err := os.WriteFile(h.path+".1.gz", full[:len(full)/2], 0o644); err != nil {
				t.Fatal(err)
			}
			h.write("", 2)
			h.run()
			writeGzip(t, h.path+".1.gz", data)
			h.remove(".1")
			h.write("", 1)
			h.run()
			h.check()
		})
	}
}

// TestReadLogCopyShorter: a copytruncate raced with the last run, which read a line that the
// copy never got (lost to copytruncate). Nothing may be read twice.
func TestReadLogCopyShorter(t *testing.T) {
	h := newLogRig(t)
	h.write("", 20) // the fingerprint covers fewer bytes than the copy has
	h.run()
	copied, err := os.ReadFile(h.path)
	if err != nil {
		t.Fatal(err)
	}
	h.write("", 1) // read by the next run, but not in the copy
	h.run()
	if err := os.WriteFile(h.path+".1", copied, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(h.path, 0); err != nil {
		t.Fatal(err)
	}
	h.write("", 2)
	h.run()
	h.gzip(".1", ".2.gz")
	h.copytruncate(".1")
	h.write("", 1)
	h.run()
	h.check()
}

func TestReadLogCorruptGzip(t *testing.T) {
	h := newLogRig(t)
	h.write("", 3)
	h.run()
	h.rename("", ".1")
	var b bytes.Buffer
	for range 5000 {
		l := h.line()
		h.want = append(h.want, l) // only a prefix will come; fixed below
		b.WriteString(l + "\n")
	}
	h.appendFile(h.path+".1", b.Bytes())
	h.gzip(".1", ".1.gz")
	full, err := os.ReadFile(h.path + ".1.gz")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.path+".1.gz", full[:len(full)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	h.write("", 2)
	newer := h.want[len(h.want)-2:]
	_, err = h.runErr()
	if err == nil {
		t.Fatal("no error for a truncated gzip file")
	}
	if want := "read " + h.path + ".1.gz at offset "; !strings.Contains(err.Error(), want) || !strings.HasSuffix(err.Error(), "unexpected EOF") {
		t.Errorf("error %q, want %q... unexpected EOF", err, want)
	}
	// What decompressed cleanly is a prefix of the compressed lines; the newer file follows.
	k := len(h.got) - 3 - 2
	if k < 100 || k >= 5000 {
		t.Fatalf("delivered %d lines of the truncated gzip file", k)
	}
	if !slices.Equal(h.got[len(h.got)-2:], newer) {
		t.Errorf("newer file not read after the corrupt one")
	}
	h.want = append(h.want[:3+k], newer...)
	// The corrupt file is finished: the next runs neither repeat it nor fail again.
	h.run()
	h.write("", 1)
	h.run()
	h.check()
}

func TestReadLogErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(h *logRig)
		wantErr string
	}{
		{"directory", func(h *logRig) { os.Mkdir(h.path, 0o755) }, "not a regular file"},
		{"not gzip after the magic", func(h *logRig) {
			h.write("", 1)
			h.run()
			h.rename("", ".2")
			h.raw(".1.gz", "\x1f\x8bgarbage, not deflate")
			h.write("", 1)
		}, "read %s.1.gz at offset 0: gzip: invalid header"},
		{"unreadable rotated file", func(h *logRig) {
			if os.Geteuid() == 0 {
				h.t.Skip("root reads any file")
			}
			h.write("", 1)
			h.run()
			h.rename("", ".1")
			h.write("", 1)
			os.Chmod(h.path+".1", 0)
		}, "open %s.1: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newLogRig(t)
			tt.setup(h)
			_, err := h.runErr()
			want := tt.wantErr
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, h.path)
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.log")
	content := "one\ntwo\r\n\x00three\nlast without newline"
	if err := os.WriteFile(plain, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "compressed.log.1") // gzip known by its bytes, not its name
	writeGzip(t, gz, []byte(content))
	want := []string{"one", "two", "\x00three", "last without newline"}
	for _, name := range []string{plain, gz} {
		var got []string
		st, err := ReadFile(name, func(l []byte) { got = append(got, string(l)) })
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
		if st.Lines != 4 || st.Bytes != int64(len(content)) {
			t.Errorf("%s: stats %+v", name, st)
		}
	}
	_, err := ReadFile(filepath.Join(dir, "nope"), func([]byte) {})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing file: error %v", err)
	}
}

func TestLinesReader(t *testing.T) {
	// Tiny reads exercise every buffer boundary.
	content := "a\nbb\r\n" + strings.Repeat("z", MaxLine+5) + "\n\nend"
	for _, final := range []bool{false, true} {
		var got []string
		var st Stats
		r := newLineReader(func(l []byte) { got = append(got, string(l)) }, &st)
		end, reached, err := r.lines(iotestOneByte{strings.NewReader(content)}, 10, final)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"a", "bb", strings.Repeat("z", MaxLine), ""}
		wantEnd := int64(10 + len(content) - 3)
		if final {
			want = append(want, "end")
			wantEnd += 3
		}
		if !slices.Equal(got, want) || end != wantEnd || reached != int64(10+len(content)) || st.LongLines != 1 {
			t.Errorf("final %v: got %d lines, end %d reached %d long %d; want %d lines, end %d", final, len(got), end, reached, st.LongLines, len(want), wantEnd)
		}
	}
}

type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}
