package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// TestKilledRuns kills real scan processes with SIGKILL part-way through a big log, again and
// again, then lets one finish: the state must be what one clean run gives — no line counted
// twice, none lost — because positions and failures are saved together, once, atomically.
func TestKilledRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it; skipped with -short")
	}
	netnstest.Isolate(t) // the scans reconcile the firewall
	dir := t.TempDir()
	bin := buildBinary(t)
	var log bytes.Buffer
	for i := 0; i < 200_000; i++ {
		ts := fmt.Sprintf("Aug 15 %02d:%02d:%02d", 20+i/72000, i/1200%60, i/20%60)
		if i%5 == 0 {
			fmt.Fprintf(&log, "%s mx1 postfix/smtpd[%d]: warning: unknown[198.51.%d.%d]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n", ts, i, i/256%4, i%256)
		} else {
			fmt.Fprintf(&log, "%s mx1 postfix/smtpd[%d]: connect from mail.example.org[203.0.113.%d]\n", ts, i, i%256)
		}
	}
	now := "2026-08-15T23:00:00Z"
	runs := map[string]string{}
	for _, name := range []string{"clean", "killed"} {
		d := filepath.Join(dir, name)
		os.Mkdir(d, 0o755)
		write(t, filepath.Join(d, "mail.log"), log.String())
		cfg := filepath.Join(d, "c.yaml")
		write(t, cfg, "state: "+filepath.Join(d, "state.json")+"\njails:\n  postfix-sasl:\n    logpath: ["+filepath.Join(d, "mail.log")+"]\n    maxretry: 40\n    findtime: 1d\n    bantime: 1d\n")
		runs[name] = cfg
	}
	scan := func(cfg string) *exec.Cmd {
		return exec.Command(bin, "--config", cfg, "--now", now, "--log-level", "info", "scan")
	}
	if out, err := scan(runs["clean"]).CombinedOutput(); err != nil {
		t.Fatalf("clean run: %v\n%.2000s", err, out)
	}
	// Kill after the k-th failure it found: at different points of the reading.
	for _, k := range []int{1, 5000, 20000, 39000} {
		cmd := scan(runs["killed"])
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		found := 0
		for sc.Scan() && found < k {
			if strings.Contains(sc.Text(), "] Found ") {
				found++
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if found < k {
			t.Fatalf("the run ended before its %d-th failure (found %d)", k, found)
		}
	}
	if out, err := scan(runs["killed"]).CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%.2000s", err, out)
	}
	status := func(cfg string) jailStatus {
		code, out, stderr := runCLI(t, "--config", cfg, "--now", now, "status", "--json")
		if code != 0 {
			t.Fatalf("status: %s", stderr)
		}
		var st struct {
			Jails map[string]jailStatus `json:"jails"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		s := st.Jails["postfix-sasl"]
		s.Files = nil
		return s
	}
	clean, killed := status(runs["clean"]), status(runs["killed"])
	if clean.TotalFailed != 40_000 || clean.TotalBanned == 0 {
		t.Fatalf("clean run: %d failures, %d bans; want 40000 and some bans", clean.TotalFailed, clean.TotalBanned)
	}
	if !reflect.DeepEqual(clean, killed) {
		t.Errorf("after killed runs the state differs from one clean run:\nclean  %+v\nkilled %+v", clean, killed)
	}
	// The history is saved with the state: the killed runs left no trace in the report.
	report := func(cfg string) (string, reportJSON) {
		code, out, stderr := runCLI(t, "--config", cfg, "--now", now, "report", "--json")
		if code != 0 {
			t.Fatalf("report: %s", stderr)
		}
		return out, runReport(t, "--config", cfg, "--now", now, "report")
	}
	cleanOut, cleanRep := report(runs["clean"])
	killedOut, _ := report(runs["killed"])
	j := cleanRep.Jails["postfix-sasl"]
	if j.Failures != clean.TotalFailed || j.Bans != clean.TotalBanned || j.Lines != 200_000 || j.DistinctIPs != 1024 {
		t.Errorf("clean report: %d failures, %d bans, %d lines, %d IPs; want %d, %d, 200000, 1024",
			j.Failures, j.Bans, j.Lines, j.DistinctIPs, clean.TotalFailed, clean.TotalBanned)
	}
	if cleanOut != killedOut {
		t.Errorf("after killed runs the report differs from one clean run's:\nclean  %s\nkilled %s", cleanOut, killedOut)
	}
}
