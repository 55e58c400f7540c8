package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestCheck runs check on configs with mistakes: every config error with its line (exit 2),
// then the warnings about what will fail at run time (exit 0, counted on the OK line).
func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		// config with DIR for the test's directory; the directory holds mail.log (a log),
		// logs/ (a directory), loop.log (a symlink to itself), file.txt (a file).
		yaml     string
		wantCode int
		want     []string // substrings of stderr, in this order
		wantOut  string   // substring of stdout ("" for none: stdout must be empty)
		notWant  []string // substrings stderr must not hold
	}{
		{
			name: "every config error with its line, then the warnings",
			yaml: `state: DIR/state.json
jails:
  a:
    filter: postfix-sasl
    maxretry: 0
    findtime: soon
    logpath: DIR/mail.log
  'a b':
    logpath: DIR/mail.log
  c:
    filter: postfix-sasl
    bantime: 1y
    logpath: DIR/mail.log
  d:
    filter: postfix-sasl
    logpath: DIR/missing.log
`,
			wantCode: 2,
			want: []string{
				"DIR/c.yaml:5: jails.a.maxretry: must be >= 1, got 0\n",
				`DIR/c.yaml:6: jails.a.findtime: bad duration "soon"`,
				"DIR/c.yaml:8: jails.a b: jail names are letters",
				`DIR/c.yaml:12: jails.c.bantime: bad duration "1y"`,
				"WARNING DIR/c.yaml:16: jails.d.logpath[0]: log DIR/missing.log does not exist\n",
				"fail2ban-scan: DIR/c.yaml: 4 error(s), 1 warning(s)\n",
			},
		},
		{
			name:    "missing log",
			yaml:    "state: DIR/state.json\njails:\n  postfix-sasl:\n    logpath: [DIR/mail.log, DIR/missing.log]\n",
			want:    []string{"WARNING DIR/c.yaml:4: jails.postfix-sasl.logpath[1]: log DIR/missing.log does not exist\n"},
			wantOut: "DIR/c.yaml: OK, 1 jail(s), 1 enabled, 1 warning(s)\n",
		},
		{
			name:    "directory",
			yaml:    "state: DIR/state.json\njails:\n  postfix-sasl:\n    logpath:\n      - DIR/mail.log\n      - DIR/logs\n",
			want:    []string{"WARNING DIR/c.yaml:6: jails.postfix-sasl.logpath[1]: log DIR/logs is a directory\n"},
			wantOut: "1 warning(s)",
		},
		{
			name:    "unreadable log (a symlink loop: root cannot open it either)",
			yaml:    "state: DIR/state.json\njails:\n  postfix-sasl:\n    logpath: DIR/loop.log\n",
			want:    []string{"WARNING DIR/c.yaml:4: jails.postfix-sasl.logpath[0]: log DIR/loop.log: too many levels of symbolic links\n"},
			wantOut: "1 warning(s)",
		},
		{
			name:    "glob that matches nothing",
			yaml:    "state: DIR/state.json\njails:\n  postfix-sasl:\n    logpath: ['DIR/mail.log', 'DIR/logs/*.log']\n",
			want:    []string{`WARNING DIR/c.yaml:4: jails.postfix-sasl.logpath[1]: glob "DIR/logs/*.log" matches no log file: the jail watches nothing`},
			wantOut: "1 warning(s)",
		},
		{
			name:    "glob that matches",
			yaml:    "state: DIR/state.json\njails:\n  postfix-sasl:\n    logpath: 'DIR/mail*'\n",
			wantOut: "OK, 1 jail(s), 1 enabled, 0 warning(s)",
		},
		{
			name: "relative paths",
			yaml: "state: state-check-test.json\nlogfile: check-test.log\njails:\n  postfix-sasl:\n    logpath: testdata/mail.log\n  j:\n    filter: postfix-sasl\n    backend: journal\n    journal_directory: testdata\n",
			want: []string{
				`WARNING DIR/c.yaml:1: state: relative path "state-check-test.json" resolves against the working directory, which is / under systemd, where ProtectSystem=strict makes it read-only`,
				`WARNING DIR/c.yaml:2: logfile: relative path "check-test.log"`,
				`WARNING DIR/c.yaml:5: jails.postfix-sasl.logpath[0]: relative path "testdata/mail.log" resolves against the working directory, which is / under systemd`,
				`WARNING DIR/c.yaml:9: jails.j.journal_directory: relative path "testdata"`,
			},
			wantOut: "OK, 2 jail(s), 2 enabled, 4 warning(s)",
		},
		{
			name:    "state directory under a file",
			yaml:    "state: DIR/file.txt/state.json\njails:\n  postfix-sasl:\n    logpath: DIR/mail.log\n",
			want:    []string{"WARNING DIR/c.yaml:1: state: state DIR/file.txt/state.json cannot be saved: DIR/file.txt is not a directory\n"},
			wantOut: "1 warning(s)",
		},
		{
			name:    "state directory missing under a file",
			yaml:    "state: DIR/file.txt/sub/state.json\njails:\n  postfix-sasl:\n    logpath: DIR/mail.log\n",
			want:    []string{"WARNING DIR/c.yaml:1: state: state DIR/file.txt/sub/state.json cannot be saved: DIR/file.txt/sub: not a directory\n"},
			wantOut: "1 warning(s)",
		},
		{
			name:    "state directory missing but can be made",
			yaml:    "state: DIR/new/sub/state.json\njails:\n  postfix-sasl:\n    logpath: DIR/mail.log\n",
			wantOut: "0 warning(s)",
		},
		{
			name:    "log file directory not writable",
			yaml:    "state: DIR/state.json\nlogfile: DIR/file.txt/f2b.log\njails:\n  postfix-sasl:\n    logpath: DIR/mail.log\n",
			want:    []string{"WARNING DIR/c.yaml:2: logfile: log file DIR/file.txt/f2b.log cannot be written: DIR/file.txt is not a directory\n"},
			wantOut: "1 warning(s)",
		},
		{
			name:    "journal directory missing",
			yaml:    "state: DIR/state.json\njails:\n  postfix-sasl:\n    backend: journal\n    journal_directory: DIR/journal\n",
			want:    []string{"WARNING DIR/c.yaml:5: jails.postfix-sasl.journal_directory: journal DIR/journal: no such file or directory\n"},
			wantOut: "1 warning(s)",
		},
		{
			name:    "a disabled jail's log is not looked at",
			yaml:    "state: DIR/state.json\njails:\n  postfix-sasl:\n    logpath: DIR/mail.log\n  old:\n    enabled: false\n    filter: postfix-sasl\n    logpath: DIR/missing.log\n",
			wantOut: "OK, 2 jail(s), 1 enabled, 0 warning(s)",
		},
		{
			name:    "a default shared by two jails is reported once, at its line",
			yaml:    "state: DIR/state.json\ndefaults:\n  logpath: DIR/missing.log\njails:\n  postfix-sasl: {}\n  b: {filter: postfix-sasl}\n",
			want:    []string{"WARNING DIR/c.yaml:3: defaults.logpath[0]: log DIR/missing.log does not exist\n"},
			wantOut: "1 warning(s)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "mail.log"), "")
			write(t, filepath.Join(dir, "file.txt"), "")
			if err := os.Mkdir(filepath.Join(dir, "logs"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("loop.log", filepath.Join(dir, "loop.log")); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "c.yaml")
			write(t, cfg, strings.ReplaceAll(tt.yaml, "DIR", dir))
			code, out, stderr := runCLI(t, "--config", cfg, "check")
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			rest := stderr
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "DIR", dir)
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("stderr lacks (or not in this order) %q", w)
					continue
				}
				rest = rest[i+len(w):]
			}
			if len(tt.want) == 0 && stderr != "" {
				t.Errorf("stderr not empty")
			}
			wantOut := strings.ReplaceAll(tt.wantOut, "DIR", dir)
			if wantOut == "" && out != "" || !strings.Contains(out, wantOut) {
				t.Errorf("stdout %q, want %q", out, wantOut)
			}
			if t.Failed() {
				t.Logf("stdout:\n%s\nstderr:\n%s", out, stderr)
			}
			left, _ := filepath.Glob(filepath.Join(dir, "*", ".fail2ban-scan-check-*"))
			top, _ := filepath.Glob(filepath.Join(dir, ".fail2ban-scan-check-*"))
			if len(left)+len(top) > 0 {
				t.Errorf("check left files behind: %v", append(left, top...))
			}
			if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
				t.Errorf("check made the state directory")
			}
		})
	}
}

