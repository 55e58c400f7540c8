package crowdsec

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/crowdsectest"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

func TestParseDecision(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, tt := range []struct {
		name      string
		d         Decision
		wantKey   string
		wantUntil int64
		wantErr   string
	}{
		{"ip", Decision{ID: 1, Type: "ban", Scope: "Ip", Value: "192.0.2.7", Duration: "3h59m58.5s"}, "192.0.2.7", 1_000_000 + 14398, ""},
		{"ip lower case", Decision{ID: 1, Type: "ban", Scope: "ip", Value: "2001:db8::7", Duration: "10m"}, "2001:db8::7", 1_000_600, ""},
		{"mapped", Decision{ID: 1, Type: "ban", Scope: "Ip", Value: "::ffff:192.0.2.7", Duration: "10m"}, "192.0.2.7", 1_000_600, ""},
		{"range", Decision{ID: 1, Type: "ban", Scope: "Range", Value: "203.0.113.9/24", Duration: "1h"}, "203.0.113.0/24", 1_003_600, ""},
		{"range of one", Decision{ID: 1, Type: "ban", Scope: "Range", Value: "203.0.113.9/32", Duration: "1h"}, "203.0.113.9", 1_003_600, ""},
		{"captcha", Decision{ID: 2, Type: "captcha", Scope: "Ip", Value: "192.0.2.7", Duration: "1h"}, "", 0, `decision 2: type "captcha", not ban`},
		{"country", Decision{ID: 3, Type: "ban", Scope: "Country", Value: "FR", Duration: "1h"}, "", 0, `decision 3: scope "Country", not Ip nor Range`},
		{"bad ip", Decision{ID: 4, Type: "ban", Scope: "Ip", Value: "192.0.2.300", Duration: "1h"}, "", 0, `value "192.0.2.300" is not an address`},
		{"range as ip", Decision{ID: 4, Type: "ban", Scope: "Ip", Value: "192.0.2.0/24", Duration: "1h"}, "", 0, `is not an address`},
		{"zone", Decision{ID: 4, Type: "ban", Scope: "Ip", Value: "fe80::1%eth0", Duration: "1h"}, "", 0, `is not an address`},
		{"bad range", Decision{ID: 5, Type: "ban", Scope: "Range", Value: "x/8", Duration: "1h"}, "", 0, `value "x/8" is not a prefix`},
		{"bad duration", Decision{ID: 6, Type: "ban", Scope: "Ip", Value: "192.0.2.7", Duration: "soon"}, "", 0, `decision 6: duration "soon"`},
		{"over", Decision{ID: 7, Type: "ban", Scope: "Ip", Value: "192.0.2.7", Duration: "-3s"}, "", 0, `duration "-3s" is over`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key, p, until, err := ParseDecision(tt.d, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || key != tt.wantKey || until != tt.wantUntil || (p.IsSingleIP() && p.Addr().String() != key) {
				t.Fatalf("got %q %d %v, want %q %d", key, until, err, tt.wantKey, tt.wantUntil)
			}
		})
	}
}

