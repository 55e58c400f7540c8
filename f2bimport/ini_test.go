package f2bimport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestReadJailConfig checks fail2ban's reading order, includes and interpolation on a small
// tree; fail2ban's stock files are read by the command's tests.
func TestReadJailConfig(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"jail.conf": `[INCLUDES]
before = paths.conf
[DEFAULT]
backend = auto
filter = %(__name__)s[mode=%(mode)s]
mode = normal
[a]
logpath = %(a_log)s
port = smtp ; inline comment
`,
		"paths.conf":    "[DEFAULT]\nlogdir = /var/log\na_log = %(logdir)s/a.log\nb_backend = %(default/backend)s\n",
		"paths.local":   "[DEFAULT]\nlogdir = /srv/log\n",
		"jail.d/1.conf": "[a]\nport = 25\n[b]\nbackend = %(b_backend)s\n",
		"jail.local": `[a]
port = %(known/port)s,465
logpath = %(known/logpath)s

  /extra.log
[b]
mode = aggressive
`,
		"jail.d/2.local": "[DEFAULT]\nbackend = systemd\n",
	})
	c, err := ReadJailConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, f := range c.Files {
		r, _ := filepath.Rel(dir, f)
		rel = append(rel, r)
	}
	if got, want := strings.Join(rel, " "), "paths.conf paths.local jail.conf jail.d/1.conf jail.local jail.d/2.local"; got != want {
		t.Errorf("files read %q, want %q", got, want)
	}
	for _, tc := range []struct{ sec, opt, want string }{
		{"a", "logpath", "/srv/log/a.log\n\n/extra.log"},
		{"a", "port", "25,465"},
		{"a", "filter", "a[mode=normal]"},
		{"b", "filter", "b[mode=aggressive]"},
		{"b", "backend", "systemd"},
	} {
		got, ok, err := c.Get(tc.sec, tc.opt)
		if err != nil || !ok || got != tc.want {
			t.Errorf("[%s] %s = %q, %v, %v; want %q", tc.sec, tc.opt, got, ok, err, tc.want)
		}
	}
	if _, _, err := c.Get("a", "missing"); err != nil {
		t.Errorf("an unset option is not an error: %v", err)
	}
}

func TestReadJailConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"none", map[string]string{"other.conf": "[x]\n"}, "no jail.conf"},
		{"option before section", map[string]string{"jail.conf": "a = 1\n"}, "jail.conf:1: an option before the first [section]"},
		{"not an option", map[string]string{"jail.local": "[a]\njust words\n"}, "jail.local:2: want NAME = VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadJailConfig(writeFiles(t, tc.files))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	c, err := ReadJailConfig(writeFiles(t, map[string]string{"jail.conf": "[a]\nx = %(y)s\nloop = %(loop)s\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get("a", "x"); err == nil || !strings.Contains(err.Error(), "%(y)s names no option") {
		t.Errorf("missing name: %v", err)
	}
	if _, _, err := c.Get("a", "loop"); err == nil || !strings.Contains(err.Error(), "deeper than") {
		t.Errorf("loop: %v", err)
	}
}

func TestParseF2bDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"600", 600, ""},
		{"10m", 600, ""},
		{"1h 30m", 5400, ""},
		{"1 day", 86400, ""},
		{"1w", 604800, ""},
		{"1mo", 2629800, ""},
		{"-1", -1, ""},
		{"3600.0", 3600, ""},
		{"60*60", 0, "not a number with a unit"},
		{"5 fortnights", 0, "unknown unit"},
		{"1000y", 0, "more than 100 years"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseF2bDuration(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("= %d, %v; want %d", got, err, tc.want)
			}
			if f := formatDuration(got); tc.want > 0 {
				if back, _ := parseF2bDuration(f); back != got {
					t.Errorf("formatDuration(%d) = %q reads back as %d", got, f, back)
				}
			}
		})
	}
}
