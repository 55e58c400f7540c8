package fail2bantest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BuildDB makes a real fail2ban database at dbPath with fail2ban's own code: it starts
// fail2ban-server with jails of the given names (no actions, so no firewall is touched, and a
// bantime of 1h), runs each of commands with fail2ban-client against it ("set JAIL banip IP",
// "set JAIL bantime -1"), then stops the server with "stop" and waits for it to exit, so that
// the database is complete on disk.
func BuildDB(t *testing.T, dbPath string, jails []string, commands ...[]string) {
	t.Helper()
	bin := RequireTool(t, "fail2ban-server")
	client := RequireTool(t, "fail2ban-client")
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	sock := filepath.Join(dir, "f2b.sock")
	pidFile := filepath.Join(dir, "f2b.pid")
	serverLog := filepath.Join(dir, "fail2ban.log")
	logFile := filepath.Join(dir, "empty.log")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mainConf := fmt.Sprintf("[Definition]\nloglevel = INFO\nlogtarget = %s\nsocket = %s\npidfile = %s\ndbfile = %s\ndbpurgeage = 1d\n",
		serverLog, sock, pidFile, dbPath)
	jailConf := fmt.Sprintf("[DEFAULT]\nbackend = polling\nlogpath = %s\nfilter =\naction =\nbanaction =\nbantime = 1h\n", logFile)
	for _, j := range jails {
		jailConf += fmt.Sprintf("\n[%s]\nenabled = true\nfailregex = ^%s failure from <HOST>$\n", j, j)
	}
	for name, text := range map[string]string{"fail2ban.conf": mainConf, "jail.conf": jailConf} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "-f", "-x", "-c", conf, "-s", sock, "-p", pidFile, "--logtarget", serverLog)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()
	fail := func(format string, args ...any) {
		t.Helper()
		b, _ := os.ReadFile(out.Name())
		log, _ := os.ReadFile(serverLog)
		t.Fatalf(format+"\nstdout:\n%s\nlog:\n%s", append(args, b, log)...)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(out.Name())
		if strings.Contains(string(b), "Server ready") {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			fail("%s exited before ready: %v", cmd, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			fail("%s not ready after 15s", cmd)
		}
	}
	for _, c := range append(commands, []string{"stop"}) {
		args := append([]string{"-s", sock}, c...)
		if b, err := exec.Command(client, args...).CombinedOutput(); err != nil {
			fail("fail2ban-client %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			fail("%s: %v", cmd, err)
		}
	case <-time.After(15 * time.Second):
		fail("%s still running 15s after stop", cmd)
	}
}
