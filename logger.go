package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Log levels, most severe first, named as fail2ban names them.
const (
	levelError = iota
	levelWarning
	levelNotice
	levelInfo
	levelDebug
)

var levelNames = []string{"ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"}

func parseLevel(s string) (int, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) || (i == levelWarning && strings.EqualFold(s, "warn")) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("--log-level: want error, warning, notice, info or debug, got %q", s)
}

// logger writes lines in fail2ban.log's shape, so existing log tooling keeps working:
// "2026-08-15 22:34:53,085 fail2ban-scan.filter [950]: INFO    [postfix-sasl] Found 192.0.2.7 - 2026-08-15 22:34:53".
//
// With hold set (scan does, as a first run over a botnet's log logs 100,000 bans), lines are
// gathered and written 64 kB at a time rather than with one write each: a warning or an error
// and flush write them out at once, and scan flushes before it saves the state, so no Ban line
// is held back once the ban is committed.
type logger struct {
	out   []io.Writer
	level int
	pid   int
	clock func() time.Time
	hold  bool
	buf   []byte
	mu    sync.Mutex // scan logs from the goroutine that reads lines and the one that applies failures
	// stamp is the time stamp of the last line, for its millisecond (stampMS): a first run
	// logs 100,000 Ban lines within a few milliseconds, and formatting the time was half the
	// cost of a line.
	stamp   []byte
	stampMS int64
}

func newLogger(level int, w ...io.Writer) *logger {
	return &logger{out: w, level: level, pid: os.Getpid(), clock: time.Now}
}

// logf logs at level for component (filter, actions, scan, ...) and jail ("" for none).
func (l *logger) logf(level int, component, jail, format string, args ...any) {
	if level > l.level {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	if ms := now.UnixMilli(); ms != l.stampMS || l.stamp == nil {
		l.stamp, l.stampMS = now.AppendFormat(l.stamp[:0], "2006-01-02 15:04:05,000"), ms
	}
	b := append(l.buf, l.stamp...)
	b = append(b, " fail2ban-scan."...)
	b = append(b, component...)
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(l.pid), 10)
	b = append(b, "]: "...)
	b = append(b, levelNames[level]...)
	for n := len(levelNames[level]); n < 8; n++ {
		b = append(b, ' ')
	}
	if jail != "" {
		b = append(b, '[')
		b = append(b, jail...)
		b = append(b, "] "...)
	}
	b = fmt.Appendf(b, format, args...)
	l.buf = append(b, '\n')
	if !l.hold || level <= levelWarning || len(l.buf) >= 64<<10 {
		l.write()
	}
}

// flush writes the lines held.
func (l *logger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.write()
}

func (l *logger) write() {
	if len(l.buf) == 0 {
		return
	}
	for _, w := range l.out {
		w.Write(l.buf)
	}
	l.buf = l.buf[:0]
}