// TestCheckUnreadableLog: a file without read permission, which only a non-root user lacks.
func TestCheckUnreadableLog(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file; the symlink loop of TestCheck covers unreadable logs")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	write(t, log, "")
	if err := os.Chmod(log, 0); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	write(t, cfg, "state: "+dir+"/state.json\njails:\n  postfix-sasl:\n    logpath: "+log+"\n")
	code, out, stderr := runCLI(t, "--config", cfg, "check")
	if want := "jails.postfix-sasl.logpath[0]: log " + log + " cannot be opened: permission denied"; code != 0 || !strings.Contains(stderr, want) || !strings.Contains(out, "1 warning(s)") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, stderr, want)
	}
}

// TestScanWarnsEmptyGlob: every run warns about a logpath glob that matches nothing, naming
// the jail and the glob, while the jail's other logs are still read.
func TestScanWarnsEmptyGlob(t *testing.T) {
	netnstest.Isolate(t) // scans reconcile the firewall
	dir := t.TempDir()
	write(t, filepath.Join(dir, "mail.log"), "")
	cfg := filepath.Join(dir, "c.yaml")
	glob := filepath.Join(dir, "other", "*.log")
	write(t, cfg, "state: "+dir+"/state.json\njails:\n  postfix-sasl:\n    logpath: ["+dir+"/mail.log, '"+glob+"']\n")
	want := `WARNING [postfix-sasl] logpath "` + glob + `" matches no log file`
	for run := 1; run <= 2; run++ {
		code, _, stderr := runCLI(t, "--config", cfg, "--now", "2026-08-15T22:35:00Z", "scan")
		if code != 0 || !strings.Contains(stderr, want) {
			t.Fatalf("run %d: exit %d, stderr %s\nwant %s", run, code, stderr, want)
		}
	}
}
