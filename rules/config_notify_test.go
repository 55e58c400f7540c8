package rules

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

const slackURL = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"

// secrets is an Env.ReadSecret over a map of files.
func secrets(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
}

func TestLoadConfigNotify(t *testing.T) {
	const jails = "jails:\n  postfix-sasl:\n    logpath: [/var/log/mail.log]\n"
	env := Env{ReadFile: noFiles, ReadSecret: secrets(map[string]string{
		"/etc/f2b/slack.url": slackURL + "\n",
		"/etc/f2b/bad.url":   "ftp://SECRETTOKEN@example.org/x\n",
	})}
	tests := []struct {
		name, yaml string
		want       func(c *Config) bool
		wantErr    string // every error, one a line
		wantWarn   string
	}{
		{"none", jails, func(c *Config) bool { return c.NotifyTimeout == 10 && c.Jails[0].Notify == nil }, "", ""},
		{"every kind", "notify_timeout: 20s\ndefaults:\n  notify:\n" +
			"    - webhook_file: /etc/f2b/slack.url\n      on: [ban, unban]\n      timeout: 3s\n" +
			"    - webhook: https://chat.example.org/hooks/abc\n      format: json\n      headers: {Authorization: Bearer SECRETTOKEN}\n" +
			"    - command: [/usr/local/bin/hook, --flag]\n" +
			"    - mail_to: admin@example.org\n      mail_from: f2b@mx1.example.org\n" + jails,
			func(c *Config) bool {
				n := c.Jails[0].Notify
				return c.NotifyTimeout == 20 && len(n) == 4 &&
					n[0].Webhook == slackURL && n[0].Timeout == 3 && slices.Equal(n[0].On, []string{"ban", "unban"}) && n[0].Format == "slack" &&
					n[1].Format == "json" && n[1].Headers["Authorization"] == "Bearer SECRETTOKEN" && n[1].Timeout == 5 &&
					slices.Equal(n[2].Command, []string{"/usr/local/bin/hook", "--flag"}) && slices.Equal(n[2].On, []string{"ban"}) &&
					n[3].MailTo == "admin@example.org" && n[3].MailFrom == "f2b@mx1.example.org" &&
					n[0].Key == "defaults.notify[0]"
			}, "", ""},
		{"a jail's list replaces the defaults'", "defaults:\n  notify:\n    - mail_to: a@example.org\n" + jails + "    notify:\n",
			func(c *Config) bool { return c.Jails[0].Notify != nil && len(c.Jails[0].Notify) == 0 }, "", ""},
		{"unreadable webhook_file is a warning", "defaults:\n  notify:\n    - webhook_file: /etc/f2b/missing.url\n" + jails,
			func(c *Config) bool {
				n := c.Jails[0].Notify[0]
				return n.Webhook == "" && strings.Contains(n.SecretErr, "/etc/f2b/missing.url")
			}, "",
			"c.yaml:3: defaults.notify[0].webhook_file: open /etc/f2b/missing.url: file does not exist; this target fails until it is fixed"},
		{"webhook_file without a URL", "defaults:\n  notify:\n    - webhook_file: /etc/f2b/bad.url\n" + jails,
			func(c *Config) bool { return c.Jails[0].Notify[0].SecretErr != "" }, "",
			"c.yaml:3: defaults.notify[0].webhook_file: /etc/f2b/bad.url does not hold a webhook URL: not an http or https URL"},
		{"errors", "notify_timeout: 0\ndefaults:\n  notify:\n" +
			"    - webhook: ftp://SECRETTOKEN@example.org/x\n" +
			"    - command: [/bin/true]\n      webhook: https://example.org/SECRETTOKEN\n" +
			"    - {}\n" +
			"    - mail_to: a@example.org\n      format: json\n" +
			"    - command: []\n" +
			"    - command: [/bin/true]\n      on: [ban, expire]\n" +
			"    - command: [/bin/true]\n      colour: red\n" +
			"    - webhook: https://example.org/x\n      headers: {\"Bad Name\": x, X-Token: \"SECRETTOKEN\\nX\"}\n" +
			"    - mail_to: a@example.org\n      timeout: permanent\n" +
			"    - command: [/bin/false]\n" +
			"    - command: [/bin/false]\n" + jails, nil,
			strings.Join([]string{
				"c.yaml:1: notify_timeout: must be positive, got \"0\"",
				"c.yaml:4: defaults.notify[0].webhook: not an http or https URL",
				"c.yaml:5: defaults.notify[1]: has both command and webhook: one target per entry",
				"c.yaml:7: defaults.notify[2]: needs one of command, webhook, webhook_file or mail_to",
				"c.yaml:8: defaults.notify[3]: headers and format are for webhooks",
				"c.yaml:10: defaults.notify[4].command: must name a program: [/path/to/program, args...]",
				"c.yaml:12: defaults.notify[5].on[1]: must be ban or unban, got \"expire\"",
				"c.yaml:14: defaults.notify[6].colour: unknown key (want command, webhook, webhook_file, mail_to, mail_from, headers, format, on or timeout)",
				"c.yaml:16: defaults.notify[7].headers.Bad Name: not an HTTP header name",
				"c.yaml:16: defaults.notify[7].headers.X-Token: must be a string on one line",
				"c.yaml:18: defaults.notify[8].timeout: must be positive, got \"permanent\"",
				"c.yaml:20: defaults.notify[10]: the same target as defaults.notify[9] (give it both events in on: instead)",
			}, "\n"), ""},
		{"not a list", "defaults:\n  notify: https://example.org/x\n" + jails, nil,
			"c.yaml:2: defaults.notify: must be a list of targets (command:, webhook:, webhook_file: or mail_to:)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(strings.NewReader(tt.yaml), "c.yaml", env)
			if tt.wantErr != "" {
				var ce ConfigErrors
				if !errors.As(err, &ce) {
					t.Fatalf("error %v, want ConfigErrors", err)
				}
				if err.Error() != tt.wantErr {
					t.Fatalf("errors:\n%s\nwant:\n%s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "SECRETTOKEN") {
					t.Errorf("an error shows a secret:\n%s", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var warns []string
			for _, w := range c.Warnings {
				warns = append(warns, w.String())
			}
			if got := strings.Join(warns, "\n"); !strings.Contains(got, tt.wantWarn) || (tt.wantWarn == "" && got != "") {
				t.Errorf("warnings %q, want %q", got, tt.wantWarn)
			}
			if strings.Contains(strings.Join(warns, "\n"), "SECRETTOKEN") {
				t.Errorf("a warning shows a secret: %q", warns)
			}
			if !tt.want(c) {
				t.Errorf("got notify_timeout %d, targets %+v", c.NotifyTimeout, c.Jails[0].Notify)
			}
		})
	}
}

func TestNotifyTargetIDAndName(t *testing.T) {
	base := NotifyTarget{Webhook: slackURL, Format: "slack", On: []string{"ban"}, Timeout: 5}
	other := base
	other.On, other.Timeout = []string{"ban", "unban"}, 1
	if base.ID() != other.ID() {
		t.Errorf("on: and timeout: changed the id: %s, %s", base.ID(), other.ID())
	}
	rotated := base
	rotated.Webhook = "https://hooks.slack.com/services/T000/B000/OTHER"
	if base.ID() == rotated.ID() {
		t.Error("another URL has the same id")
	}
	fromFile := base
	fromFile.WebhookFile = "/etc/f2b/slack.url"
	rotatedFile := fromFile
	rotatedFile.Webhook = rotated.Webhook
	if fromFile.ID() != rotatedFile.ID() {
		t.Error("a new token in the same webhook_file changed the id: its pending events would be lost")
	}
	cmd := NotifyTarget{Command: []string{"/bin/a", "b c"}}
	cmd2 := NotifyTarget{Command: []string{"/bin/a b", "c"}}
	if cmd.ID() == cmd2.ID() {
		t.Error("argv [/bin/a, b c] and [/bin/a b, c] have the same id")
	}
	for _, tt := range []struct {
		t    NotifyTarget
		want string
	}{
		{base, "webhook https://hooks.slack.com/…"},
		{NotifyTarget{Webhook: "https://user:pw@chat.example.org"}, "webhook https://chat.example.org"},
		{NotifyTarget{Webhook: "https://chat.example.org/?token=x"}, "webhook https://chat.example.org/…"},
		{NotifyTarget{WebhookFile: "/etc/f2b/slack.url"}, "webhook from /etc/f2b/slack.url"},
		{cmd, "command /bin/a"},
		{NotifyTarget{MailTo: "a@example.org"}, "mail a@example.org"},
	} {
		if got := tt.t.Name(); got != tt.want {
			t.Errorf("Name() = %q, want %q", got, tt.want)
		}
	}
}
