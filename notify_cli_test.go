package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
	"github.com/fail2ban-scan/fail2ban-scan/notify"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// injected is what the log lines carry besides the address: a user name made to run a
// shell. It must reach no argv, environment or message.
const injected = `$(touch /tmp/f2b-pwned)';"INJECTED`

// notifyNow is the time of the scans: 2026-08-15 22:40:00 UTC.
const notifyNow = 1786833600

// chat is a real local HTTP server standing in for a chat server's incoming webhook: it
// records the bodies it is sent and answers status.
type chat struct {
	mu     sync.Mutex
	bodies []string
	status int
	srv    *httptest.Server
}

func newChat(t *testing.T) *chat {
	c := &chat{status: 200}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.bodies = append(c.bodies, string(body))
		w.WriteHeader(c.status)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *chat) setStatus(s int) {
	c.mu.Lock()
	c.status = s
	c.mu.Unlock()
}

func (c *chat) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.bodies)
}

// slackText decodes a {"text": ...} body.
func slackText(t *testing.T, body string) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(body), &m); err != nil || len(m) != 1 {
		t.Fatalf("not a Slack message: %s", body)
	}
	return m["text"]
}

// loopbackUp brings lo up in the tests' private network namespace (netnstest.Main puts the
// whole test process in one, where lo starts down), so that httptest servers answer. Outside
// such a namespace lo is the host's, and up. Start the servers before netnstest.Isolate, which
// moves the test's thread, and the sockets it opens from then on, to a namespace of its own.
func loopbackUp(t *testing.T) {
	t.Helper()
	if netnstest.Check() != nil {
		return
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
}

// hookScript writes a command target that stores its argv, its F2B_ environment and its
// standard input, one file each per run, numbered.
func hookScript(t *testing.T) (path, dir string) {
	dir = t.TempDir()
	path = filepath.Join(dir, "hook")
	script := `#!/bin/sh
n=$(ls "` + dir + `" | grep -c '^stdin')
printf '%s\n' "$0" "$@" > "` + dir + `/argv.$n"
env | grep '^F2B_' | sort > "` + dir + `/env.$n"
cat > "` + dir + `/stdin.$n"
`
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

// notifyFixture writes a config whose jail bans at the first failure and notifies as
// notifyYAML says (the entries of a notify: list, indented by 6), and a log where ips each
// fail once, with the injected user name.
func notifyFixture(t *testing.T, top, notifyYAML string, ips []string) (cfg, statePath string) {
	dir := t.TempDir()
	statePath, logPath := filepath.Join(dir, "state.json"), filepath.Join(dir, "mail.log")
	cfg = filepath.Join(dir, "config.yaml")
	write(t, cfg, fmt.Sprintf("state: %s\n%sdefaults:\n  maxretry: 1\n  bantime: 10m\n  max_new_bans_per_run: 0\njails:\n  postfix-sasl:\n    logpath: [%s]\n    notify:\n%s",
		statePath, top, logPath, notifyYAML))
	var b strings.Builder
	for _, ip := range ips {
		b.WriteString(syslogLine(time.Unix(notifyNow-60, 0), "postfix/smtpd[77]: warning: unknown["+ip+"]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username="+injected) + "\n")
	}
	write(t, logPath, b.String())
	return cfg, statePath
}

func addrs(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("198.18.%d.%d", i/250, i%250+1))
	}
	return out
}

func scanAt(t *testing.T, cfg string, now int64, extra ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, append([]string{"--config", cfg, "--now", fmt.Sprint(now), "scan"}, extra...)...)
}

func loadOutbox(t *testing.T, statePath string) map[string][]state.Event {
	t.Helper()
	st, err := state.Load(statePath)
	if err != nil {
		t.Fatal(err)
	}
	return st.Outbox
}

