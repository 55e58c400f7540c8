package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// requireSystemdEnv set to 1 (as in CI) turns the skip for a missing systemd-analyze into a
// failure.
const requireSystemdEnv = "FAIL2BAN_SCAN_REQUIRE_SYSTEMD"

// exposureRE reads the last line of systemd-analyze security (systemd 252):
// "→ Overall exposure level for fail2ban-scan.service: 1.7 OK 🙂".
var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) `)

// TestUnitExposure: systemd-analyze security rates the units' sandboxes; the scan unit, which
// runs every minute as root, stays at 2.0 or below (it was 6.8 MEDIUM before its sandbox), the
// report unit, which must let the mail transport's setgid helper work, at 3.0 or below (was 9.0).
func TestUnitExposure(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv(requireSystemdEnv) == "1" {
			t.Fatalf("systemd-analyze required (%s=1): %v", requireSystemdEnv, err)
		}
		t.Skipf("systemd-analyze not installed (install systemd, or set %s=1 to make this a failure): %v", requireSystemdEnv, err)
	}
	for _, tt := range []struct {
		unit string
		max  float64
	}{
		{"fail2ban-scan.service", 2.0},
		{"fail2ban-scan-report.service", 3.0},
	} {
		t.Run(tt.unit, func(t *testing.T) {
			// --offline=true reads the unit file alone (systemd 252 and later), so this runs
			// where systemd is not PID 1.
			cmd := exec.Command(analyze, "security", "--offline=true", "--no-pager", tt.unit)
			cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0")
			out, err := cmd.CombinedOutput()
			m := exposureRE.FindSubmatch(out)
			if m == nil {
				if strings.Contains(string(out), "--offline") && os.Getenv(requireSystemdEnv) != "1" {
					t.Skipf("this systemd-analyze has no --offline (systemd 252 and later): %s", out)
				}
				t.Fatalf("%s: %v: no exposure level in:\n%s", cmd, err, out)
			}
			got, _ := strconv.ParseFloat(string(m[1]), 64)
			if got > tt.max {
				t.Errorf("%s: exposure %.1f, want <= %.1f; what counts against it:\n%s", tt.unit, got, tt.max, exposures(string(out)))
			}
			t.Logf("%s: exposure %.1f (at most %.1f)", tt.unit, got, tt.max)
		})
	}
}

// exposures keeps the lines of systemd-analyze security's table that count against the unit.
func exposures(out string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "✗") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// unitService returns the [Service] section of a unit file: each key with its values in order
// (a key given twice keeps both, as systemd adds them up). Comments and blank lines are skipped.
func unitService(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	props := map[string][]string{}
	section := ""
	for n, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[':
			section = l
		case section == "[Service]":
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("%s:%d: not KEY=VALUE: %q", path, n+1, l)
			}
			props[k] = append(props[k], v)
		}
	}
	return props
}
