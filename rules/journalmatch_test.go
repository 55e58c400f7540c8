package rules

import (
	"slices"
	"strings"
	"testing"
)

func TestJournalMatchGlobs(t *testing.T) {
	tests := []struct {
		name    string
		terms   string
		want    []string
		wantErr string
	}{
		{name: "glob", terms: `[_SYSTEMD_UNIT=postfix.service, "_SYSTEMD_UNIT=postfix@*.service"]`,
			want: []string{"_SYSTEMD_UNIT=postfix.service", "_SYSTEMD_UNIT=postfix@*.service"}},
		{name: "class and question mark", terms: `["_SYSTEMD_UNIT=postfix@[a-z]?.service", +, "SYSLOG_IDENTIFIER=postfix/*"]`,
			want: []string{"_SYSTEMD_UNIT=postfix@[a-z]?.service", "+", "SYSLOG_IDENTIFIER=postfix/*"}},
		{name: "unclosed class", terms: `[_SYSTEMD_UNIT=postfix.service, "_SYSTEMD_UNIT=postfix@[.service"]`,
			wantErr: `cfg.yaml:4: jails.a.journalmatch[1]: want FIELD=value or +, got "_SYSTEMD_UNIT=postfix@[.service"`},
		{name: "glob with a trailing backslash", terms: `['_SYSTEMD_UNIT=postfix*\']`,
			wantErr: `cfg.yaml:4: jails.a.journalmatch[0]: want FIELD=value or +, got "_SYSTEMD_UNIT=postfix*\\"`},
		{name: "backslash without glob is a plain value", terms: `['MESSAGE=a\']`, want: []string{`MESSAGE=a\`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "jails:\n  a:\n    filter: postfix\n    journalmatch: " + tt.terms + "\n    backend: journal\n"
			c, err := LoadConfig(strings.NewReader(yaml), "cfg.yaml", Env{ReadFile: noFiles})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Jail("a").JournalMatch; !slices.Equal(got, tt.want) {
				t.Errorf("journalmatch = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDefaultJournalMatch holds the embedded config and a jail without journalmatch to
// postfix.service and its instances, Debian 12's postfix@-.service among them.
func TestDefaultJournalMatch(t *testing.T) {
	want := []string{"_SYSTEMD_UNIT=postfix.service", "_SYSTEMD_UNIT=postfix@*.service"}
	if got := DefaultJournalMatch(); !slices.Equal(got, want) {
		t.Errorf("DefaultJournalMatch() = %q, want %q", got, want)
	}
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"jail without journalmatch", "jails:\n  a:\n    filter: postfix\n    backend: journal\n", want},
		{"defaults without it", "defaults:\n  maxretry: 3\njails:\n  a:\n    filter: postfix\n    backend: journal\n", want},
		{"embedded, journal", DefaultConfig(""), want},
		{"embedded, file", DefaultConfig("/var/log/mail.log"), want},
		{"jail setting its own", "jails:\n  a:\n    filter: postfix\n    backend: journal\n    journalmatch: [SYSLOG_IDENTIFIER=postfix/smtpd]\n",
			[]string{"SYSLOG_IDENTIFIER=postfix/smtpd"}},
	}
	for _, tt := range tests {
		c, err := LoadConfig(strings.NewReader(tt.yaml), "cfg.yaml", Env{ReadFile: noFiles})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := c.Jails[0].JournalMatch; !slices.Equal(got, tt.want) {
			t.Errorf("%s: journalmatch = %q, want %q", tt.name, got, tt.want)
		}
	}
}