// TestScanNotifies: one scan that bans three addresses sends one digest to each target: the
// Slack webhook, the command and the mail; nothing of the log lines but the addresses reaches
// them, and the command's argv is the config's.
func TestScanNotifies(t *testing.T) {
	loopbackUp(t)
	slack := newChat(t)  // before Isolate: the server listens in the tests' namespace
	netnstest.Isolate(t) // the scan reconciles the firewall
	hook, hookDir := hookScript(t)
	sendmail, mailDir := sendmailScript(t, 0, "")
	secret := filepath.Join(t.TempDir(), "slack.url")
	write(t, secret, slack.srv.URL+"/hooks/T000/B000/SECRETTOKEN\n")
	cfg, statePath := notifyFixture(t, "report:\n  sendmail: "+sendmail+"\n",
		"      - webhook_file: "+secret+"\n"+
			"      - command: ["+hook+", --from, fail2ban-scan]\n"+
			"      - mail_to: admin@example.org\n", []string{"192.0.2.7", "198.51.100.23", "203.0.113.9"})

	code, out, stderr := scanAt(t, cfg, notifyNow, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"notify webhook " + slack.srv.URL + "/…: would send 3 bans in postfix-sasl\n",
		"notify command " + hook + ": would send 3 bans in postfix-sasl\n",
		"notify mail admin@example.org: would send 3 bans in postfix-sasl\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if len(slack.received()) != 0 {
		t.Fatal("the dry run sent a message")
	}

	code, _, stderr = scanAt(t, cfg, notifyNow)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	host, _ := os.Hostname()
	got := slack.received()
	if len(got) != 1 {
		t.Fatalf("slack got %d messages, want 1", len(got))
	}
	wantText := "fail2ban-scan on " + host + ": 3 bans in postfix-sasl\n3 bans in postfix-sasl:\n" +
		"- 192.0.2.7: 1 failure, for 10m until 2026-08-15 22:49:00 UTC (1st ban: bantime 10m)\n" +
		"- 198.51.100.23: 1 failure, for 10m until 2026-08-15 22:49:00 UTC (1st ban: bantime 10m)\n" +
		"- 203.0.113.9: 1 failure, for 10m until 2026-08-15 22:49:00 UTC (1st ban: bantime 10m)\n"
	if text := slackText(t, got[0]); text != wantText {
		t.Errorf("slack text:\n%s\nwant:\n%s", text, wantText)
	}
	argv, _ := os.ReadFile(filepath.Join(hookDir, "argv.0"))
	if string(argv) != hook+"\n--from\nfail2ban-scan\n" {
		t.Errorf("command argv %q, want the config's", argv)
	}
	if env, _ := os.ReadFile(filepath.Join(hookDir, "env.0")); string(env) != "F2B_COUNT=3\n" {
		t.Errorf("command env %q: want F2B_COUNT alone for 3 events", env)
	}
	stdin, _ := os.ReadFile(filepath.Join(hookDir, "stdin.0"))
	var p notify.Payload
	if err := json.Unmarshal(stdin, &p); err != nil || len(p.Events) != 3 || p.Events[0].IP != "192.0.2.7" || p.Events[0].Failures != 1 {
		t.Errorf("command stdin %s (%v)", stdin, err)
	}
	msg, _ := os.ReadFile(filepath.Join(mailDir, "message"))
	if !strings.Contains(string(msg), "To: admin@example.org\r\n") || !strings.Contains(string(msg), "Subject: fail2ban-scan on "+host+": 3 bans in postfix-sasl\r\n") {
		t.Errorf("mail:\n%s", msg)
	}
	for name, s := range map[string]string{"slack": got[0], "argv": string(argv), "stdin": string(stdin), "mail": string(msg), "stderr": stderr} {
		if strings.Contains(s, "INJECTED") || strings.Contains(s, "pwned") {
			t.Errorf("%s carries the log line's text:\n%s", name, s)
		}
	}
	if strings.Contains(stderr, "SECRETTOKEN") || !strings.Contains(stderr, "INFO    webhook "+slack.srv.URL+"/…: sent 3 bans in postfix-sasl\n") {
		t.Errorf("log:\n%s", stderr)
	}
	if ob := loadOutbox(t, statePath); ob != nil {
		t.Errorf("outbox after delivery: %v", ob)
	}

	// The next run bans nothing new: no message, though it reconciles the same bans.
	if code, _, stderr := scanAt(t, cfg, notifyNow+60); code != 0 || len(slack.received()) != 1 {
		t.Errorf("a run without news: exit %d, %d messages: %s", code, len(slack.received()), stderr)
	}
	// Expiry is an unban, which this target does not want (on: [ban] by default); flush and
	// a later scan restore the bans without news either.
	if code, _, stderr := runCLI(t, "--config", cfg, "flush"); code != 0 {
		t.Fatalf("flush: %s", stderr)
	}
	if code, _, stderr := scanAt(t, cfg, notifyNow+120); code != 0 || len(slack.received()) != 1 {
		t.Errorf("bans restored by a reconcile: exit %d, %d messages: %s", code, len(slack.received()), stderr)
	}
}

