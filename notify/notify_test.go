package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

func TestMain(m *testing.M) {
	time.Local = time.UTC
	os.Exit(m.Run())
}

var now = time.Unix(1786833600, 0) // 2026-08-15 22:40:00 UTC

func ban(jail, ip string, failures int) state.Event {
	return state.Event{Kind: "ban", Jail: jail, IP: ip, Time: now.Unix(), Failures: failures,
		Start: now.Unix() - 60, End: now.Unix() + 540, BanTime: 600, Reason: "1st ban: bantime 10m"}
}

func bans(jail string, n int) []state.Event {
	var out []state.Event
	for i := range n {
		out = append(out, ban(jail, fmt.Sprintf("198.18.%d.%d", i/250, i%250+1), 5))
	}
	return out
}

func TestDigestText(t *testing.T) {
	perm := state.Event{Kind: "ban", Jail: "submission", IP: "203.0.113.0/24", Start: 1, End: -1, BanTime: -1, Manual: true, Reason: "1st ban: bantime permanent given by hand"}
	unban := state.Event{Kind: "unban", Jail: "postfix-sasl", IP: "192.0.2.7", Start: 1, End: 2, BanTime: 1, Reason: "expired"}
	d := Digest{Host: "mx1", Events: append(append(bans("postfix-sasl", 22), perm), unban)}
	var want strings.Builder
	want.WriteString("fail2ban-scan on mx1: 22 bans in postfix-sasl, 1 ban in submission, 1 unban in postfix-sasl\n22 bans in postfix-sasl:\n")
	for i := range 20 {
		fmt.Fprintf(&want, "- 198.18.0.%d: 5 failures, for 10m until 2026-08-15 22:49:00 UTC (1st ban: bantime 10m)\n", i+1)
	}
	want.WriteString("- and 2 more\n1 ban in submission:\n- 203.0.113.0/24: by hand, permanent (1st ban: bantime permanent given by hand)\n" +
		"1 unban in postfix-sasl:\n- 192.0.2.7 (expired)\n")
	if got := d.Text(); got != want.String() {
		t.Errorf("text:\n%s\nwant:\n%s", got, want.String())
	}
	if env := (Digest{Events: []state.Event{ban("j", "192.0.2.7", 3)}}).Env(); !slices.Equal(env, []string{
		"F2B_COUNT=1", "F2B_EVENT=ban", "F2B_JAIL=j", "F2B_IP=192.0.2.7", "F2B_FAILURES=3", "F2B_BANTIME=600", "F2B_END=1786834140"}) {
		t.Errorf("env of one event: %q", env)
	}
	if env := d.Env(); !slices.Equal(env, []string{"F2B_COUNT=24"}) {
		t.Errorf("env of 24 events: %q", env)
	}
}

// hook is a real HTTP server that records what it receives and answers with status.
type hook struct {
	mu     sync.Mutex
	bodies [][]byte
	header http.Header
	status int
	srv    *httptest.Server
}

func newHook(t *testing.T, status int) *hook {
	h := &hook{status: status}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies, h.header = append(h.bodies, body), r.Header.Clone()
		st := h.status
		h.mu.Unlock()
		w.WriteHeader(st)
		fmt.Fprint(w, "no_service\n")
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) received() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.bodies)
}

func target(id string, s Sender) *Target {
	return &Target{ID: id, Name: id, Timeout: 5 * time.Second, Sender: s, Wants: func(state.Event) bool { return true }}
}

