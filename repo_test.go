package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestUnitsBesideFail2ban: the units never stop fail2ban (Conflicts= made systemd stop it, with
// its sshd and dovecot jails, every minute), and run the installed binary.
func TestUnitsBesideFail2ban(t *testing.T) {
	for _, unit := range []string{"fail2ban-scan.service", "fail2ban-scan-report.service"} {
		data, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "Conflicts=") && strings.Contains(l, "fail2ban.service") {
				t.Errorf("%s: %s", unit, l)
			}
			if strings.HasPrefix(l, "ExecStart=") && !strings.HasPrefix(l, "ExecStart=/usr/sbin/fail2ban-scan ") {
				t.Errorf("%s: %s (the package installs /usr/sbin/fail2ban-scan)", unit, l)
			}
		}
	}
}

// TestDocsSelfContained: the repository's files carry the whole contract; none points at a
// document outside it.
func TestDocsSelfContained(t *testing.T) {
	out, err := exec.Command("git", "ls-files").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	outside := ".." + "/shared"
	for _, f := range strings.Fields(string(out)) {
		if f == "repo_test.go" {
			continue
		}
		if data, err := os.ReadFile(f); err == nil && strings.Contains(string(data), outside) {
			t.Errorf("%s points at %s, which users of the repository do not have", f, outside)
		}
	}
}