// TestScanNotifyRetry: a chat server that fails loses nothing: the events wait in the state,
// and a later run sends them, with its own, in one message; the token never shows in the log.
func TestScanNotifyRetry(t *testing.T) {
	loopbackUp(t)
	slack := newChat(t)
	netnstest.Isolate(t)
	slack.setStatus(503)
	cfg, statePath := notifyFixture(t, "",
		"      - webhook: "+slack.srv.URL+"/hooks/SECRETTOKEN\n        on: [ban, unban]\n", []string{"192.0.2.7", "198.51.100.23"})
	code, _, stderr := scanAt(t, cfg, notifyNow)
	if code != 0 {
		t.Fatalf("a failed notification changed the exit status to %d: %s", code, stderr)
	}
	want := "WARNING webhook " + slack.srv.URL + "/…: not delivered, 2 events kept for the next run: webhook " + slack.srv.URL + "/…: HTTP 503 Service Unavailable"
	if !strings.Contains(stderr, want) || strings.Contains(stderr, "SECRETTOKEN") {
		t.Errorf("log lacks %q, or shows the token:\n%s", want, stderr)
	}
	ob := loadOutbox(t, statePath)
	if len(ob) != 1 {
		t.Fatalf("outbox %v, want the 2 bans of one target", ob)
	}
	for _, evs := range ob {
		if len(evs) != 2 || evs[0].IP != "192.0.2.7" || evs[1].IP != "198.51.100.23" {
			t.Fatalf("outbox %v", evs)
		}
	}
	if st, _ := state.Load(statePath); len(st.Jails["postfix-sasl"].Bans) != 2 {
		t.Fatalf("the bans are not in the state")
	}

	// Still down, then up at the expiry 10 minutes later: the unbans join the bans.
	scanAt(t, cfg, notifyNow+60)
	slack.setStatus(200)
	code, _, stderr = scanAt(t, cfg, notifyNow+600)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got := slack.received()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3 (two refused, one taken)", len(got))
	}
	text := slackText(t, got[2])
	if !strings.HasPrefix(text, "fail2ban-scan on ") || !strings.Contains(text, ": 2 bans in postfix-sasl, 2 unbans in postfix-sasl\n") ||
		!strings.Contains(text, "- 192.0.2.7 (expired)\n") {
		t.Errorf("retry text:\n%s", text)
	}
	if !strings.Contains(stderr, "sent 2 bans in postfix-sasl, 2 unbans in postfix-sasl (2 from earlier runs)") {
		t.Errorf("log:\n%s", stderr)
	}
	if ob := loadOutbox(t, statePath); ob != nil {
		t.Errorf("outbox after delivery: %v", ob)
	}
}

