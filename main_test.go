package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(sandboxEnv); spec != "" { // re-executed by runSandboxed
		os.Exit(sandboxMain(spec, os.Args[1:]))
	}
	time.Local = time.UTC // syslog stamps in the tests are UTC
	netnstest.Main(m)
}

// TestSetMemoryLimit: without GOMEMLIMIT the binary sets the unit's soft limit of 48 MiB; with
// it (a value, or off), it leaves the runtime's own reading of it.
func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	for _, tt := range []struct {
		env  string
		want int64
	}{
		{"", 48 << 20},
		{"off", math.MaxInt64},
		{"100MiB", math.MaxInt64},
	} {
		debug.SetMemoryLimit(math.MaxInt64) // as the runtime leaves it with GOMEMLIMIT=off
		setMemoryLimit(func(k string) string {
			if k == "GOMEMLIMIT" {
				return tt.env
			}
			return ""
		})
		if got := debug.SetMemoryLimit(-1); got != tt.want {
			t.Errorf("GOMEMLIMIT=%q: the limit is %d, want %d", tt.env, got, tt.want)
		}
	}
}
