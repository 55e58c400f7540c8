package scan

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestListCandidatesOrder(t *testing.T) {
	dir := t.TempDir()
	names := []string{
		"mail.log", "mail.log.1", "mail.log.2.gz", "mail.log.10.gz", "mail.log.3",
		"mail.log-20260815", "mail.log-20260814.gz", "mail.log-2026081522.gz",
		"mail.log-2026-08-13", "mail.log.1.gz",
		// not siblings
		"mail.log.old", "mail.log.gz", "mail.log-1", "mail.logx", "mail.log.1.xz", "mail.log.x1",
		"mail.log-2026O815", "mail.err", "mail.log.-1",
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "mail.log.4"), 0o755) // not a regular file
	cs, err := listCandidates(filepath.Join(dir, "mail.log"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, filepath.Base(c.name))
	}
	want := []string{
		"mail.log-2026-08-13", "mail.log-20260814.gz", "mail.log-20260815", "mail.log-2026081522.gz",
		"mail.log.10.gz", "mail.log.3", "mail.log.2.gz", "mail.log.1.gz", "mail.log.1", "mail.log",
	}
	if !slices.Equal(got, want) {
		t.Errorf("candidates\n got %q\nwant %q", got, want)
	}

	cs, err = listCandidates(filepath.Join(dir, "nodir", "mail.log"))
	if err != nil || len(cs) != 0 {
		t.Errorf("missing directory: %d candidates, error %v", len(cs), err)
	}
}

func TestLooksRotated(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"mail.log", false},
		{"maillog", false},
		{"php7.4-fpm.log", false},
		{"mail-2026.log", false},
		{"mail.log.1", true},
		{"mail.log.12.gz", true},
		{"maillog-20260815", true},
		{"maillog-2026081522.gz", true},
		{"maillog-2026-08-15", true},
		{"mail.log.gz", true},
		{"mail.log.2.xz", true},
		{".gz", false},
		{"1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := looksRotated(tt.name); got != tt.want {
				t.Errorf("looksRotated(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"mail.log", "mail.log.1", "mail.log.2.gz", "mail.log-20260815", "mail.warn", "maillog", "maillog-20260815.gz", "syslog"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "mail.d"), 0o755)
	j := func(n string) string { return filepath.Join(dir, n) }
	tests := []struct {
		name     string
		patterns []string
		want     []string
		wantErr  string
	}{
		{"plain path", []string{j("mail.log")}, []string{j("mail.log")}, ""},
		{"missing plain path kept", []string{j("nope.log")}, []string{j("nope.log")}, ""},
		{"glob without rotated", []string{j("mail*")}, []string{j("mail.log"), j("mail.warn"), j("maillog")}, ""},
		{"sorted and deduplicated", []string{j("syslog"), j("mail.l?g"), j("mail.log")}, []string{j("mail.log"), j("syslog")}, ""},
		{"glob matching nothing", []string{j("*.nothing")}, nil, ""},
		{"bad pattern", []string{j("[")}, nil, "expand logpath"},
		{"empty", []string{""}, nil, "empty path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.patterns)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// logrotateNumbered rotates the log as logrotate does with copytruncate, delaycompress and
// numbered names: P.N.gz -> P.N+1.gz, P.1 compressed to P.2.gz, P copied to P.1 and truncated.
func (h *logRig) logrotateNumbered() {
	h.t.Helper()
	for k := 8; k >= 2; k-- {
		if _, err := os.Stat(h.path + fmt.Sprintf(".%d.gz", k)); err == nil {
			h.rename(fmt.Sprintf(".%d.gz", k), fmt.Sprintf(".%d.gz", k+1))
		}
	}
	if _, err := os.Stat(h.path + ".1"); err == nil {
		h.gzip(".1", ".2.gz")
	}
	h.copytruncate(".1")
}

// logrotateDated rotates the log as logrotate does with copytruncate, delaycompress and
// dateext: the last dated copy (prev, when not "") is compressed, P is copied to P-date and
// truncated. Numbered files left over from an earlier scheme are left alone, as logrotate
// does.
func (h *logRig) logrotateDated(prev, date string) {
	h.t.Helper()
	if prev != "" {
		h.gzip("-"+prev, "-"+prev+".gz")
	}
	h.copytruncate("-" + date)
}

// TestReadLogSchemeSwitch: logrotate is switched between numbered names and dateext. The
// files of the old scheme are older than those of the new one whatever their names, so none
// of them is read again.
func TestReadLogSchemeSwitch(t *testing.T) {
	dates := []string{"20260815", "20260816", "20260817", "20260818", "20260819", "20260820",
		"20260821", "20260822", "20260823", "20260824", "20260825", "20260826"}
	tests := []struct {
		name  string
		steps func(h *logRig)
	}{
		{"numbered to dated, once", func(h *logRig) {
			for range 4 {
				h.write("", 3)
				h.run()
				h.write("", 1)
				h.logrotateNumbered()
			}
			h.write("", 2)
			h.run()
			h.write("", 1)
			h.logrotateDated("", dates[0])
			h.write("", 2)
			h.run()
		}},
		{"numbered to dated, many dated rotations", func(h *logRig) {
			for range 4 {
				h.write("", 3)
				h.run()
				h.write("", 1)
				h.logrotateNumbered()
			}
			prev := ""
			for _, d := range dates {
				h.write("", 2)
				h.run()
				h.write("", 1)
				h.logrotateDated(prev, d)
				prev = d
			}
			h.write("", 2)
			h.run()
		}},
		{"numbered to dated, two rotations between runs", func(h *logRig) {
			for range 3 {
				h.write("", 3)
				h.run()
				h.write("", 1)
				h.logrotateNumbered()
			}
			h.write("", 2)
			h.run()
			h.write("", 1)
			h.logrotateDated("", dates[0])
			h.write("", 1)
			h.logrotateDated(dates[0], dates[1])
			h.write("", 2)
			h.run()
		}},
		{"numbered to dated, the new file unknown but newer", func(h *logRig) {
			// The log was empty at the last run, so the state knows only P.1; the dated
			// file made of it since is newer by its modification time.
			h.write("", 3)
			h.run()
			h.write("", 1)
			h.logrotateNumbered()
			h.run()
			hourAgo := time.Now().Add(-time.Hour)
			if err := os.Chtimes(h.path+".1", hourAgo, hourAgo); err != nil {
				h.t.Fatal(err)
			}
			h.write("", 2)
			h.rename("", "-"+dates[0])
			h.write("", 1)
			h.run()
		}},
		{"dated to numbered", func(h *logRig) {
			prev := ""
			for _, d := range dates[:4] {
				h.write("", 3)
				h.run()
				h.write("", 1)
				h.logrotateDated(prev, d)
				prev = d
			}
			for range 10 {
				h.write("", 2)
				h.run()
				h.write("", 1)
				h.logrotateNumbered()
			}
			h.write("", 2)
			h.run()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newLogRig(t)
			tt.steps(h)
			h.run()
			h.check()
		})
	}
}
