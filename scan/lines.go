package scan

import (
	"bytes"
	"io"
)

// bufSize is the read buffer of one ReadLog or ReadFile call. It must hold MaxLine+1 bytes
// with room to spare, since the head of a line being cut stays in it.
const bufSize = 512 << 10

// lineReader splits what it reads into lines and hands them to fn, counting into st.
type lineReader struct {
	buf []byte
	fn  func(line []byte)
	st  *Stats
}

// newLineReader returns a lineReader; its buffer is allocated by the first read.
func newLineReader(fn func(line []byte), st *Stats) *lineReader {
	return &lineReader{fn: fn, st: st}
}

func (r *lineReader) buffer() []byte {
	if r.buf == nil {
		r.buf = make([]byte, bufSize)
	}
	return r.buf
}

// emit delivers one complete line: a '\r' before the '\n' is dropped, and a line longer
// than MaxLine is cut to MaxLine.
func (r *lineReader) emit(line []byte) {
	if k := len(line) - 1; k >= 0 && line[k] == '\r' {
		line = line[:k]
	}
	if len(line) > MaxLine {
		line = line[:MaxLine]
		r.st.LongLines++
	}
	r.st.Lines++
	r.fn(line)
}

// lines reads src to its end and delivers every line ended by '\n'. The first byte of src is
// at offset start of the (uncompressed) file. When final is set, a last line without '\n' is
// delivered too (the file cannot grow: gzip, or a whole-file read); otherwise it is left
// for next time.
//
// end is the offset just past the last line delivered: where the next read starts. reached
// is the offset up to which src was read, for error messages. err is src's error other
// than io.EOF; the lines before it have been delivered, a line cut by it has not.
//
// A line longer than MaxLine is delivered once, cut to MaxLine, when its '\n' is seen (or at
// the end of a final src); the rest of it is skipped. Until then its head is kept at
// buf[:MaxLine] and later bytes are read behind it and dropped.
func (r *lineReader) lines(src io.Reader, start int64, final bool) (end, reached int64, err error) {
	buf := r.buffer()
	n := 0        // buf[:n] holds data
	ls := 0       // start of the current line in buf
	scan := 0     // buf[ls:scan] holds no '\n'
	pos := start  // file offset of buf[n]
	end = start   // file offset just past the last line delivered
	long := false // buf[:MaxLine] is the head of an over-long line, not yet delivered
	stalls := 0   // reads in a row that returned nothing
	for {
		m, rerr := src.Read(buf[n:])
		n += m
		pos += int64(m)
		for {
			i := bytes.IndexByte(buf[scan:n], '\n')
			if i < 0 {
				break
			}
			j := scan + i
			if long {
				r.st.Lines++
				r.st.LongLines++
				r.fn(buf[:MaxLine])
				long = false
			} else {
				r.emit(buf[ls:j])
			}
			ls, scan = j+1, j+1
			end = pos - int64(n-ls)
		}
		scan = n
		if rerr != nil {
			if rerr != io.EOF {
				return end, pos, rerr
			}
			if final && (long || ls < n) {
				if long {
					r.st.Lines++
					r.st.LongLines++
					r.fn(buf[:MaxLine])
				} else {
					r.emit(buf[ls:n])
				}
				end = pos
			}
			return end, pos, nil
		}
		if m == 0 {
			if stalls++; stalls > 100 {
				return end, pos, io.ErrNoProgress
			}
		} else {
			stalls = 0
		}
		// Make room for the next read.
		switch {
		case long:
			n, scan = MaxLine, MaxLine
		case n-ls > MaxLine+1: // +1: a '\r' may still be dropped
			copy(buf, buf[ls:ls+MaxLine])
			n, ls, scan, long = MaxLine, 0, MaxLine, true
		case ls > 0:
			copy(buf, buf[ls:n])
			n -= ls
			scan -= ls
			ls = 0
		}
	}
}

// discard reads and drops the first n bytes of src, reporting how many it dropped. It
// returns io.EOF when src ends first.
func (r *lineReader) discard(src io.Reader, n int64) (int64, error) {
	buf := r.buffer()
	var done int64
	for done < n {
		k := int64(len(buf))
		if n-done < k {
			k = n - done
		}
		m, err := src.Read(buf[:k])
		done += int64(m)
		if err != nil {
			if err == io.EOF && done >= n {
				return done, nil
			}
			return done, err
		}
	}
	return done, nil
}
