package scan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// JournalQuery says which journal to read.
type JournalQuery struct {
	// Directory is journal_directory: a directory (journalctl --directory) or a journal file,
	// globs allowed (journalctl --file, which expands the glob itself); "" = the system journal.
	// A path without glob characters that does not exist is an error, not an empty journal, so
	// that a typo does not silently read nothing; a glob that matches no file is journalctl's
	// error ("Failed to open files").
	Directory string
	// Matches are journalmatch terms passed to journalctl as they are, e.g.
	// "_SYSTEMD_UNIT=postfix.service", "+" for OR; a term whose value has glob characters
	// ("_SYSTEMD_UNIT=postfix@*.service", path.Match syntax) is first expanded into the exact
	// terms of the values it matches (see expandMatches), at the cost of one more journalctl
	// process per field with globs.
	Matches []string
	// Since is where to start when there is no cursor or it is stale (now - findtime, computed by
	// the caller). The zero time reads the whole journal. It does not apply after a valid
	// cursor: every entry after it is delivered, however old.
	Since time.Time
	// Journalctl is the path of journalctl; "" = "journalctl" from PATH.
	Journalctl string
}

// journalTimeLayout is RFC 3339 with microseconds and a numeric offset (+00:00, never Z).
const journalTimeLayout = "2006-01-02T15:04:05.000000-07:00"

// maxStderr bounds how much of journalctl's stderr is kept for an error message.
const maxStderr = 8 << 10

// ReadJournal delivers each journal entry after cursor as one line to fn (the slice is valid
// only during the call) and returns the cursor of the last entry delivered, with the number of
// entries delivered. An empty cursor starts at q.Since. A run with nothing new returns cursor
// unchanged.
//
// Lines have the shape of RFC 3339 syslog lines, so the filters written for log files apply:
//
//	2026-08-15T22:34:53.085123+00:00 mail postfix/smtpd[950]: warning: ...
//
// The time is __REALTIME_TIMESTAMP in the local time zone; then _HOSTNAME ("-" when absent),
// SYSLOG_IDENTIFIER (else _COMM, else "-"), "[_PID]" (else SYSLOG_PID, else left out) and
// MESSAGE; blanks inside the host name and the identifier become "_", so the fields stay put. Values journalctl gives as byte arrays (not UTF-8) are decoded; a field with several
// values gives its last one, as journalctl -o short shows it. Trailing newlines of MESSAGE are
// dropped and any other CR or LF becomes a space, so one entry is always one line.
//
// stale reports that the journal no longer holds the cursor's entry (vacuumed, a journal
// recreated, a cursor of another machine or journal, matches changed so that the entry no
// longer matches, or a string that is no cursor at all): reading then starts at q.Since, and
// next is "" when nothing was found from there. journalctl is run with --cursor, which seeks to
// the stored entry itself; the first entry it returns must be that entry (same s, i, b, m, t and
// x fields), which is then skipped. Anything else is a stale cursor. (--after-cursor cannot be
// trusted here: journalctl 252 seeks to the nearest entry when the cursor's entry is gone and
// then skips one more, silently losing an entry.) The seek is a bisection, so the cost of a run
// grows with the number of new entries, not with the size of the journal.
//
// Glob terms of q.Matches are expanded first (expandMatches); when the matches can match no
// entry (a glob matching no value), journalctl does not read and cursor is returned unchanged.
//
// A failure to run journalctl, or journalctl failing, is an error naming the command line and
// holding journalctl's stderr; next and n then describe what was delivered before it.
func ReadJournal(ctx context.Context, q JournalQuery, cursor string, fn func(line []byte)) (next string, n int64, stale bool, err error) {
	source, err := journalSource(q)
	if err != nil {
		return cursor, 0, false, err
	}
	jc := q.Journalctl
	if jc == "" {
		jc = "journalctl"
	}
	matches, none, err := expandMatches(ctx, jc, source, q.Matches)
	if err != nil || none {
		return cursor, 0, false, err
	}
	q.Matches = matches
	base := append([]string{jc, "--output=json", "--all", "--no-pager"}, source...)
	base = base[:len(base):len(base)]
	if cursor != "" {
		if _, ok := parseCursor(cursor); ok {
			r := journalRun(ctx, append(base, "--cursor="+cursor), cursor, q.Matches, fn)
			if r.found {
				if r.next == "" {
					r.next = cursor
				}
				return r.next, r.n, false, r.err
			}
			if r.err != nil && !r.seekFailed {
				return cursor, 0, false, r.err
			}
		}
		stale = true
	}
	args := base
	if !q.Since.IsZero() && q.Since.Unix() >= 0 {
		us := q.Since.UnixMicro()
		args = append(args, fmt.Sprintf("--since=@%d.%06d", us/1e6, us%1e6))
	}
	r := journalRun(ctx, args, "", q.Matches, fn)
	if r.next == "" && !stale {
		r.next = cursor
	}
	return r.next, r.n, stale, r.err
}

