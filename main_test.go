package main

import (
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

func TestMain(m *testing.M) {
	time.Local = time.UTC // syslog stamps in the tests are UTC
	netnstest.Main(m)
}