// TestScanNotifyTimeBound: a chat server that never answers holds the run notify_timeout at
// most; the bans are saved and in force, and the events wait in the state.
func TestScanNotifyTimeBound(t *testing.T) {
	loopbackUp(t)
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hangs until the test ends (bounded, should the run not give up)
		case <-release:
		case <-time.After(time.Minute):
		}
	}))
	defer hung.Close()
	defer close(release)
	other := newChat(t)
	netnstest.Isolate(t)
	cfg, statePath := notifyFixture(t, "notify_timeout: 1s\n",
		"      - webhook: "+hung.URL+"/hooks/SECRETTOKEN\n        timeout: 30s\n      - webhook: "+other.srv.URL+"/x\n        format: json\n", []string{"192.0.2.7"})
	start := time.Now()
	code, _, stderr := scanAt(t, cfg, notifyNow)
	elapsed := time.Since(start)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if elapsed > 5*time.Second { // 1 s for the notifications, the scan and iptables well under the rest
		t.Errorf("the run took %s with notify_timeout 1s", elapsed)
	}
	if !strings.Contains(stderr, "WARNING webhook "+hung.URL+"/…: not delivered, 1 event kept for the next run: webhook "+hung.URL+"/…: context deadline exceeded") {
		t.Errorf("log:\n%s", stderr)
	}
	if len(other.received()) != 1 {
		t.Errorf("the answering target got %d messages, want 1", len(other.received()))
	}
	ob := loadOutbox(t, statePath)
	if len(ob) != 1 {
		t.Errorf("outbox %v, want the hung target's event alone", ob)
	}
	code, out, _ := runCLI(t, "--config", cfg, "--now", fmt.Sprint(notifyNow), "status", "postfix-sasl")
	if code != 0 || !strings.Contains(out, "192.0.2.7") {
		t.Errorf("the ban is not in force:\n%s", out)
	}
	if out, err := exec.Command("iptables", "-S", "f2b-postfix-sasl").CombinedOutput(); err != nil || !strings.Contains(string(out), "192.0.2.7") {
		t.Errorf("the firewall lacks the ban: %v\n%s", err, out)
	}
}