// journalSource returns the journalctl options that select q.Directory's journal.
func journalSource(q JournalQuery) ([]string, error) {
	d := q.Directory
	switch {
	case d == "":
		return nil, nil
	case strings.ContainsAny(d, "*?["):
		return []string{"--file=" + d}, nil
	}
	st, err := os.Stat(d)
	if err != nil {
		return nil, fmt.Errorf("journal directory: %w", err)
	}
	if st.IsDir() {
		return []string{"--directory=" + d}, nil
	}
	return []string{"--file=" + d}, nil
}

// runResult is what one journalctl run delivered.
type runResult struct {
	next       string // cursor of the last entry delivered, "" for none
	n          int64  // entries delivered
	found      bool   // the first entry was the expected one
	seekFailed bool   // journalctl rejected the cursor
	err        error
}

// journalRun runs journalctl with argv, then "--" and the matches, and delivers the entries.
// When expect is not "", the first entry must have that cursor and is not delivered; when it
// has another, journalctl is stopped and nothing is delivered.
func journalRun(ctx context.Context, argv []string, expect string, matches []string, fn func([]byte)) (r runResult) {
	if len(matches) > 0 {
		argv = append(append(argv[:len(argv):len(argv)], "--"), matches...)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 5 * time.Second
	stderr := &headBuffer{max: maxStderr}
	cmd.Stderr = stderr
	wrap := func(err error) error {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return fmt.Errorf("run %s: %w", commandLine(argv), err)
		}
		return fmt.Errorf("run %s: %w: %s", commandLine(argv), err, msg)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.err = wrap(err)
		return r
	}
	if err := cmd.Start(); err != nil {
		r.err = wrap(err)
		return r
	}

	dec := json.NewDecoder(bufio.NewReaderSize(stdout, 64<<10))
	var (
		line     []byte
		readErr  error
		first    = expect != ""
		mismatch bool // the first entry was not the expected one; journalctl is stopped
	)
	for {
		var e journalEntry
		if err := dec.Decode(&e); err != nil {
			if err != io.EOF {
				readErr = fmt.Errorf("decode output: %w", err)
			}
			break
		}
		if first {
			first = false
			if sameCursor(e.Cursor, expect) {
				r.found = true
				continue
			}
			mismatch = true
			break
		}
		if err := ctx.Err(); err != nil {
			readErr = err
			break
		}
		line, err = e.appendLine(line[:0], time.Local)
		if err != nil {
			readErr = err
			break
		}
		fn(line)
		r.n++
		r.next = e.Cursor
	}
	if mismatch || readErr != nil {
		cancel()
	}
	waitErr := cmd.Wait()
	switch {
	case mismatch:
		// Stopped on purpose: journalctl's exit status says nothing.
	case readErr != nil:
		// A journalctl that failed by itself explains the bad output better.
		if ps := cmd.ProcessState; ps != nil && ps.Exited() && !ps.Success() {
			r.err = wrap(waitErr)
		} else {
			r.err = wrap(readErr)
		}
	case ctx.Err() != nil && waitErr != nil:
		r.err = wrap(ctx.Err())
	case waitErr != nil:
		r.err = wrap(waitErr)
		// systemd 252 prints "Failed to seek to cursor: Invalid argument" for a cursor it
		// cannot parse.
		r.seekFailed = expect != "" && !r.found && strings.Contains(stderr.String(), "Failed to seek to cursor")
	}
	return r
}

// journalEntry holds the fields of journalctl -o json that make a line. Field names in the
// journal are upper case, so encoding/json's case-insensitive matching cannot mix them up.
type journalEntry struct {
	Cursor     string          `json:"__CURSOR"`
	Realtime   json.RawMessage `json:"__REALTIME_TIMESTAMP"`
	Hostname   json.RawMessage `json:"_HOSTNAME"`
	Identifier json.RawMessage `json:"SYSLOG_IDENTIFIER"`
	Comm       json.RawMessage `json:"_COMM"`
	PID        json.RawMessage `json:"_PID"`
	SyslogPID  json.RawMessage `json:"SYSLOG_PID"`
	Message    json.RawMessage `json:"MESSAGE"`
}

