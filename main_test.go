package main

import (
	"os"
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
