// Package journaltest writes real systemd journal files for tests, by feeding journal export
// format to systemd-journal-remote, so that tests read them with the real journalctl.
package journaltest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"
)

// RequireEnv names the environment variable that turns Require's skip into a failure (CI sets
// it to 1 where the journal tools are installed).
const RequireEnv = "FAIL2BAN_SCAN_REQUIRE_JOURNAL"

// remoteCandidates are where Debian, Fedora and Arch install systemd-journal-remote, which is
// not on PATH.
var remoteCandidates = []string{
	"/lib/systemd/systemd-journal-remote",
	"/usr/lib/systemd/systemd-journal-remote",
}

// RemotePath returns the path of systemd-journal-remote (PATH first, then the usual
// libexec locations).
func RemotePath() (string, error) {
	if p, err := exec.LookPath("systemd-journal-remote"); err == nil {
		return p, nil
	}
	for _, p := range remoteCandidates {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("systemd-journal-remote not found in PATH nor at %v (Debian: apt-get install systemd-journal-remote)", remoteCandidates)
}

// JournalctlPath returns the path of journalctl from PATH.
func JournalctlPath() (string, error) {
	p, err := exec.LookPath("journalctl")
	if err != nil {
		return "", fmt.Errorf("journalctl not found (Debian: apt-get install systemd): %w", err)
	}
	return p, nil
}

// Require skips the test when systemd-journal-remote or journalctl is missing, and fails it
// instead when the environment variable FAIL2BAN_SCAN_REQUIRE_JOURNAL is 1.
func Require(t testing.TB) {
	t.Helper()
	var missing []error
	if _, err := RemotePath(); err != nil {
		missing = append(missing, err)
	}
	if _, err := JournalctlPath(); err != nil {
		missing = append(missing, err)
	}
	if len(missing) == 0 {
		return
	}
	err := errors.Join(missing...)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("journal tools required (%s=1): %v", RequireEnv, err)
	}
	t.Skipf("skipping: journal tools missing (set %s=1 to fail instead): %v", RequireEnv, err)
}

// Entry is one journal entry. Empty string fields and a zero PID are left out of the entry.
type Entry struct {
	Realtime   time.Time // __REALTIME_TIMESTAMP, microsecond precision
	Hostname   string    // _HOSTNAME
	Identifier string    // SYSLOG_IDENTIFIER
	PID        int       // _PID
	Unit       string    // _SYSTEMD_UNIT
	Message    string    // MESSAGE; any bytes (newlines, invalid UTF-8) are written in binary form
	// Fields are further FIELD=value pairs, written in sorted order.
	Fields map[string]string
}

// Journal is a directory of journal files written by systemd-journal-remote. Entries of one
// Journal share a boot ID and get increasing monotonic timestamps, as on one machine.
type Journal struct {
	Dir string // the directory (journalctl --directory)
	// File is the name, inside Dir, of the file Append writes to; it must end in ".journal".
	// systemd-journal-remote appends to it when it exists, continuing its sequence numbers, so
	// cursors of earlier entries stay valid. Change it to start another file.
	File   string
	BootID string // 32 hex digits
	mono   uint64
}

// New returns a Journal in a fresh temporary directory of t, writing to "system.journal".
func New(t testing.TB) *Journal {
	t.Helper()
	j, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// Open returns a Journal writing into dir (created when missing) with a random boot ID.
func Open(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create journal directory: %w", err)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("random boot id: %w", err)
	}
	return &Journal{Dir: dir, File: "system.journal", BootID: hex.EncodeToString(b[:])}, nil
}

// Path returns the path of the file Append writes to.
func (j *Journal) Path() string { return filepath.Join(j.Dir, j.File) }

// Append writes entries to the journal file and fails t on error.
func (j *Journal) Append(t testing.TB, entries ...Entry) {
	t.Helper()
	err := j.Write(context.Background(), func(emit func(Entry) error) error {
		for _, e := range entries {
			if err := emit(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Write runs systemd-journal-remote once and streams to it, in export format, every entry gen
// emits; it returns when the journal file is complete. Use it for large journals.
func (j *Journal) Write(ctx context.Context, gen func(emit func(Entry) error) error) error {
	remote, err := RemotePath()
	if err != nil {
		return err
	}
	out := j.Path()
	argv := []string{remote, "--split-mode=none", "--output=" + out, "-"}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("run %s: %w", argv, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", argv, err)
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	ew := &ExportWriter{W: w, BootID: j.BootID, Monotonic: j.mono}
	genErr := gen(ew.Write)
	if genErr == nil {
		genErr = w.Flush()
	}
	closeErr := stdin.Close()
	waitErr := cmd.Wait()
	j.mono = ew.Monotonic
	if waitErr != nil {
		return fmt.Errorf("run %s: %w: %s", argv, waitErr, bytes.TrimSpace(stderr.Bytes()))
	}
	if genErr != nil {
		return fmt.Errorf("write %s: %w", out, genErr)
	}
	if closeErr != nil {
		return fmt.Errorf("write %s: %w", out, closeErr)
	}
	return nil
}

// ExportWriter writes entries in the journal export format
// (https://systemd.io/JOURNAL_EXPORT_FORMATS/).
type ExportWriter struct {
	W         io.Writer
	BootID    string // _BOOT_ID of every entry
	Monotonic uint64 // __MONOTONIC_TIMESTAMP of the last entry written; incremented per entry
	buf       []byte
}

// Write writes one entry.
func (x *ExportWriter) Write(e Entry) error {
	x.Monotonic++
	b := x.buf[:0]
	b = append(b, "__REALTIME_TIMESTAMP="...)
	b = strconv.AppendInt(b, e.Realtime.UnixMicro(), 10)
	b = append(b, "\n__MONOTONIC_TIMESTAMP="...)
	b = strconv.AppendUint(b, x.Monotonic, 10)
	b = append(b, "\n_BOOT_ID="...)
	b = append(b, x.BootID...)
	b = append(b, '\n')
	b = field(b, "_HOSTNAME", e.Hostname)
	b = field(b, "SYSLOG_IDENTIFIER", e.Identifier)
	if e.PID != 0 {
		b = field(b, "_PID", strconv.Itoa(e.PID))
	}
	b = field(b, "_SYSTEMD_UNIT", e.Unit)
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			b = field(b, k, e.Fields[k])
		}
	}
	b = field(b, "MESSAGE", e.Message)
	b = append(b, '\n')
	x.buf = b
	_, err := x.W.Write(b)
	return err
}

// field appends FIELD=value, or the binary form (FIELD, newline, little-endian 64-bit length,
// value, newline) when value has control characters or is not UTF-8. An empty value is left out.
func field(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	if !needsBinary(value) {
		b = append(b, name...)
		b = append(b, '=')
		b = append(b, value...)
		return append(b, '\n')
	}
	b = append(b, name...)
	b = append(b, '\n')
	b = binary.LittleEndian.AppendUint64(b, uint64(len(value)))
	b = append(b, value...)
	return append(b, '\n')
}

func needsBinary(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// Cursors returns the cursor of every entry in the journal directory, in journalctl's order,
// as the real journalctl reports them.
func (j *Journal) Cursors(t testing.TB) []string {
	t.Helper()
	jc, err := JournalctlPath()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(jc, "--directory", j.Dir, "-o", "json", "--output-fields=__CURSOR", "--no-pager")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run %s: %v: %s", cmd.Args, err, stderr.Bytes())
	}
	var cursors []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var e struct {
			Cursor string `json:"__CURSOR"`
		}
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode %s output: %v", cmd.Args, err)
		}
		cursors = append(cursors, e.Cursor)
	}
	return cursors
}
