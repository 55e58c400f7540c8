package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestDebVersion(t *testing.T) {
	date := time.Date(2026, 8, 15, 23, 30, 0, 0, time.FixedZone("JST", 9*3600)) // 14:30 UTC
	for _, tt := range []struct {
		describe, want, wantErr string
	}{
		{describe: "ea1cd27", want: "0.0.0~git20260815.ea1cd27"},
		{describe: "ea1cd27-dirty", want: "0.0.0~git20260815.ea1cd27.dirty"},
		{describe: "v1.2.3-0-gea1cd27", want: "1.2.3"},
		{describe: "1.2.3-0-gea1cd27-dirty", want: "1.2.3+dirty"},
		{describe: "v1.2.3-4-gea1cd27", want: "1.2.3+git20260815.ea1cd27"},
		{describe: "v1.2.3-rc1-0-gea1cd27", want: "1.2.3~rc1"},
		{describe: "v1.2.3-rc1-12-gea1cd27", want: "1.2.3~rc1+git20260815.ea1cd27"},
		{describe: "20260101-0-gea1cd27", want: "20260101"}, // a numeric tag is not a hash
		{describe: "release_1-0-gea1cd27", wantErr: `"release_1", not a Debian version: set VERSION`},
		{describe: "vx-0-gea1cd27", wantErr: "not a Debian version"},
		{describe: "", wantErr: "unexpected"},
	} {
		t.Run(tt.describe, func(t *testing.T) {
			got, err := debVersion(tt.describe, date)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestVersionOrder checks with dpkg itself that the versions sort as the commits do.
func TestVersionOrder(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("no dpkg")
	}
	order := []string{"0.0.0~git20260815.ea1cd27", "1.2.3~rc1", "1.2.3~rc1+git20260815.ea1cd27", "1.2.3", "1.2.3+dirty", "1.2.3+git20260815.ea1cd27", "1.2.4"}
	for i := 1; i < len(order); i++ {
		if err := exec.Command(dpkg, "--compare-versions", order[i-1], "lt", order[i]).Run(); err != nil {
			t.Errorf("dpkg --compare-versions %s lt %s: %v", order[i-1], order[i], err)
		}
	}
}

func TestValidVersion(t *testing.T) {
	for v, want := range map[string]bool{"1.2.3": true, "0.0.0~git20260815.ea1cd27": true, "1.0-1": true,
		"v1.0": false, "1.0_beta": false, "": false, "1.0-1-2": false, "1:1.0": false} {
		if got := validVersion(v); got != want {
			t.Errorf("validVersion(%q) = %v, want %v", v, got, want)
		}
	}
}
