package main

import (
	"fmt"
	"io"
	"os"
	"strings"
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
type logger struct {
	out   []io.Writer
	level int
	pid   int
	clock func() time.Time
}

func newLogger(level int, w ...io.Writer) *logger {
	return &logger{out: w, level: level, pid: os.Getpid(), clock: time.Now}
}

// logf logs at level for component (filter, actions, scan, ...) and jail ("" for none).
func (l *logger) logf(level int, component, jail, format string, args ...any) {
	if level > l.level {
		return
	}
	now := l.clock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s,%03d fail2ban-scan.%s [%d]: %-8s", now.Format("2006-01-02 15:04:05"), now.Nanosecond()/1e6, component, l.pid, levelNames[level])
	if jail != "" {
		fmt.Fprintf(&b, "[%s] ", jail)
	}
	fmt.Fprintf(&b, format, args...)
	b.WriteByte('\n')
	for _, w := range l.out {
		io.WriteString(w, b.String())
	}
}
