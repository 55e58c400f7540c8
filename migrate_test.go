package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sealRE matches the end of a sealed state file.
var sealRE = regexp.MustCompile(`,"seal":"[0-9a-f]{8}"}\n$`)

// TestMigrate: state files written by the binaries of the older schemas (testdata/state-vN/*:
// the state, the config it was made with, and that binary's `status --json` and `report --json`
// at the time in "now"; @DIR@ stands for the directory) load and give the same status and
// report; a scan writes them back in the current schema, and status and report stay the same.
// The schema 2 cases are the schema 1 cases written back by the schema 2 binary, the schema 3
// ones the schema 2 cases written back by the schema 3 binary (a scan at their now), the
// schema 4 ones (the current schema, kept for the next to migrate) the schema 3 cases written
// back by the schema 4 binary, their directory put back as @DIR@ (so their seal no longer
// matches, and they load checked entry by entry); their status and report are those of
// schema 1, byte for byte. Written back, the file ends with its
// seal (schema 4), and a scan of the sealed file gives the same again.

func TestMigrate(t *testing.T) {
	cases, _ := filepath.Glob("testdata/state-v*/*")
	if len(cases) < 8 {
		t.Fatalf("testdata/state-v1 to -v4 cases: %v", cases)
	}
	for _, c := range cases {
		schema := strings.TrimPrefix(filepath.Base(filepath.Dir(c)), "state-v")
		t.Run(filepath.Base(filepath.Dir(c))+"/"+filepath.Base(c), func(t *testing.T) {
			dir := t.TempDir()
			read := func(name string) string {
				data, err := os.ReadFile(filepath.Join(c, name))
				if err != nil {
					t.Fatal(err)
				}
				return strings.ReplaceAll(string(data), "@DIR@", dir)
			}
			write(t, filepath.Join(dir, "state.json"), read("state.json"))
			write(t, filepath.Join(dir, "c.yaml"), read("config.yaml"))
			write(t, filepath.Join(dir, "mail.log"), "")
			now := strings.TrimSpace(read("now"))
			check := func(when string) {
				for _, cmd := range []string{"status", "report"} {
					code, out, stderr := runCLI(t, "--config", filepath.Join(dir, "c.yaml"), "--now", now, cmd, "--json")
					if code != 0 {
						t.Fatalf("%s: %s exit %d: %s", when, cmd, code, stderr)
					}
					if want := read(cmd + ".json"); out != want {
						t.Errorf("%s: %s --json differs from schema %s's:\n%s\nwant:\n%s", when, cmd, schema, out, want)
					}
				}
			}
			check("loaded from schema " + schema)
			if code, _, stderr := runCLI(t, "--config", filepath.Join(dir, "c.yaml"), "--now", now, "scan"); code != 0 {
				t.Fatalf("scan exit %d: %s", code, stderr)
			}
			data, _ := os.ReadFile(filepath.Join(dir, "state.json"))
			if !bytes.HasPrefix(data, []byte(`{"version":4,`)) || bytes.Contains(data, []byte(`"failures":"`)) && !bytes.Contains(data, []byte(`"failures":"~`)) ||
				!sealRE.Match(data) {
				t.Fatalf("not written back in schema 4, sealed: %.200s ... %s", data, data[max(0, len(data)-40):])
			}
			check("written back in schema 4")
			// Sealed, the next scan leaves the bans, their history and spans as text.
			if code, _, stderr := runCLI(t, "--config", filepath.Join(dir, "c.yaml"), "--now", now, "scan"); code != 0 {
				t.Fatalf("second scan exit %d: %s", code, stderr)
			}
			check("scanned again, sealed")
		})
	}
}
