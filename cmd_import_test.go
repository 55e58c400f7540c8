package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/fail2bantest"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// f2bConfigDir copies fail2ban's stock configuration from its Debian package (jail.conf,
// the paths files, jail.d/defaults-debian.conf and the dovecot filter) into a temp dir and
// adds a jail.local with overrides and a jail.d file, as a user would.
func f2bConfigDir(t *testing.T) string {
	t.Helper()
	fail2bantest.RequireTool(t, "fail2ban-server")
	dir := t.TempDir()
	for _, f := range []string{"jail.conf", "paths-common.conf", "paths-debian.conf", "jail.d/defaults-debian.conf", "filter.d/dovecot.conf"} {
		data, err := os.ReadFile(filepath.Join("/etc/fail2ban", f))
		if err != nil {
			if os.Getenv(fail2bantest.RequireEnv) == "1" {
				t.Fatal(err)
			}
			t.Skipf("fail2ban's stock config is not there: %v", err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		write(t, filepath.Join(dir, f), string(data))
	}
	write(t, filepath.Join(dir, "jail.local"), `[DEFAULT]
bantime  = 1h
findtime = 30m
ignoreip = 127.0.0.1/8 ::1 192.0.2.0/24
           gateway.example.org
banaction = nftables-multiport
bantime.increment = true
bantime.maxtime = 1w

[postfix-sasl]
enabled  = true
maxretry = 3 ; fewer than the default
logpath  = %(known/logpath)s
           /var/log/mail-extra.log

[sshd]
enabled = false
`)
	write(t, filepath.Join(dir, "jail.d", "mail.conf"), `[dovecot]
enabled = true
backend = systemd

[recidive]
enabled = true

[webapp]
enabled = true
filter  = webapp-auth
logpath = /var/log/webapp/*.log
port    = 8080,8443
usedns  = yes
`)
	return dir
}

func TestImportFail2banConfig(t *testing.T) {
	dir := f2bConfigDir(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"fail2ban-scan", "import-fail2ban", "--dir", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	got := strings.ReplaceAll(stdout.String(), dir, "FAIL2BAN")
	golden(t, "import-fail2ban.yaml", got)
	if !strings.Contains(stderr.String(), "jail not carried over: recidive: recidive bans") {
		t.Errorf("stderr does not report the recidive jail:\n%s", stderr.String())
	}

	// The output loads as a config; the only error allowed is the fail2ban:webapp-auth filter,
	// whose file the test's fail2ban tree has but /etc/fail2ban/filter.d does not.
	cfg, err := rules.LoadConfig(strings.NewReader(stdout.String()), "imported.yaml", rules.Env{ReadFile: os.ReadFile})
	var ces rules.ConfigErrors
	if err != nil && !errors.As(err, &ces) {
		t.Fatalf("the imported config does not load: %v", err)
	}
	for _, ce := range ces {
		if !strings.Contains(ce.Msg, "no webapp-auth.conf in filter_dirs") || !strings.HasPrefix(ce.Key, "jails.webapp.") {
			t.Errorf("imported config: %v", ce)
		}
	}
	j := cfg.Jail("postfix-sasl")
	if j == nil {
		t.Fatalf("no postfix-sasl jail in the imported config:\n%s", stdout.String())
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"filter", j.FilterSpec, "postfix[mode=auth]"},
		{"logpath", strings.Join(j.LogPath, " "), "/var/log/mail.log /var/log/mail-extra.log"},
		{"maxretry", j.MaxRetry, 3},
		{"findtime", j.FindTime, int64(1800)},
		{"bantime", j.BanTime, int64(3600)},
		{"ports", strings.Join(j.Ports, " "), "smtp 465 submission imap imaps pop3 pop3s"},
		{"ignoreip", len(j.IgnoreIP), 3},
		{"increment", j.Escalation.Increment, true},
		{"maxtime", j.Escalation.MaxTime, int64(7 * 86400)},
	} {
		if c.got != c.want {
			t.Errorf("postfix-sasl %s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if cfg.Jail("sshd") != nil || strings.Contains(stdout.String(), "  sshd:") {
		t.Errorf("sshd is disabled by jail.local but was carried over")
	}
	for _, want := range []string{
		"# not carried over: [DEFAULT] banaction = nftables-multiport",
		"# not carried over: ignoreip = gateway.example.org",
		"filter: fail2ban:webapp-auth",
		"# not carried over: usedns = yes",
		"journalmatch: [_SYSTEMD_UNIT=dovecot.service]",
		"# [recidive] not carried over:",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestImportFail2banBans(t *testing.T) {
	dir := f2bConfigDir(t)
	tmp := t.TempDir()
	db := filepath.Join(tmp, "fail2ban.sqlite3")
	before := time.Now().Unix()
	fail2bantest.BuildDB(t, db, []string{"postfix-sasl", "apache-auth"},
		[]string{"set", "postfix-sasl", "banip", "192.0.2.10", "2001:db8::1"},
		[]string{"set", "postfix-sasl", "bantime", "-1"},
		[]string{"set", "postfix-sasl", "banip", "203.0.113.9"},
		[]string{"set", "apache-auth", "banip", "198.51.100.99"}, // not enabled in the fail2ban config
	)
	after := time.Now().Unix() + 1 // fail2ban stores its time of ban rounded: int(round(time))
	cfgPath, statePath := filepath.Join(tmp, "etc", "config.yaml"), filepath.Join(tmp, "lib", "state.json")
	now := strconv.FormatInt(after, 10)
	args := []string{"fail2ban-scan", "import-fail2ban", "--dir", dir, "--db", db, "--config", cfgPath, "--state", statePath, "--now", now}

	// Without --write: printed, nothing written.
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{"# 4 active ban(s) in " + db, "[postfix-sasl -> postfix-sasl] 203.0.113.9: to import", "[apache-auth -> -] 198.51.100.99: skipped: jail not in the new config"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("dry output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, p := range []string{cfgPath, statePath} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s written without --write", p)
		}
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(append(args, "--write"), &stdout, &stderr); code != 0 {
		t.Fatalf("--write: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "wrote state "+statePath+" (3 ban(s) imported)") {
		t.Errorf("--write output:\n%s", stdout.String())
	}
	st, err := state.Load(statePath)
	if err != nil {
		t.Fatal(err)
	}
	bans := st.Jails["postfix-sasl"].Bans
	if len(bans) != 3 {
		t.Fatalf("postfix-sasl bans = %v, want 3", bans)
	}
	for ip, permanent := range map[string]bool{"192.0.2.10": false, "2001:db8::1": false, "203.0.113.9": true} {
		b, ok := bans[ip]
		switch {
		case !ok:
			t.Errorf("%s not imported", ip)
		case b.Start < before || b.Start > after:
			t.Errorf("%s start %d, want fail2ban's time of ban in [%d, %d]", ip, b.Start, before, after)
		case permanent && b.End != -1:
			t.Errorf("%s end %d, want permanent", ip, b.End)
		case !permanent && b.End != b.Start+3600:
			t.Errorf("%s end %d, want start + 1h = %d", ip, b.End, b.Start+3600)
		case b.Count != 1:
			t.Errorf("%s count %d, want 1", ip, b.Count)
		}
	}
	if _, ok := st.Jails["apache-auth"]; ok {
		t.Errorf("apache-auth, not in the config, got a state")
	}
	cfg, _, _, err := loadConfig(cfgPath, true)
	if cfg == nil || cfg.Jail("postfix-sasl") == nil {
		t.Fatalf("written config: %v", err)
	}
	if info, err := os.Stat(cfgPath); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("config mode: %v %v", info.Mode(), err)
	}

	// Once written, not again without --force.
	stdout.Reset()
	stderr.Reset()
	if code := run(append(args, "--write"), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), cfgPath+" exists: not overwritten") {
		t.Errorf("second --write: exit %d, stderr %s", code, stderr.String())
	}

	// Two hours later the 1h bans have expired: only the permanent one is active, and it is
	// in the state already.
	stdout.Reset()
	stderr.Reset()
	args[len(args)-1] = strconv.FormatInt(after+7200, 10)
	if code := run(append(args, "--write", "--force"), &stdout, &stderr); code != 0 {
		t.Fatalf("--force: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "203.0.113.9: already banned") || !strings.Contains(stdout.String(), "(0 ban(s) imported)") ||
		strings.Contains(stdout.String(), "192.0.2.10") {
		t.Errorf("--force two hours later:\n%s", stdout.String())
	}
}
