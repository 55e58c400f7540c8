package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestZonedAddressRefused: an IPv6 address with a zone (fe80::1%eth0) is a usage error of ban
// and unban: the firewall bans addresses without zones, so a zoned key in the state could never
// be unbanned by its address.
func TestZonedAddressRefused(t *testing.T) {
	netnstest.Isolate(t) // a ban that is not refused reaches the firewall
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	cfg := filepath.Join(dir, "c.yaml")
	write(t, filepath.Join(dir, "mail.log"), "")
	write(t, cfg, "state: "+statePath+"\nfail2ban_socket: \"\"\njails:\n  postfix-sasl:\n    logpath: ["+filepath.Join(dir, "mail.log")+"]\n")
	for _, args := range [][]string{
		{"ban", "--jail", "postfix-sasl", "fe80::1%eth0"},
		{"ban", "--jail", "postfix-sasl", "192.0.2.1", "fe80::1%eth0"},
		{"unban", "fe80::1%eth0"},
	} {
		code, out, stderr := runCLI(t, append([]string{"--config", cfg}, args...)...)
		if code != 2 || !strings.Contains(stderr, `"fe80::1%eth0"`) || !strings.Contains(stderr, "zone") || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 naming the address and its zone", args, code, out, stderr)
		}
	}
	if _, err := os.Stat(statePath); err == nil {
		t.Errorf("state written")
	}
}
