// Package crowdsec talks to a CrowdSec Local API (LAPI): it pushes bans as alerts with their decision, as a machine, and pulls the decision stream, as a bouncer.
//
// It knows the LAPI of CrowdSec 1.4 (the version of Debian 12) and later, through net/http and
// encoding/json only. The calls used:
//
//	POST   /v1/watchers/login           machine_id + password -> JWT           (machine)
//	POST   /v1/alerts                   alerts with their decisions -> alert ids (machine, JWT)
//	GET    /v1/alerts/{id}              an alert with its decisions and their ids (machine, JWT)
//	DELETE /v1/decisions/{id}           one decision                            (machine, JWT)
//	GET    /v1/decisions/stream         new and deleted decisions since the last pull
//	                                    of this bouncer; startup=true: all active ones (bouncer, X-Api-Key)
//
// A machine's JWT that the LAPI refuses (expired: 401) is renewed by a new login, once per call.
package crowdsec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Client calls one LAPI. The zero HTTP uses a client of its own without a timeout: bound the
// calls with the context.
type Client struct {
	URL        string // base URL, "http://127.0.0.1:8080"
	MachineID  string
	Password   string
	BouncerKey string
	HTTP       *http.Client
	UserAgent  string

	token string // the machine's JWT, after Login
}

// Decision is a decision as the LAPI writes and reads it (models.Decision).
type Decision struct {
	ID        int64  `json:"id,omitempty"`
	Duration  string `json:"duration"` // a Go duration: "4h", "3h59m58.1s"; negative once over
	Type      string `json:"type"`     // "ban", "captcha", ...
	Scope     string `json:"scope"`    // "Ip", "Range", ...
	Value     string `json:"value"`
	Origin    string `json:"origin"`
	Scenario  string `json:"scenario"`
	Simulated bool   `json:"simulated"`
}

// Source is what an alert is about (models.Source).
type Source struct {
	Scope string `json:"scope"`
	Value string `json:"value"`
	IP    string `json:"ip,omitempty"`
	Range string `json:"range,omitempty"`
}

// Alert is an alert as POST /v1/alerts takes it (models.Alert): the fields the LAPI of 1.4
// requires, and the decisions it carries.
type Alert struct {
	Scenario        string            `json:"scenario"`
	ScenarioHash    string            `json:"scenario_hash"`
	ScenarioVersion string            `json:"scenario_version"`
	Message         string            `json:"message"`
	EventsCount     int32             `json:"events_count"`
	StartAt         string            `json:"start_at"` // RFC 3339: the first failure
	StopAt          string            `json:"stop_at"`  // RFC 3339: the last failure
	Capacity        int32             `json:"capacity"`
	Leakspeed       string            `json:"leakspeed"`
	Simulated       bool              `json:"simulated"`
	Events          []json.RawMessage `json:"events"`
	Source          Source            `json:"source"`
	Decisions       []Decision        `json:"decisions"`
	Labels          []string          `json:"labels,omitempty"`
}

// Stream is one answer of GET /v1/decisions/stream.
type Stream struct {
	New     []Decision `json:"new"`
	Deleted []Decision `json:"deleted"`
}

// MaxDuration is the longest decision the LAPI takes: it parses durations with Go's
// time.ParseDuration, whose largest whole number of hours this is (about 292 years). A
// permanent ban is pushed with it.
const MaxDuration = 2562047 * time.Hour

// StatusError is an answer of the LAPI other than the one expected.
type StatusError struct {
	Op      string // "POST /v1/alerts"
	Code    int
	Message string // the "message" of its JSON answer, or the start of its body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Code, e.Message)
}

// RequestError is a request that got no answer: the LAPI could not be reached, or it did not
// answer in time, or the connection broke. The request may have reached it all the same,
// unless the connection was refused (see MayHaveArrived).
type RequestError struct {
	Op  string // "POST /v1/alerts"
	Err error
}

func (e *RequestError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }

// MayHaveArrived reports whether err leaves open that the LAPI got and handled request op:
// no answer to it, and not because the connection was refused.
func MayHaveArrived(err error, op string) bool {
	var re *RequestError
	return errors.As(err, &re) && re.Op == op && !errors.Is(err, syscall.ECONNREFUSED)
}

// Login logs the machine in and keeps its JWT for the next calls.
func (c *Client) Login(ctx context.Context) error {
	body := map[string]string{"machine_id": c.MachineID, "password": c.Password}
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/watchers/login", nil, body, &out, http.StatusOK); err != nil {
		return fmt.Errorf("log in as machine %s: %w", c.MachineID, err)
	}
	if out.Token == "" {
		return fmt.Errorf("log in as machine %s: no token in the answer", c.MachineID)
	}
	c.token = out.Token
	return nil
}

// PushAlerts posts alerts and returns their ids, in order.
func (c *Client) PushAlerts(ctx context.Context, alerts []Alert) ([]int64, error) {
	var ids []string
	if err := c.machine(ctx, http.MethodPost, "/v1/alerts", alerts, &ids, http.StatusCreated, http.StatusOK); err != nil {
		return nil, err
	}
	if len(ids) != len(alerts) {
		return nil, fmt.Errorf("POST /v1/alerts: %d ids for %d alerts", len(ids), len(alerts))
	}
	out := make([]int64, len(ids))
	for i, s := range ids {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("POST /v1/alerts: alert id %q is not a number", s)
		}
		out[i] = n
	}
	return out, nil
}