// TestApply: a startup answer replaces the fleet, later ones add and delete; this host's own
// decisions, origins not chosen and malformed decisions are left out, the last with a reason.
func TestApply(t *testing.T) {
	id := Identity{MachineID: "mx1", ScenarioPrefix: "fail2ban-scan", Origins: []string{"cscli"},
		Ignored: func(p netip.Prefix) bool { return p.Overlaps(netip.MustParsePrefix("10.0.0.0/8")) }}
	now := time.Unix(1_000_000, 0)
	cs := &state.Crowdsec{Fleet: state.FleetBans{99: {Value: "198.51.100.1", Until: 2_000_000}}}
	r := Apply(cs, &Stream{New: []Decision{
		{ID: 1, Type: "ban", Scope: "Ip", Value: "192.0.2.1", Duration: "1h", Origin: Origin, Scenario: "fail2ban-scan/postfix-sasl@mx2"},
		{ID: 2, Type: "ban", Scope: "Ip", Value: "192.0.2.2", Duration: "1h", Origin: Origin, Scenario: "fail2ban-scan/postfix-sasl@mx1"},
		{ID: 3, Type: "ban", Scope: "Ip", Value: "192.0.2.3", Duration: "1h", Origin: "cscli", Scenario: "manual"},
		{ID: 4, Type: "ban", Scope: "Ip", Value: "192.0.2.4", Duration: "1h", Origin: "CAPI", Scenario: "ssh-bf"},
		{ID: 5, Type: "ban", Scope: "Ip", Value: "nope", Duration: "1h", Origin: "cscli", Scenario: "manual"},
		{ID: 7, Type: "ban", Scope: "Range", Value: "10.1.0.0/16", Duration: "1h", Origin: "cscli", Scenario: "manual"},
	}}, true, id, now)
	if r.Added != 2 || r.Own != 1 || r.Others != 1 || len(r.Skipped) != 1 || len(r.Ignored) != 1 || len(cs.Fleet) != 2 || cs.Fleet[1].Value != "192.0.2.1" || cs.Fleet[3].Until != 1_003_600 {
		t.Fatalf("startup: %+v, fleet %v", r, cs.Fleet)
	}
	r = Apply(cs, &Stream{Deleted: []Decision{{ID: 1}}, New: []Decision{
		{ID: 6, Type: "ban", Scope: "Range", Value: "203.0.113.0/24", Duration: "30s", Origin: Origin, Scenario: "fail2ban-scan/x@mx3"}}}, false, id, now)
	if r.Added != 1 || r.Removed != 1 || len(cs.Fleet) != 2 || cs.Fleet[6].Value != "203.0.113.0/24" {
		t.Fatalf("incremental: %+v, fleet %v", r, cs.Fleet)
	}
	if n := Expire(cs, now.Unix()+30); n != 1 || len(cs.Fleet) != 1 {
		t.Fatalf("expire: %d gone, fleet %v", n, cs.Fleet)
	}
	// A startup answer again: only the difference counts.
	r = Apply(cs, &Stream{New: []Decision{
		{ID: 3, Type: "ban", Scope: "Ip", Value: "192.0.2.3", Duration: "1h", Origin: "cscli", Scenario: "manual"},
		{ID: 8, Type: "ban", Scope: "Ip", Value: "192.0.2.8", Duration: "1h", Origin: "cscli", Scenario: "manual"},
	}}, true, id, now)
	if r.Added != 1 || r.Removed != 0 || len(cs.Fleet) != 2 {
		t.Fatalf("startup again: %+v, fleet %v", r, cs.Fleet)
	}
}