func TestWebhook(t *testing.T) {
	slack, raw := newHook(t, 200), newHook(t, 204)
	events := bans("postfix-sasl", 3)
	targets := []*Target{
		target("slack", Webhook{URL: slack.srv.URL + "/hooks/SECRET", Name: "slack", Format: "slack", Agent: "test",
			Headers: map[string]string{"X-Token": "t0k"}}),
		target("raw", Webhook{URL: raw.srv.URL, Name: "raw", Format: "json", Agent: "test"}),
	}
	outbox := map[string][]state.Event{}
	results := Send(context.Background(), Plan(targets, events, outbox), outbox, "mx1", now, 5*time.Second)
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Target.Name, r.Err)
		}
	}
	if len(outbox) != 0 {
		t.Errorf("outbox after delivery: %v", outbox)
	}
	got := slack.received()
	if len(got) != 1 {
		t.Fatalf("slack got %d messages, want 1", len(got))
	}
	var msg map[string]string
	if err := json.Unmarshal(got[0], &msg); err != nil || len(msg) != 1 {
		t.Fatalf("slack body %s: %v; want {\"text\": ...}", got[0], err)
	}
	if want := (Digest{Host: "mx1", Events: events}).Text(); msg["text"] != want {
		t.Errorf("text %q, want %q", msg["text"], want)
	}
	if ct, tok := slack.header.Get("Content-Type"), slack.header.Get("X-Token"); ct != "application/json" || tok != "t0k" {
		t.Errorf("Content-Type %q, X-Token %q", ct, tok)
	}
	got = raw.received()
	var p Payload
	if len(got) != 1 || json.Unmarshal(got[0], &p) != nil {
		t.Fatalf("json webhook got %q", got)
	}
	if p.Host != "mx1" || p.Summary != "3 bans in postfix-sasl" || !slices.Equal(p.Events, events) {
		t.Errorf("payload %+v", p)
	}
}

// TestRetry: a failed delivery keeps its events, the next run sends them with its own in one
// digest, and the outbox keeps at most MaxPending, the newest.
func TestRetry(t *testing.T) {
	h := newHook(t, 500)
	tg := target("chat", Webhook{URL: h.srv.URL + "/hooks/SECRET", Name: "webhook " + h.srv.URL + "/…", Format: "json"})
	outbox := map[string][]state.Event{}
	first := bans("a", 150)
	r := Send(context.Background(), Plan([]*Target{tg}, first, outbox), outbox, "mx1", now, time.Second)
	if len(r) != 1 || r[0].Err == nil {
		t.Fatalf("results %+v, want one failure", r)
	}
	if msg := r[0].Err.Error(); !strings.Contains(msg, `HTTP 500 Internal Server Error: "no_service"`) || strings.Contains(msg, "SECRET") {
		t.Errorf("error %q: want the status and the answer, without the URL's path", msg)
	}
	if r[0].Dropped != 50 || !slices.Equal(outbox["chat"], first[50:]) {
		t.Fatalf("dropped %d, outbox holds %d events; want the newest 100", r[0].Dropped, len(outbox["chat"]))
	}
	h.mu.Lock()
	h.status = 200
	h.mu.Unlock()
	second := bans("b", 2)
	r = Send(context.Background(), Plan([]*Target{tg}, second, outbox), outbox, "mx1", now, time.Second)
	if r[0].Err != nil || r[0].Pending != 100 || len(outbox) != 0 {
		t.Fatalf("retry: %+v, outbox %d", r[0], len(outbox))
	}
	got := h.received()
	var p Payload
	if err := json.Unmarshal(got[len(got)-1], &p); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Events, append(first[50:], second...)) || p.Summary != "100 bans in a, 2 bans in b" {
		t.Errorf("the retry sent %d events (%s), want the 100 kept and the 2 new ones", len(p.Events), p.Summary)
	}
	if n := Forget(map[string][]state.Event{"gone": first[:3], "chat": first[:1]}, []*Target{tg}); n != 3 {
		t.Errorf("Forget removed %d events, want the 3 of the unknown target", n)
	}
}