// appendLine appends the entry as one syslog-shaped line, without a newline, its time in loc.
func (e *journalEntry) appendLine(b []byte, loc *time.Location) ([]byte, error) {
	rt, err := fieldValue(e.Realtime)
	if err != nil {
		return b, fmt.Errorf("entry %s: __REALTIME_TIMESTAMP: %w", e.Cursor, err)
	}
	us, err := strconv.ParseInt(string(rt), 10, 64)
	if err != nil {
		return b, fmt.Errorf("entry %s: __REALTIME_TIMESTAMP: %w", e.Cursor, err)
	}
	b = time.UnixMicro(us).In(loc).AppendFormat(b, journalTimeLayout)
	b = append(b, ' ')

	host, err := firstField(e.Hostname)
	if err != nil {
		return b, fmt.Errorf("entry %s: _HOSTNAME: %w", e.Cursor, err)
	}
	b = appendWord(b, host)
	b = append(b, ' ')

	ident, err := firstField(e.Identifier, e.Comm)
	if err != nil {
		return b, fmt.Errorf("entry %s: SYSLOG_IDENTIFIER: %w", e.Cursor, err)
	}
	b = appendWord(b, ident)
	pid, err := firstField(e.PID, e.SyslogPID)
	if err != nil {
		return b, fmt.Errorf("entry %s: _PID: %w", e.Cursor, err)
	}
	if len(pid) > 0 {
		b = append(b, '[')
		b = appendOneLine(b, pid)
		b = append(b, ']')
	}
	b = append(b, ": "...)

	msg, err := fieldValue(e.Message)
	if err != nil {
		return b, fmt.Errorf("entry %s: MESSAGE: %w", e.Cursor, err)
	}
	return appendOneLine(b, bytes.TrimRight(msg, "\r\n")), nil
}

// firstField returns the value of the first of the fields that is present and not empty.
func firstField(raws ...json.RawMessage) ([]byte, error) {
	for _, raw := range raws {
		v, err := fieldValue(raw)
		if err != nil {
			return nil, err
		}
		if len(v) > 0 {
			return v, nil
		}
	}
	return nil, nil
}

// appendWord appends v as one field of the line: "-" when empty, spaces for CR, LF, space.
func appendWord(b, v []byte) []byte {
	if len(v) == 0 {
		return append(b, '-')
	}
	start := len(b)
	b = appendOneLine(b, v)
	for i := start; i < len(b); i++ {
		if b[i] == ' ' || b[i] == '\t' {
			b[i] = '_'
		}
	}
	return b
}

// appendOneLine appends v with CR and LF replaced by spaces.
func appendOneLine(b, v []byte) []byte {
	start := len(b)
	b = append(b, v...)
	for i := start; i < len(b); i++ {
		if b[i] == '\n' || b[i] == '\r' {
			b[i] = ' '
		}
	}
	return b
}

// fieldValue decodes a field as journalctl -o json prints it: absent or null (nil), a string,
// an array of numbers (the bytes of a value that is not printable UTF-8), or, for a field that
// occurs several times in the entry, an array of such values, of which the last is returned.
func fieldValue(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		if len(elems) == 0 {
			return []byte{}, nil
		}
		if c := bytes.TrimSpace(elems[0]); len(c) > 0 && (c[0] == '"' || c[0] == '[' || c[0] == 'n') {
			// Several values.
			return fieldValue(elems[len(elems)-1])
		}
		v := make([]byte, len(elems))
		for i, el := range elems {
			x, err := strconv.ParseUint(string(bytes.TrimSpace(el)), 10, 8)
			if err != nil {
				return nil, fmt.Errorf("byte array: %w", err)
			}
			v[i] = byte(x)
		}
		return v, nil
	}
	return nil, fmt.Errorf("unexpected JSON value %.40q", raw)
}

// cursorKeys are the fields of a journal cursor as sd_journal_get_cursor writes them:
// s=seqnum_id;i=seqnum;b=boot_id;m=monotonic;t=realtime;x=xor_hash, all hexadecimal.
var cursorKeys = [...]string{"s", "i", "b", "m", "t", "x"}

// parseCursor splits a cursor into its fields; ok is false unless every field of cursorKeys
// is there once with a hexadecimal value.
func parseCursor(c string) (f map[string]string, ok bool) {
	f = make(map[string]string, len(cursorKeys))
	for _, kv := range strings.Split(c, ";") {
		k, v, found := strings.Cut(kv, "=")
		if !found || v == "" || !isHex(v) {
			return nil, false
		}
		if _, dup := f[k]; dup {
			return nil, false
		}
		f[k] = strings.ToLower(v)
	}
	for _, k := range cursorKeys {
		if _, has := f[k]; !has {
			return nil, false
		}
	}
	return f, true
}

// sameCursor reports whether two cursors name the same entry.
func sameCursor(a, b string) bool {
	if a == b {
		return true
	}
	fa, ok := parseCursor(a)
	if !ok {
		return false
	}
	fb, ok := parseCursor(b)
	if !ok {
		return false
	}
	for _, k := range cursorKeys {
		if fa[k] != fb[k] {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// commandLine renders argv for an error message, quoting arguments that need it.
func commandLine(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`;&|<>*?[") {
			a = strconv.Quote(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

// headBuffer keeps the first max bytes written to it and discards the rest.
type headBuffer struct {
	max int
	buf bytes.Buffer
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (h *headBuffer) String() string { return h.buf.String() }
