package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestWrite: Write replaces the file, a permanent bantime reads -1, and last_success is left
// out while no run has succeeded; a directory that does not exist is an error naming the file.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.prom")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := Run{Start: time.Unix(1786833600, 0), Duration: 1500 * time.Millisecond,
		Jails: []Jail{{Name: "a", Up: true, Failures: 3, BanTime: -1, FindTime: 600, MaxRetry: 5}}}
	if err := Write(path, r); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"fail2ban_scan_failures_total":             3,
		"fail2ban_scan_config_bantime_seconds":     -1,
		"fail2ban_scan_jail_up":                    1,
		"fail2ban_scan_last_run_duration_seconds":  1.5,
		"fail2ban_scan_last_run_timestamp_seconds": 1786833600,
	} {
		mf := mfs[name]
		if mf == nil || len(mf.GetMetric()) != 1 {
			t.Errorf("%s: %v", name, mf)
			continue
		}
		m := mf.GetMetric()[0]
		if got := m.GetGauge().GetValue() + m.GetCounter().GetValue(); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if _, ok := mfs["fail2ban_scan_last_success_timestamp_seconds"]; ok {
		t.Error("last_success written though no run succeeded")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode())
	}

	missing := filepath.Join(dir, "none", "f.prom")
	if err := Write(missing, r); err == nil || !strings.Contains(err.Error(), "write metrics file "+missing) {
		t.Errorf("error %v, want one naming %s", err, missing)
	}
}