// AlertDecisions returns the ids of the decisions of alert id. An alert the LAPI no longer
// has (flushed) has none.
func (c *Client) AlertDecisions(ctx context.Context, id int64) ([]int64, error) {
	var a struct {
		Decisions []Decision `json:"decisions"`
	}
	err := c.machine(ctx, http.MethodGet, "/v1/alerts/"+strconv.FormatInt(id, 10), nil, &a, http.StatusOK)
	if se := (*StatusError)(nil); errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, d := range a.Decisions {
		ids = append(ids, d.ID)
	}
	return ids, nil
}

// FoundAlert is an alert of this machine found in the LAPI, with its decision's end.
type FoundAlert struct {
	ID    int64
	Until time.Time // the end of its ban decision (the LAPI's now plus the decision's duration)
}

// FindAlerts returns the alerts of this machine of scenario about value (an address or a
// prefix) that still carry an active ban decision: GET /v1/alerts?ip=|range=&scenario=.
func (c *Client) FindAlerts(ctx context.Context, value, scenario string) ([]FoundAlert, error) {
	q := url.Values{"scenario": {scenario}, "has_active_decision": {"true"}}
	if strings.Contains(value, "/") {
		q.Set("range", value)
	} else {
		q.Set("ip", value)
	}
	var alerts []struct {
		ID        int64      `json:"id"`
		MachineID string     `json:"machine_id"`
		Decisions []Decision `json:"decisions"`
	}
	if err := c.machine(ctx, http.MethodGet, "/v1/alerts?"+q.Encode(), nil, &alerts, http.StatusOK); err != nil {
		return nil, err
	}
	var out []FoundAlert
	for _, a := range alerts {
		if a.MachineID != c.MachineID {
			continue
		}
		for _, d := range a.Decisions {
			dur, err := time.ParseDuration(d.Duration)
			if err == nil && d.Value == value && d.Scenario == scenario && strings.EqualFold(d.Type, "ban") && dur > 0 {
				out = append(out, FoundAlert{ID: a.ID, Until: time.Now().Add(dur)})
				break
			}
		}
	}
	return out, nil
}

// DeleteDecision deletes decision id. A decision the LAPI does not have is gone already: no
// error (1.4.6 answers HTTP 500 "decision with id 'N' doesn't exist: unable to delete").
func (c *Client) DeleteDecision(ctx context.Context, id int64) error {
	err := c.machine(ctx, http.MethodDelete, "/v1/decisions/"+strconv.FormatInt(id, 10), nil, nil, http.StatusOK)
	if se := (*StatusError)(nil); errors.As(err, &se) && (se.Code == http.StatusNotFound || strings.Contains(se.Message, "doesn't exist")) {
		return nil
	}
	return err
}

// Pull reads the decision stream as the bouncer: with startup, every active decision (and
// the LAPI starts this bouncer's stream over); else what changed since its last pull.
func (c *Client) Pull(ctx context.Context, startup bool) (*Stream, error) {
	q := url.Values{"startup": {strconv.FormatBool(startup)}}
	hdr := http.Header{"X-Api-Key": {c.BouncerKey}}
	var raw rawBody
	if err := c.do(ctx, http.MethodGet, "/v1/decisions/stream?"+q.Encode(), hdr, nil, &raw, http.StatusOK); err != nil {
		return nil, fmt.Errorf("pull the decisions as a bouncer: %w", err)
	}
	s, err := DecodeStream(raw)
	if err != nil {
		return nil, fmt.Errorf("pull the decisions as a bouncer: GET /v1/decisions/stream: decode the answer: %w", err)
	}
	return s, nil
}

// machine makes a call with the machine's JWT, logging in first when there is none, and
// again once when the LAPI refuses the token (it expired).
func (c *Client) machine(ctx context.Context, method, path string, in, out any, want ...int) error {
	if c.token == "" {
		if err := c.Login(ctx); err != nil {
			return err
		}
	}
	call := func() error {
		return c.do(ctx, method, path, http.Header{"Authorization": {"Bearer " + c.token}}, in, out, want...)
	}
	err := call()
	if se := (*StatusError)(nil); errors.As(err, &se) && se.Code == http.StatusUnauthorized {
		if err := c.Login(ctx); err != nil {
			return err
		}
		err = call()
	}
	return err
}

// do sends in as JSON (nil: no body), checks the status against want, and decodes the answer
// into out (nil: discarded).
func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, in, out any, want ...int) error {
	op := method + " " + strings.SplitN(path, "?", 2)[0]
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &RequestError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	ok := false
	for _, w := range want {
		ok = ok || resp.StatusCode == w
	}
	if !ok {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var m struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &m) == nil && m.Message != "" {
			msg = m.Message
		}
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		return &StatusError{Op: op, Code: resp.StatusCode, Message: msg}
	}
	if out == nil {
		_, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			return fmt.Errorf("%s: read the answer: %w", op, err)
		}
		return nil
	}
	if raw, ok := out.(*rawBody); ok {
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("%s: read the answer: %w", op, err)
		}
		*raw = data
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: decode the answer: %w", op, err)
	}
	return nil
}

// rawBody, as do's out, takes the answer's bytes as they are.
type rawBody []byte
