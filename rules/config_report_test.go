package rules

import (
	"strings"
	"testing"
)

func TestLoadConfigReport(t *testing.T) {
	const jails = "jails:\n  postfix-sasl:\n    logpath: [/var/log/mail.log]\n"
	tests := []struct {
		name, yaml string
		want       func(c *Config) bool
		wantErr    string
	}{
		{"defaults", jails, func(c *Config) bool {
			return c.HistoryDays == 31 && c.Report == ReportConfig{Sendmail: "/usr/sbin/sendmail"}
		}, ""},
		{"set", "history_days: 7\nreport:\n  mail_to: admin@example.org, ops@example.org\n  mail_from: f2b@mx1.example.org\n  sendmail: /usr/local/bin/sendmail\n" + jails,
			func(c *Config) bool {
				return c.HistoryDays == 7 && c.Report == ReportConfig{MailTo: "admin@example.org, ops@example.org",
					MailFrom: "f2b@mx1.example.org", Sendmail: "/usr/local/bin/sendmail"}
			}, ""},
		{"history_days 0", "history_days: 0\n" + jails, nil, "c.yaml:1: history_days: must be >= 1, got 0"},
		{"history_days text", "history_days: month\n" + jails, nil, `c.yaml:1: history_days: must be an integer, got "month"`},
		{"bad mail_to", "report:\n  mail_to: not an address\n" + jails, nil, "c.yaml:2: report.mail_to: bad address list"},
		{"unknown report key", "report:\n  to: a@b\n" + jails, nil, "c.yaml:2: report.to: unknown key"},
		{"empty sendmail", "report:\n  sendmail: \"\"\n" + jails, nil, "c.yaml:2: report.sendmail: must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(strings.NewReader(tt.yaml), "c.yaml", Env{ReadFile: noFiles})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(c) {
				t.Errorf("got history_days %d, report %+v", c.HistoryDays, c.Report)
			}
		})
	}
}