// TestLAPI pushes bans as one machine and pulls them as another host's bouncer, deletes them,
// and renews a JWT the LAPI refuses; against a real LAPI.
func TestLAPI(t *testing.T) {
	l := crowdsectest.Start(t)
	l.AddMachine("mx1", "password-of-mx1")
	ctx := context.Background()
	c1 := &Client{URL: l.URL, MachineID: "mx1", Password: "password-of-mx1", BouncerKey: l.AddBouncer("mx1")}
	c2 := &Client{URL: l.URL, BouncerKey: l.AddBouncer("mx2")}
	id1 := Identity{MachineID: "mx1", ScenarioPrefix: "fail2ban-scan"}
	id2 := Identity{MachineID: "mx2", ScenarioPrefix: "fail2ban-scan"}
	now := time.Now()
	cs1, cs2 := &state.Crowdsec{}, &state.Crowdsec{}
	cs1.Queue(
		state.Push{Kind: state.PushBan, Jail: "postfix-sasl", IP: "192.0.2.7", Time: now.Unix(), End: now.Unix() + 600, Failures: 5, First: now.Unix() - 60, Last: now.Unix()},
		state.Push{Kind: state.PushBan, Jail: "postfix-sasl", IP: "203.0.113.0/24", Time: now.Unix(), End: -1},
		state.Push{Kind: state.PushBan, Jail: "postfix-sasl", IP: "192.0.2.8", Time: now.Unix() - 700, End: now.Unix() - 100},
		state.Push{Kind: state.PushBan, Jail: "postfix-sasl", IP: "2001:db8::7", Time: now.Unix(), End: now.Unix() + 60},
		state.Push{Kind: state.PushBan, Jail: "postfix-sasl", IP: "2001:db8:1::/48", Time: now.Unix(), End: now.Unix() + 60},
	)
	c1.token = "expired" // the LAPI answers 401: a new login, then the call again
	r, err := Push(ctx, c1, cs1, id1, now)
	if err != nil || r.Bans != 4 || r.Over != 1 || len(cs1.Pending) != 0 || len(cs1.Pushed) != 4 {
		t.Fatalf("push: %+v %v, state %+v", r, err, cs1)
	}
	var alerts []struct {
		EventsCount int        `json:"events_count"`
		StartAt     string     `json:"start_at"`
		Decisions   []Decision `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(l.Run("decisions", "list", "--origin", Origin, "-o", "json")), &alerts); err != nil {
		t.Fatal(err)
	}
	got := map[string]Decision{}
	for _, a := range alerts {
		for _, d := range a.Decisions {
			got[d.Value] = d
		}
	}
	if d := got["192.0.2.7"]; d.Scope != "Ip" || d.Origin != Origin || d.Scenario != "fail2ban-scan/postfix-sasl@mx1" || !strings.HasPrefix(d.Duration, "9m5") {
		t.Errorf("cscli decisions list: %+v", got)
	}
	if d := got["203.0.113.0/24"]; d.Scope != "Range" || !strings.HasPrefix(d.Duration, "2562046h59m") {
		t.Errorf("cscli decisions list, permanent: %+v", got)
	}

	if d := got["2001:db8:1::/48"]; d.Scope != "Range" {
		t.Errorf("cscli decisions list, IPv6 prefix: %+v", got)
	}
	if r, err := Pull(ctx, c2, cs2, id2, now); err != nil || !r.Startup || r.Added != 4 || !cs2.Streamed {
		t.Fatalf("pull of mx2: %+v %v", r, err)
	}
	if r, err := Pull(ctx, c1, cs1, id1, now); err != nil || r.Added != 0 || r.Own != 4 {
		t.Fatalf("mx1 pulls its own: %+v %v", r, err)
	}
	QueueUnban(cs1, "postfix-sasl", "192.0.2.7", now.Unix())
	if r, err := Push(ctx, c1, cs1, id1, now); err != nil || r.Unbans != 1 {
		t.Fatalf("unban: %+v %v", r, err)
	}
	if r, err := Pull(ctx, c2, cs2, id2, now); err != nil || r.Startup || r.Removed != 1 || len(cs2.Fleet) != 3 {
		t.Fatalf("incremental pull after the unban: %+v %v, fleet %v", r, err, cs2.Fleet)
	}

	// A push the LAPI refuses does not hold the others, and is dropped after MaxTries runs.
	cs3 := &state.Crowdsec{}
	cs3.Queue(
		state.Push{Kind: state.PushBan, Jail: "j", IP: "192.0.2.31", Time: now.Unix(), End: now.Unix() + 60},
		state.Push{Kind: state.PushBan, Jail: "j", IP: "not-an-address", Time: now.Unix(), End: now.Unix() + 60},
		state.Push{Kind: state.PushBan, Jail: "j", IP: "192.0.2.32", Time: now.Unix(), End: now.Unix() + 60},
	)
	r, err = Push(ctx, c1, cs3, id1, now)
	if err != nil || r.Bans != 2 || len(r.Refused) != 1 || len(cs3.Pending) != 1 || cs3.Pending[0].Tries != 1 {
		t.Fatalf("a refused push: %+v %v, pending %+v", r, err, cs3.Pending)
	}
	if r, err = Push(ctx, c1, cs3, id1, now); err == nil || cs3.Pending[0].Tries != 1 {
		t.Fatalf("a lone push refused, nothing else taken, counts no try: %v, pending %+v", err, cs3.Pending)
	}
	for i := range MaxTries - 1 {
		cs3.Queue(state.Push{Kind: state.PushBan, Jail: "j", IP: fmt.Sprintf("192.0.2.%d", 40+i), Time: now.Unix(), End: now.Unix() + 60})
		r, err = Push(ctx, c1, cs3, id1, now)
	}
	if err != nil || len(r.Dropped) != 1 || !strings.Contains(r.Dropped[0].Error(), "ban of not-an-address (jail j), refused 3 times: POST /v1/alerts: HTTP 500") || cs3.Pending != nil {
		t.Fatalf("a push refused %d times: %+v %v, pending %+v", MaxTries, r, err, cs3.Pending)
	}

	bad := &Client{URL: l.URL, MachineID: "mx1", Password: "wrong"}
	if _, err := bad.PushAlerts(ctx, nil); err == nil || !strings.Contains(err.Error(), "log in as machine mx1") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := (&Client{URL: l.URL, BouncerKey: "wrong"}).Pull(ctx, true); err == nil || !strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("wrong bouncer key: %v", err)
	}
}

// TestQueue: an unban of a ban still pending takes it off the queue; of a pushed one, queues
// the deletion of its alerts; a permanent ban is queued again before its decision runs out.
func TestQueue(t *testing.T) {
	cs := &state.Crowdsec{}
	cs.Queue(state.Push{Kind: state.PushBan, Jail: "j", IP: "192.0.2.1", End: 100})
	if QueueUnban(cs, "j", "192.0.2.1", 50); len(cs.Pending) != 0 {
		t.Fatalf("unban of a pending ban: %+v", cs.Pending)
	}
	cs.Pushed = []state.Pushed{
		{Jail: "j", IP: "192.0.2.2", Alert: 7, Until: 1000, End: 1000},
		{Jail: "k", IP: "192.0.2.2", Alert: 8, Until: 1000, End: 1000},
		{Jail: "j", IP: "192.0.2.3", Alert: 9, Until: 1000 + 40*86400, End: -1},
		{Jail: "j", IP: "192.0.2.4", Alert: 10, Until: 1000 + 20*86400, End: -1},
	}
	QueueUnban(cs, "j", "192.0.2.2", 50)
	if len(cs.Pending) != 1 || cs.Pending[0].Kind != state.PushUnban || !slices.Equal(cs.Pending[0].Alerts, []int64{7}) || len(cs.Pushed) != 3 {
		t.Fatalf("unban of a pushed ban: %+v, pushed %+v", cs.Pending, cs.Pushed)
	}
	if n := Reassert(cs, 1000); n != 1 || cs.Pending[1].IP != "192.0.2.4" || cs.Pending[1].End != -1 {
		t.Fatalf("reassert: %d, %+v", n, cs.Pending)
	}
	if n := Reassert(cs, 1000); n != 0 {
		t.Fatalf("reassert twice: %d", n)
	}
}

// TestAlertOf: the decision runs from the alert's stop_at (the last failure) to the ban's end.
func TestAlertOf(t *testing.T) {
	id := Identity{MachineID: "mx1", ScenarioPrefix: "fail2ban-scan"}
	now := time.Unix(1_000_000, 0)
	a, ok := AlertOf(state.Push{Kind: state.PushBan, Jail: "postfix-sasl", IP: "2001:db8::/64", Time: now.Unix(), End: now.Unix() + 540, Failures: 5, First: now.Unix() - 100, Last: now.Unix() - 60, Reason: "1st ban: bantime 10m"}, id, now)
	if !ok || a.Decisions[0].Duration != "600s" || decisionEnd(a) != now.Unix()+540 || a.Source.Range != "2001:db8::/64" || a.Decisions[0].Scope != "Range" || a.EventsCount != 5 ||
		a.Message != "fail2ban-scan on mx1, jail postfix-sasl: 2001:db8::/64 banned after 5 failures (1st ban: bantime 10m)" || a.StartAt != "1970-01-12T13:45:00Z" {
		t.Fatalf("%+v", a)
	}
	if _, ok := AlertOf(state.Push{Kind: state.PushBan, Jail: "j", IP: "192.0.2.1", Time: 1, End: now.Unix()}, id, now); ok {
		t.Fatal("a ban over is pushed")
	}
	a, _ = AlertOf(state.Push{Kind: state.PushBan, Jail: "j", IP: "192.0.2.1", Time: now.Unix(), End: -1}, id, now)
	if a.Decisions[0].Duration != "2562047h" || a.Scenario != "fail2ban-scan/j@mx1" || a.Decisions[0].Origin != "fail2ban-scan" {
		t.Fatalf("permanent: %+v", a)
	}
}

// TestPushNoAnswer: a POST /v1/alerts that the LAPI handles but whose answer is lost (the
// connection breaks) leaves its bans marked sent; the next Push finds them in the LAPI and
// does not post them again: each ban reaches the LAPI once.
func TestPushNoAnswer(t *testing.T) {
	l := crowdsectest.Start(t)
	l.AddMachine("mx1", "password-of-mx1")
	target, _ := url.Parse(l.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var lose atomic.Bool
	lose.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/alerts" && lose.Swap(false) {
			rec := httptest.NewRecorder()
			proxy.ServeHTTP(rec, r) // the LAPI takes the alerts...
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // ...and its answer is lost
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx := context.Background()
	c := &Client{URL: srv.URL, MachineID: "mx1", Password: "password-of-mx1"}
	id := Identity{MachineID: "mx1", ScenarioPrefix: "fail2ban-scan"}
	now := time.Now()
	cs := &state.Crowdsec{}
	cs.Queue(
		state.Push{Kind: state.PushBan, Jail: "j", IP: "192.0.2.7", Time: now.Unix(), End: now.Unix() + 600},
		state.Push{Kind: state.PushBan, Jail: "j", IP: "203.0.113.0/24", Time: now.Unix(), End: -1},
	)
	if _, err := Push(ctx, c, cs, id, now); err == nil || !MayHaveArrived(err, "POST /v1/alerts") || len(cs.Pending) != 2 || cs.Pending[0].Sent == 0 {
		t.Fatalf("a lost answer: %v, pending %+v", err, cs.Pending)
	}
	cs.Queue(state.Push{Kind: state.PushBan, Jail: "j", IP: "192.0.2.8", Time: now.Unix(), End: now.Unix() + 600})
	r, err := Push(ctx, c, cs, id, now)
	if err != nil || r.Found != 2 || r.Bans != 3 || len(cs.Pending) != 0 || len(cs.Pushed) != 3 {
		t.Fatalf("the next push: %+v %v, state %+v", r, err, cs)
	}
	var alerts []struct {
		Decisions []Decision `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(l.Run("decisions", "list", "--origin", Origin, "-o", "json")), &alerts); err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, a := range alerts {
		for _, d := range a.Decisions {
			values = append(values, d.Value)
		}
	}
	slices.Sort(values)
	if want := []string{"192.0.2.7", "192.0.2.8", "203.0.113.0/24"}; !slices.Equal(values, want) {
		t.Fatalf("the LAPI holds %v, want each of %v once", values, want)
	}
}