// TestTimeBound: a webhook that never answers and a command that never ends cost the run
// notify_timeout at most; the target that answers is delivered, the others keep their events.
func TestTimeBound(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hangs until the test ends (bounded, should Send not return)
		case <-release:
		case <-time.After(time.Minute):
		}
	}))
	defer hung.Close()
	defer close(release)
	ok := newHook(t, 200)
	dir := t.TempDir()
	script := filepath.Join(dir, "hang")
	// The child in the background keeps the output open: the whole process group is killed.
	if err := os.WriteFile(script, []byte("#!/bin/sh\nsleep 60 &\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	targets := []*Target{
		target("hung", Webhook{URL: hung.URL + "/SECRET", Name: "hung", Format: "slack"}),
		target("cmd", Command{Argv: []string{script}}),
		target("ok", Webhook{URL: ok.srv.URL, Name: "ok", Format: "slack"}),
	}
	targets[1].Timeout = 300 * time.Millisecond // its own timeout, shorter than the run's
	outbox := map[string][]state.Event{}
	start := time.Now()
	results := Send(context.Background(), Plan(targets, bans("a", 2), outbox), outbox, "mx1", now, time.Second)
	elapsed := time.Since(start)
	if elapsed > 3*time.Second { // 1 s, and the grace for a program that ignores its kill
		t.Errorf("Send took %s with notify_timeout 1s", elapsed)
	}
	for i, want := range []bool{false, false, true} {
		if got := results[i].Err == nil; got != want {
			t.Errorf("%s: err %v", results[i].Target.Name, results[i].Err)
		}
	}
	if !errors.Is(results[0].Err, context.DeadlineExceeded) || strings.Contains(results[0].Err.Error(), "SECRET") {
		t.Errorf("hung webhook: %v; want a deadline, without the URL's path", results[0].Err)
	}
	if !errors.Is(results[1].Err, context.DeadlineExceeded) {
		t.Errorf("hung command: %v; want a deadline", results[1].Err)
	}
	if len(outbox["hung"]) != 2 || len(outbox["cmd"]) != 2 || outbox["ok"] != nil {
		t.Errorf("outbox %v", outbox)
	}
}

// TestCommand runs a real script: argv from the config only, the events as JSON on stdin,
// F2B_ variables for a single event only.
func TestCommand(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hook")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.argv\"\nenv | grep ^F2B_ | sort > \"$0.env.$F2B_COUNT\"\ncat > \"$0.stdin.$F2B_COUNT\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("F2B_IP", "inherited") // never passed on: only Env sets F2B_ variables
	for _, events := range [][]state.Event{bans("a", 1), bans("a", 3)} {
		tg := target("cmd", Command{Argv: []string{script, "--flag", "two words"}})
		outbox := map[string][]state.Event{}
		if r := Send(context.Background(), Plan([]*Target{tg}, events, outbox), outbox, "mx1", now, time.Second); r[0].Err != nil {
			t.Fatal(r[0].Err)
		}
		n := len(events)
		if argv, _ := os.ReadFile(script + ".argv"); string(argv) != "--flag\ntwo words\n" {
			t.Errorf("argv %q", argv)
		}
		env, _ := os.ReadFile(fmt.Sprintf("%s.env.%d", script, n))
		want := "F2B_COUNT=3\n"
		if n == 1 {
			want = "F2B_BANTIME=600\nF2B_COUNT=1\nF2B_END=1786834140\nF2B_EVENT=ban\nF2B_FAILURES=5\nF2B_IP=198.18.0.1\nF2B_JAIL=a\n"
		}
		if string(env) != want {
			t.Errorf("%d events: env\n%s\nwant\n%s", n, env, want)
		}
		stdin, _ := os.ReadFile(fmt.Sprintf("%s.stdin.%d", script, n))
		var p Payload
		if err := json.Unmarshal(stdin, &p); err != nil || !slices.Equal(p.Events, events) {
			t.Errorf("stdin %s (%v)", stdin, err)
		}
	}
	failing := filepath.Join(dir, "fail")
	os.WriteFile(failing, []byte("#!/bin/sh\necho 'chat server down' >&2\nexit 3\n"), 0o755)
	err := Command{Argv: []string{failing}}.Send(context.Background(), Digest{Events: bans("a", 1)})
	if err == nil || err.Error() != failing+": exit status 3: chat server down" {
		t.Errorf("error %v", err)
	}
}

func TestWebhookErrorsHideTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/hooks/SECRET?token=SECRET"
	srv.Close() // connection refused from now on
	err := Webhook{URL: url, Name: "webhook x"}.Send(context.Background(), Digest{Events: bans("a", 1)})
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.HasPrefix(err.Error(), "webhook x: ") {
		t.Errorf("error %v; want one naming the target, without the URL", err)
	}
	err = Webhook{Err: "/etc/f2b/slack.url is readable by every user"}.Send(context.Background(), Digest{})
	if err == nil || err.Error() != "/etc/f2b/slack.url is readable by every user" {
		t.Errorf("a target whose URL could not be read: %v", err)
	}
}