// TestScanNotify5000: 5000 bans in one run are one message per target, within the bound.
func TestScanNotify5000(t *testing.T) {
	loopbackUp(t)
	slack, raw := newChat(t), newChat(t)
	netnstest.Isolate(t)
	hook, hookDir := hookScript(t)
	sendmail, mailDir := sendmailScript(t, 0, "")
	cfg, statePath := notifyFixture(t, "report:\n  sendmail: "+sendmail+"\n",
		"      - webhook: "+slack.srv.URL+"/hooks/x\n"+
			"      - webhook: "+raw.srv.URL+"/events\n        format: json\n"+
			"      - command: ["+hook+"]\n"+
			"      - mail_to: admin@example.org\n", addrs(5000))
	code, _, stderr := scanAt(t, cfg, notifyNow)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, lastLines(stderr, 5))
	}
	if n := strings.Count(stderr, "WARNING"); n > 0 {
		t.Errorf("%d warnings:\n%s", n, lastLines(stderr, 5))
	}
	got := slack.received()
	if len(got) != 1 {
		t.Fatalf("slack got %d messages, want 1", len(got))
	}
	text := slackText(t, got[0])
	if lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n"); len(lines) != 23 || !strings.HasSuffix(lines[0], ": 5000 bans in postfix-sasl") ||
		lines[22] != "- and 4980 more" {
		t.Errorf("slack text (%d lines):\n%s", len(lines), text)
	}
	var p notify.Payload
	if got := raw.received(); len(got) != 1 || json.Unmarshal([]byte(got[0]), &p) != nil || len(p.Events) != 5000 {
		t.Errorf("json webhook: %d messages, %d events", len(got), len(p.Events))
	}
	if runs, _ := filepath.Glob(filepath.Join(hookDir, "stdin.*")); len(runs) != 1 {
		t.Errorf("the command ran %d times, want once", len(runs))
	}
	if stdin, _ := os.ReadFile(filepath.Join(hookDir, "stdin.0")); json.Unmarshal(stdin, &p) != nil || len(p.Events) != 5000 {
		t.Errorf("command stdin: %d events", len(p.Events))
	}
	if msg, _ := os.ReadFile(filepath.Join(mailDir, "message")); !strings.Contains(string(msg), "5000 bans in postfix-sasl") {
		t.Errorf("mail:\n%.500s", msg)
	}
	if ob := loadOutbox(t, statePath); ob != nil {
		t.Errorf("outbox: %d targets", len(ob))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestBanUnbanNotify: ban and unban by hand are news too, marked by hand, one event in the
// command's environment.
func TestBanUnbanNotify(t *testing.T) {
	loopbackUp(t)
	netnstest.Isolate(t)
	hook, hookDir := hookScript(t)
	cfg, _ := notifyFixture(t, "", "      - command: ["+hook+"]\n        on: [ban, unban]\n", nil)
	args := []string{"--config", cfg, "--now", fmt.Sprint(notifyNow)}
	if code, _, stderr := runCLI(t, append(args, "ban", "--jail", "postfix-sasl", "--bantime", "1h", "192.0.2.7")...); code != 0 {
		t.Fatalf("ban: %s", stderr)
	}
	if code, _, stderr := runCLI(t, append(args, "unban", "192.0.2.7")...); code != 0 {
		t.Fatalf("unban: %s", stderr)
	}
	for i, want := range []string{
		"F2B_BANTIME=3600\nF2B_COUNT=1\nF2B_END=1786837200\nF2B_EVENT=ban\nF2B_FAILURES=0\nF2B_IP=192.0.2.7\nF2B_JAIL=postfix-sasl\n",
		"F2B_BANTIME=3600\nF2B_COUNT=1\nF2B_END=1786837200\nF2B_EVENT=unban\nF2B_FAILURES=0\nF2B_IP=192.0.2.7\nF2B_JAIL=postfix-sasl\n",
	} {
		env, _ := os.ReadFile(filepath.Join(hookDir, fmt.Sprintf("env.%d", i)))
		if string(env) != want {
			t.Errorf("run %d: env\n%s\nwant\n%s", i, env, want)
		}
		stdin, _ := os.ReadFile(filepath.Join(hookDir, fmt.Sprintf("stdin.%d", i)))
		var p notify.Payload
		if json.Unmarshal(stdin, &p) != nil || len(p.Events) != 1 || !p.Events[0].Manual {
			t.Errorf("run %d: stdin %s, want one event by hand", i, stdin)
		}
	}
}

// TestCheckHidesSecrets: check shows no webhook URL, from the config or from webhook_file,
// and warns about a webhook_file that other users can read.
func TestCheckHidesSecrets(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "slack.url")
	write(t, secret, "https://hooks.slack.com/services/T000/B000/SECRETTOKEN\n")
	if err := os.Chmod(secret, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	write(t, cfg, "state: "+filepath.Join(dir, "state.json")+"\nfail2ban_socket:\njails:\n  postfix-sasl:\n    logpath: [/dev/null]\n    notify:\n"+
		"      - webhook_file: "+secret+"\n"+
		"      - webhook: https://hooks.slack.com/services/T000/B000/SECRETTOKEN\n"+
		"      - webhook: https://chat.example.org/hooks/SECRETTOKEN\n        headers: {Authorization: Bearer SECRETTOKEN}\n")
	code, out, stderr := runCLI(t, "--config", cfg, "check")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "WARNING " + cfg + ":7: jails.postfix-sasl.notify[0].webhook_file: " + secret + " is readable by every user (mode 0644): it holds a secret, chmod o-r it; this target fails until it is fixed"; !strings.Contains(stderr, want) {
		t.Errorf("check lacks %q:\n%s", want, stderr)
	}
	write(t, cfg, strings.Replace(string(must(os.ReadFile(cfg))), "logpath: [/dev/null]", "logpath: [/dev/null]\n    maxretry: 0", 1)+
		"      - webhook: ftp://SECRETTOKEN@example.org/\n")
	code, out2, stderr2 := runCLI(t, "--config", cfg, "check")
	if code != 2 || !strings.Contains(stderr2, "notify[3].webhook: not an http or https URL") {
		t.Errorf("exit %d: %s", code, stderr2)
	}
	for _, s := range []string{out, stderr, out2, stderr2} {
		if strings.Contains(s, "SECRETTOKEN") {
			t.Errorf("check shows a secret:\n%s", s)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
