package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Defaults of the notification timeouts, in seconds.
const (
	DefaultNotifyTimeout       = 10 // notify_timeout: all the targets of a run together
	DefaultNotifyTargetTimeout = 5  // timeout: of one target
)

// NotifyTarget is one entry of a `notify:` list: where a jail's bans and unbans are reported.
// Exactly one of Command, Webhook (or WebhookFile) and MailTo is set.
type NotifyTarget struct {
	Command []string // argv, run without a shell
	// Webhook is the URL to POST to, from `webhook:` or read from WebhookFile. It is a secret
	// (chat servers put their token in it): print Redacted instead.
	Webhook     string
	WebhookFile string
	// SecretErr says why WebhookFile cannot be used ("" when it can); LoadConfig warns, and
	// every delivery to the target fails with it until the file is fixed.
	SecretErr string
	Headers   map[string]string // webhook: extra HTTP headers; the values may be secrets
	Format    string            // webhook: "slack" ({"text": ...}) or "json" (the events)
	MailTo    string            // recipients, as in a To: header
	MailFrom  string            // "" lets sendmail set it
	On        []string          // the events reported: "ban", "unban"
	Timeout   int64             // seconds > 0
	Key       string            // where it is written: "jails.postfix-sasl.notify[0]"
}

// Wants reports whether the target reports events of kind ("ban" or "unban").
func (t *NotifyTarget) Wants(kind string) bool { return slices.Contains(t.On, kind) }

// ID names the target in the state's outbox, stable across runs: a hash of where it
// delivers (the argv, the URL or the webhook_file path, the headers, the format, the
// addresses), not of `on:` or `timeout:`. It shows no secret.
func (t *NotifyTarget) ID() string {
	h := sha256.New()
	field := func(s string) { fmt.Fprintf(h, "%d:%s;", len(s), s) }
	switch {
	case len(t.Command) > 0:
		field("command")
		for _, a := range t.Command {
			field(a)
		}
	case t.MailTo != "":
		field("mail")
		field(t.MailTo)
		field(t.MailFrom)
	default:
		field("webhook")
		if t.WebhookFile != "" {
			field("file:" + t.WebhookFile)
		} else {
			field("url:" + t.Webhook)
		}
		field(t.Format)
		names := make([]string, 0, len(t.Headers))
		for k := range t.Headers {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			field(k)
			field(t.Headers[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// Name describes the target for logs and check, without secrets: "command /usr/local/bin/x",
// "webhook https://hooks.slack.com/…", "mail admin@example.org".
func (t *NotifyTarget) Name() string {
	switch {
	case len(t.Command) > 0:
		return "command " + t.Command[0]
	case t.MailTo != "":
		return "mail " + t.MailTo
	case t.WebhookFile != "" && t.Webhook == "":
		return "webhook from " + t.WebhookFile
	}
	return "webhook " + Redacted(t.Webhook)
}

// Redacted shows a URL as scheme://host/… : chat servers put their token in the path or the
// query, so no more is ever printed.
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "(a URL)"
	}
	s := u.Scheme + "://" + u.Host // no user:password
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		s += "/…"
	}
	return s
}

// checkWebhookURL says what is wrong with a webhook URL, without repeating it.
func checkWebhookURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil:
		return "not a URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "not an http or https URL"
	case u.Host == "":
		return "a URL without a host"
	case u.User != nil:
		return "a URL with a user name or password (put credentials in headers:)"
	}
	return ""
}

// notifyList decodes a `notify:` list at p. It returns nil and no error when it recorded
// errors of the list's entries.
func (l *loader) notifyList(v *yaml.Node, p string) ([]NotifyTarget, error) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return []NotifyTarget{}, nil // `notify:` with no value turns inherited targets off
	}
	if v.Kind != yaml.SequenceNode {
		return nil, l.errf(v, p, "must be a list of targets (command:, webhook:, webhook_file: or mail_to:)")
	}
	out := []NotifyTarget{}
	ok := true
	seen := map[string]int{}
	for i, e := range v.Content {
		ip := fmt.Sprintf("%s[%d]", p, i)
		l.lines[ip] = e.Line
		t, good := l.notifyTarget(e, ip)
		if !good {
			ok = false
			continue
		}
		if first, dup := seen[t.ID()]; dup {
			l.fail(l.errf(e, ip, "the same target as %s[%d] (give it both events in on: instead)", p, first))
			ok = false
			continue
		}
		seen[t.ID()] = i
		out = append(out, t)
	}
	if !ok {
		return nil, nil
	}
	return out, nil
}

