package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestSaveFailsFirewallFollows: when the state cannot be saved (its file system full, or
// read-only), the run still reconciles the firewall to the last good state plus its own
// decisions — the expired ban goes, the new ban comes — says the state was not saved, exits 1,
// and leaves the old state as it was, with no temporary file behind. It used to stop before the
// firewall while the log said Unban.
func TestSaveFailsFirewallFollows(t *testing.T) {
	netnstest.Isolate(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is missing")
	}
	bin := buildBinary(t)
	for _, fault := range []string{"full", "read-only"} {
		t.Run(fault, func(t *testing.T) {
			dir := t.TempDir()
			logPath := filepath.Join(dir, "mail.log")
			stateDir := filepath.Join(dir, "state")
			os.Mkdir(stateDir, 0o700)
			cfg := filepath.Join(dir, "c.yaml")
			write(t, cfg, "state: "+filepath.Join(stateDir, "state.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n    bantime: 10m\n")
			fail := func(ip string, at string) string {
				var b strings.Builder
				for i := 0; i < 5; i++ {
					fmt.Fprintf(&b, "Aug 15 %s:0%d mx1 postfix/smtpd[1]: warning: unknown[%s]: SASL LOGIN authentication failed: x\n", at, i, ip)
				}
				return b.String()
			}
			write(t, logPath, fail("192.0.2.7", "22:00"))
			if code, _, stderr := runCLI(t, "--config", cfg, "--now", "2026-08-15T22:01:00Z", "scan"); code != 0 {
				t.Fatalf("first scan: exit %d: %s", code, stderr)
			}
			checkChain(t, 0, "f2b-postfix-sasl", []string{"192.0.2.7"})
			before, _ := os.ReadFile(filepath.Join(stateDir, "state.json"))
			write(t, logPath, fail("192.0.2.7", "22:00")+fail("198.51.100.8", "22:20"))

			// In a private mount namespace: the state directory becomes a full tmpfs, or a
			// read-only bind mount, holding the same files; then the scan, then what is left.
			mount := `mount -t tmpfs -o size=64k tmpfs "$D" && cp -a "$S"/. "$D"/ && (dd if=/dev/zero of="$D"/fill bs=4k 2>/dev/null || true)`
			if fault == "read-only" {
				mount = `mount --bind "$S" "$D" && mount -o remount,ro,bind "$D"`
			}
			script := `set -e; D="$1"; S="$2"; shift 2; ` + mount + `; set +e; "$@"; echo "exit=$?" >&2; cmp -s "$D"/state.json "$S"/state.json && echo "state=same" >&2; ls -a "$D" | grep -c '\.tmp' >&2; true`
			shadow := filepath.Join(dir, "shadow")
			os.Mkdir(shadow, 0o700)
			copyDir(t, stateDir, shadow)
			cmd := exec.Command("unshare", "-m", "--propagation", "private", "--", "sh", "-c", script, "sh", stateDir, shadow,
				bin, "--config", cfg, "--now", "2026-08-15T22:21:00Z", "scan")
			out, _ := cmd.CombinedOutput()
			got := string(out)
			for _, want := range []string{"ERROR   the state was not saved", "NOTICE  [postfix-sasl] Unban 192.0.2.7", "Ban 198.51.100.8", "exit=1", "state=same", "\n0\n"} {
				if !strings.Contains(got, want) {
					t.Errorf("lacks %q:\n%s", want, got)
				}
			}
			checkChain(t, 0, "f2b-postfix-sasl", []string{"198.51.100.8"})
			if after, _ := os.ReadFile(filepath.Join(stateDir, "state.json")); string(after) != string(before) {
				t.Errorf("the state changed on the underlying directory")
			}
		})
	}
}

// copyDir copies the regular files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dst, e.Name()), string(data))
	}
}
