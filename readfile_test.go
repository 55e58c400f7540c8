package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestHostileConfigFiles: config, filter and duration values that name the wrong thing are
// config errors that name the file or key: a device or a pipe is not read (it would hang or
// fill memory), nor a file over 1 MiB; a file that is not a filter is not quoted (it may be
// /etc/shadow); a duration that overflows is not a permanent ban; a --now too far out is
// refused.
func TestHostileConfigFiles(t *testing.T) {
	dir := t.TempDir()
	const secret = "s3cret-token"
	write(t, filepath.Join(dir, "mail.log"), "")
	write(t, filepath.Join(dir, "secret"), "root:"+secret+":19000:0:99999:7:::\n")
	write(t, filepath.Join(dir, "big.conf"), "[Definition]\nfailregex = <HOST>\n"+strings.Repeat("#\n", 1<<19))
	write(t, filepath.Join(dir, "ok.conf"), "[Definition]\nfailregex = ^.* from <HOST>$\n")
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := func(jail string) string {
		return "state: " + dir + "/state.json\njails:\n  a:\n    logpath: " + dir + "/mail.log\n" + jail
	}
	tests := []struct {
		name string
		yaml string   // config c.yaml in dir ("": none)
		args []string // after --config c.yaml (DIR: the directory)
		want string   // substring of stderr
	}{
		{"filter is a character device", config("    filter: /dev/zero\n"), []string{"check"},
			"c.yaml:5: jails.a.filter: filter \"/dev/zero\": /dev/zero: not a regular file (a character device)"},
		{"filter is a named pipe", config("    filter: ./fifo\n"), []string{"check"},
			"c.yaml:5: jails.a.filter: filter \"./fifo\": DIR/fifo: not a regular file (a named pipe)"},
		{"filter is a directory", config("    filter: DIR/\n"), []string{"check"},
			"DIR/: not a regular file (a directory)"},
		{"filter over 1 MiB", config("    filter: big.conf\n"), []string{"check"},
			"c.yaml:5: jails.a.filter: filter \"big.conf\": DIR/big.conf: larger than 1 MiB"},
		{"filter is not a filter", config("    filter: DIR/secret\n"), []string{"check"},
			"c.yaml:5: jails.a.filter: DIR/secret: not a fail2ban filter file (no [Definition] section)"},
		{"regex with a device", "", []string{"regex", "DIR/mail.log", "/dev/zero"},
			"/dev/zero: not a regular file (a character device)"},
		{"regex with a pipe", "", []string{"regex", "DIR/mail.log", "DIR/fifo"},
			"DIR/fifo: not a regular file (a named pipe)"},
		{"regex with a file that is not a filter", "", []string{"regex", "DIR/mail.log", "DIR/secret"},
			"DIR/secret: not a fail2ban filter file (no [Definition] section)"},
		{"config is a device", "", []string{"--config", "/dev/zero", "check"},
			"read config: /dev/zero: not a regular file (a character device)"},
		{"config is a pipe", "", []string{"--config", "DIR/fifo", "check"},
			"read config: DIR/fifo: not a regular file (a named pipe)"},
		{"bantime overflows", config("    filter: ./ok.conf\n    bantime: 4611686018427387903s4611686018427387903s4611686018427387903s\n"), []string{"check"},
			"c.yaml:6: jails.a.bantime: bad duration \"4611686018427387903s4611686018427387903s4611686018427387903s\": more than 100 years"},
		{"findtime overflows", config("    filter: ./ok.conf\n    findtime: 9223372036854775807\n"), []string{"check"},
			"c.yaml:6: jails.a.findtime: bad duration \"9223372036854775807\": more than 100 years"},
		{"--bantime overflows", config("    filter: ./ok.conf\n"), []string{"ban", "--jail", "a", "--bantime", "9223372036854775807", "192.0.2.1"},
			"--bantime: bad duration \"9223372036854775807\""},
		{"--now overflows a ban's end", config("    filter: ./ok.conf\n"), []string{"--now", "9223372036854775807", "ban", "--jail", "a", "192.0.2.1"},
			"--now: want a time in the years 0 to 9999, got \"9223372036854775807\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.args[0] == "ban" || slices.Contains(tt.args, "ban") {
				netnstest.Require(t) // refused before the firewall, unless it is not
			}
			var args []string
			if tt.yaml != "" {
				cfg := filepath.Join(dir, "c.yaml")
				write(t, cfg, strings.ReplaceAll(tt.yaml, "DIR", dir))
				args = append(args, "--config", cfg)
			}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			code, _, stderr := runCLI(t, args...)
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if code != 2 || !strings.Contains(stderr, want) || strings.Contains(stderr, secret) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q, never the content of a file that is not a filter", code, stderr, want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil {
		t.Errorf("a refused command wrote the state")
	}
}