// notifyTarget decodes one entry of a `notify:` list, recording its errors; ok is false when
// there was one.
func (l *loader) notifyTarget(n *yaml.Node, p string) (t NotifyTarget, ok bool) {
	t = NotifyTarget{On: []string{"ban"}, Timeout: DefaultNotifyTargetTimeout, Format: "slack", Key: p}
	before := len(l.errs)
	var kinds []string
	var fileNode *yaml.Node
	formatSet := false
	isMap := l.eachKey(n, p+".", func(key string, k, v *yaml.Node) error {
		kp := p + "." + key
		switch key {
		case "command":
			kinds = append(kinds, key)
			argv, err := l.strs(v, kp)
			if err != nil {
				return err
			}
			if len(argv) == 0 || argv[0] == "" {
				return l.errf(v, kp, "must name a program: [/path/to/program, args...]")
			}
			if strings.Contains(argv[0], "/") { // a bare name is looked up in $PATH
				l.warnRelative(v.Line, kp, argv[0], "")
			}
			t.Command = argv
		case "webhook":
			kinds = append(kinds, key)
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				return l.errf(v, kp, "must be a URL")
			}
			if why := checkWebhookURL(v.Value); why != "" {
				return l.errf(v, kp, "%s", why) // the value may hold a token: not repeated
			}
			t.Webhook = strings.TrimSpace(v.Value)
		case "webhook_file":
			kinds = append(kinds, key)
			if err := l.str(v, kp, &t.WebhookFile); err != nil {
				return err
			}
			if t.WebhookFile == "" {
				return l.errf(v, kp, "must not be empty")
			}
			fileNode = v
		case "mail_to":
			kinds = append(kinds, key)
			if err := l.str(v, kp, &t.MailTo); err != nil {
				return err
			}
			if _, err := mail.ParseAddressList(t.MailTo); err != nil {
				return l.errf(v, kp, "bad address list %q: %s", t.MailTo, err)
			}
		case "mail_from":
			if err := l.str(v, kp, &t.MailFrom); err != nil {
				return err
			}
			if _, err := mail.ParseAddress(t.MailFrom); err != nil {
				return l.errf(v, kp, "bad address %q: %s", t.MailFrom, err)
			}
		case "headers":
			t.Headers = map[string]string{}
			l.eachKey(v, kp+".", func(name string, k, hv *yaml.Node) error {
				hp := kp + "." + name
				if !validHeaderName(name) {
					return l.errf(k, hp, "not an HTTP header name")
				}
				if hv.Kind != yaml.ScalarNode || hv.Tag == "!!null" || strings.ContainsAny(hv.Value, "\r\n\x00") {
					return l.errf(hv, hp, "must be a string on one line") // the value may be a secret: not repeated
				}
				t.Headers[name] = hv.Value
				return nil
			})
		case "format":
			formatSet = true
			if err := l.str(v, kp, &t.Format); err != nil {
				return err
			}
			if t.Format != "slack" && t.Format != "json" {
				return l.errf(v, kp, "must be slack or json, got %q", t.Format)
			}
		case "on":
			list, err := l.strs(v, kp)
			if err != nil {
				return err
			}
			if len(list) == 0 {
				return l.errf(v, kp, "must list ban, unban or both")
			}
			for i, s := range list {
				if s != "ban" && s != "unban" {
					return l.errf(v, fmt.Sprintf("%s[%d]", kp, i), "must be ban or unban, got %q", s)
				}
			}
			t.On = list
		case "timeout":
			d, err := l.positiveDuration(v, kp)
			if err != nil {
				return err
			}
			t.Timeout = d
		default:
			return l.errf(k, kp, "unknown key (want command, webhook, webhook_file, mail_to, mail_from, headers, format, on or timeout)")
		}
		return nil
	})
	if !isMap || len(l.errs) > before { // eachKey recorded them
		return t, false
	}
	webhook := len(kinds) == 1 && (kinds[0] == "webhook" || kinds[0] == "webhook_file")
	switch {
	case len(kinds) == 0:
		l.fail(l.errf(n, p, "needs one of command, webhook, webhook_file or mail_to"))
	case len(kinds) > 1:
		l.fail(l.errf(n, p, "has both %s and %s: one target per entry", kinds[0], kinds[1]))
	case !webhook && (t.Headers != nil || formatSet):
		l.fail(l.errf(n, p, "headers and format are for webhooks"))
	case kinds[0] != "mail_to" && t.MailFrom != "":
		l.fail(l.errf(n, p, "mail_from is for mail_to"))
	}
	if len(l.errs) > before {
		return t, false
	}
	if fileNode != nil {
		l.readWebhookFile(&t, fileNode, p+".webhook_file")
	}
	return t, true
}

// readWebhookFile reads the URL of t.WebhookFile through Env.ReadSecret. A file that cannot
// be used is a warning, not an error: a notification must never stop bans. The target then
// fails each delivery with the reason, and keeps its events for a later run.
func (l *loader) readWebhookFile(t *NotifyTarget, v *yaml.Node, p string) {
	if l.env.ReadSecret == nil {
		t.SecretErr = "webhook_file is not read here"
		return
	}
	data, err := l.env.ReadSecret(t.WebhookFile)
	if err != nil {
		t.SecretErr = err.Error()
	} else if why := checkWebhookURL(string(data)); why != "" {
		t.SecretErr = fmt.Sprintf("%s does not hold a webhook URL: %s", t.WebhookFile, why)
	} else {
		t.Webhook = strings.TrimSpace(string(data))
		return
	}
	l.warnf(v.Line, p, "%s; this target fails until it is fixed (its events wait in the state)", t.SecretErr)
}

// validHeaderName reports whether s is an HTTP header name (an RFC 9110 token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}

// notifyTimeout decodes `notify_timeout:`.
func (l *loader) notifyTimeout(v *yaml.Node, dst *int64) error {
	d, err := l.positiveDuration(v, "notify_timeout")
	if err != nil {
		return err
	}
	*dst = d
	return nil
}
