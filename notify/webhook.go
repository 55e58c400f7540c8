package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Webhook POSTs each digest as JSON: {"text": ...} (Format "slack": Slack, Mattermost and
// Rocket.Chat incoming webhooks take it), or the events (Format "json": a Payload).
type Webhook struct {
	URL     string            // a secret: errors show Name instead
	Name    string            // the URL without its secrets, for errors
	Headers map[string]string // added to the request; values never shown
	Format  string            // "slack" or "json"
	Agent   string            // User-Agent
	// Err, when set, fails every delivery: the URL could not be read (webhook_file).
	Err string
}

// client follows no redirect: a webhook that moved answers 3xx, which is a failure to see.
var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Send POSTs the digest; a status other than 2xx is an error.
func (w Webhook) Send(ctx context.Context, d Digest) error {
	if w.Err != "" {
		return errors.New(w.Err)
	}
	body := d.JSON()
	if w.Format != "json" {
		data, err := json.Marshal(map[string]string{"text": d.Text()})
		if err != nil {
			return err
		}
		body = data
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: cannot make the request", w.Name) // its error shows the URL
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.Agent)
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return fmt.Errorf("%s: %w", w.Name, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode/100 != 2 {
		msg := strings.Join(strings.Fields(string(answer)), " ")
		return fmt.Errorf("%s: HTTP %s: %q", w.Name, resp.Status, msg)
	}
	return nil
}
