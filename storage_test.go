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

// TestStateInvalid: a state file that decodes but does not validate (a ban key that is not an
// address, a negative counter, timestamps out of order) stops every command with exit 2, a
// message naming the file and the key, and the file as it was. unban --all used to panic on
// such a key.
func TestStateInvalid(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	cfg := filepath.Join(dir, "c.yaml")
	logPath := filepath.Join(dir, "mail.log")
	write(t, logPath, "")
	write(t, cfg, "state: "+statePath+"\nfail2ban_socket: \"\"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n")
	for _, tt := range []struct{ name, content, want string }{
		{"ban key not an address", `{"version": 1, "jails": {"postfix-sasl": {"bans": {"x": {"start": 5, "end": -1}}}}}`,
			`jails.postfix-sasl.bans."x": not an address`},
		{"ban key mapped", `{"version": 1, "jails": {"postfix-sasl": {"bans": {"::ffff:192.0.2.1": {"start": 5, "end": -1}}}}}`,
			`jails.postfix-sasl.bans."::ffff:192.0.2.1": IPv4-mapped IPv6 address`},
		{"ban key zoned", `{"version": 1, "jails": {"postfix-sasl": {"bans": {"fe80::1%eth0": {"start": 5, "end": -1}}}}}`,
			`jails.postfix-sasl.bans."fe80::1%eth0": address with an IPv6 zone`},
		{"negative counter", `{"version": 1, "jails": {"postfix-sasl": {"total_banned": -4}}}`,
			`jails.postfix-sasl.total_banned: negative (-4)`},
		{"timestamps out of order", `{"version": 1, "jails": {"postfix-sasl": {"failures": {"192.0.2.1": [9, 3]}}}}`,
			`jails.postfix-sasl.failures."192.0.2.1": timestamps not ascending`},
		{"garbage", "\x00\x1f\x8b\xff not a state at all", "decode"},
		{"newer schema", `{"version":5,"jails":{"postfix-sasl":{"failures":{"192.0.2.1":{}}}},"new":1}`,
			"written by a newer fail2ban-scan (schema 5); this one reads up to 4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			write(t, statePath, tt.content)
			for _, cmd := range []string{"unban --all", "unban 192.0.2.1", "ban --jail postfix-sasl 192.0.2.9", "scan", "status", "report"} {
				code, out, stderr := runCLI(t, append([]string{"--config", cfg, "--now", "1755297300"}, strings.Fields(cmd)...)...)
				if code != 2 || !strings.Contains(stderr, "state "+statePath+": ") || !strings.Contains(stderr, tt.want) {
					t.Errorf("%s: exit %d, stderr %q; want 2 and %q naming %s", cmd, code, stderr, tt.want, statePath)
				}
				if out != "" {
					t.Errorf("%s: stdout %q", cmd, out)
				}
			}
			if data, _ := os.ReadFile(statePath); string(data) != tt.content {
				t.Errorf("state changed: %q", data)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".state.json.tmp*")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// TestStaleTempFiles: runs killed between creating the state's temporary file and renaming it
// left .state.json.tmpNNN files of the state's size; the next run that saves removes them, and
// no other file.
func TestStaleTempFiles(t *testing.T) {
	netnstest.Isolate(t) // the scan reconciles the firewall
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	cfg := filepath.Join(dir, "c.yaml")
	logPath := filepath.Join(dir, "mail.log")
	write(t, logPath, "Aug 15 22:34:53 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: x\n")
	write(t, cfg, "state: "+statePath+"\nfail2ban_socket: \"\"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n")
	stale := []string{".state.json.tmp2771539201", ".state.json.tmp17"}
	kept := []string{".state.json.tmp", ".state.json.tmp17.keep", "notes.tmp1", ".other.json.tmp5"}
	for _, n := range append(stale, kept...) {
		write(t, filepath.Join(dir, n), `{"version": 1, "jails": {}}`)
	}
	if code, _, stderr := runCLI(t, "--config", cfg, "--now", "2026-08-15T22:35:00Z", "scan"); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	for _, n := range stale {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			t.Errorf("%s left", n)
		}
	}
	for _, n := range kept {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
}

// requireMountNS skips the test unless this process may run commands in a private mount
// namespace (root, unshare -m); with FAIL2BAN_SCAN_REQUIRE_NETNS=1 it fails instead.
func requireMountNS(t *testing.T) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "not running as root"
	} else if out, err := exec.Command("unshare", "-m", "--propagation", "private", "true").CombinedOutput(); err != nil {
		why = fmt.Sprintf("unshare -m: %v: %s", err, out)
	}
	if why == "" {
		return
	}
	if os.Getenv(netnstest.EnvRequire) == "1" {
		t.Fatalf("needs a private mount namespace (%s=1): %s", netnstest.EnvRequire, why)
	}
	t.Skipf("needs a private mount namespace: %s (run as root where unshare -m works)", why)
}

// TestStorageFaults runs the real binary with its state directory on a small tmpfs that is full
// or mounted read-only, inside a private mount namespace (unshare -m --propagation private: the
// mounts are never seen outside it, and go away with it). A run that cannot save says that
// the state was not saved, exits 1, and leaves the previous state as it was and no temporary
// file.
func TestStorageFaults(t *testing.T) {
	netnstest.Isolate(t) // the scans reconcile the firewall; the commands started here run in it
	requireMountNS(t)
	bin := buildBinary(t)
	for _, tt := range []struct {
		name, fault, wantErr string
	}{
		{"full", `dd if=/dev/zero of="$S/fill" bs=1k 2>/dev/null || true`, "no space left on device"},
		{"read-only", `mount -o remount,ro "$S"`, "read-only file system"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			seed, mnt, out := filepath.Join(dir, "seed"), filepath.Join(dir, "state"), filepath.Join(dir, "out")
			for _, d := range []string{seed, mnt, out} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			statePath := filepath.Join(mnt, "state.json")
			cfg := filepath.Join(dir, "c.yaml")
			logPath := filepath.Join(dir, "mail.log")
			write(t, cfg, "state: "+statePath+"\nfail2ban_socket: \"\"\njails:\n  postfix-sasl:\n    logpath: ["+logPath+"]\n")
			line := "Aug 15 22:%02d:00 mx1 postfix/smtpd[1]: warning: unknown[192.0.2.%d]: SASL LOGIN authentication failed: x\n"
			write(t, logPath, fmt.Sprintf(line, 30, 7))
			// The previous state, made by a run that could save it (then copied into the tmpfs).
			if code, _, stderr := runCLI(t, "--config", cfg, "--state", filepath.Join(seed, "state.json"), "--now", "2026-08-15T22:31:00Z", "scan"); code != 0 {
				t.Fatalf("seed scan: exit %d: %s", code, stderr)
			}
			before, err := os.ReadFile(filepath.Join(seed, "state.json"))
			if err != nil {
				t.Fatal(err)
			}
			f, _ := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
			fmt.Fprintf(f, line, 32, 8)
			f.Close()

			script := `set -e
mount -t tmpfs -o size=64k,mode=0700 tmpfs "$S"
cp -a "$SEED"/. "$S"/
` + tt.fault + `
set +e
for cmd in scan "ban --jail postfix-sasl 192.0.2.200"; do
	name=${cmd%% *}
	"$BIN" --config "$CFG" --now 2026-08-15T22:35:00Z $cmd >"$OUT/$name.stdout" 2>"$OUT/$name.stderr"
	echo $? >"$OUT/$name.rc"
done
ls -A "$S" >"$OUT/ls"
cp "$S/state.json" "$OUT/state.json"
`
			cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
			cmd.Env = append(os.Environ(), "S="+mnt, "SEED="+seed, "OUT="+out, "BIN="+bin, "CFG="+cfg)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			read := func(name string) string {
				b, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			want := "state " + statePath + " not saved (the previous one is kept): "
			for _, c := range []string{"scan", "ban"} {
				rc, stderr := strings.TrimSpace(read(c+".rc")), read(c+".stderr")
				if rc != "1" || !strings.Contains(stderr, want) || !strings.Contains(stderr, tt.wantErr) {
					t.Errorf("%s: exit %s, stderr:\n%s\nwant exit 1 and %q ... %q", c, rc, stderr, want, tt.wantErr)
				}
			}
			if got := read("state.json"); got != string(before) {
				t.Errorf("the previous state changed:\n got %s\nwant %s", got, before)
			}
			if ls := read("ls"); strings.Contains(ls, ".tmp") {
				t.Errorf("temporary file left in the state directory:\n%s", ls)
			}
			if entries, _ := os.ReadDir(mnt); len(entries) != 0 {
				t.Errorf("the tmpfs was seen outside its mount namespace: %d entries in %s", len(entries), mnt)
			}
		})
	}
}
