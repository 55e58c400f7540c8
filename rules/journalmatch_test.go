package rules

import (
	"io/fs"
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
			checkJournalMatch(t, yaml, Env{ReadFile: noFiles}, tt.want, tt.wantErr)
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

// TestJournalMatchOfFilter: a journal jail with a fail2ban filter and no journalmatch of its
// own (nor in defaults) reads what the filter's journalmatch names, its lines ORed; one that
// sets journalmatch, or reads files, keeps its own; a filter's term that journalctl would not
// take is an error that says so.
func TestJournalMatchOfFilter(t *testing.T) {
	files := map[string]string{
		"/f/myd.conf":  "[Definition]\nfailregex = ^from <HOST>$\n[Init]\njournalmatch = _SYSTEMD_UNIT=myd.service + _COMM=myd\n",
		"/f/two.conf":  "[Definition]\nfailregex = ^from <HOST>$\njournalmatch = _SYSTEMD_UNIT=a.service\n    _SYSTEMD_UNIT=b.service _COMM=b\n",
		"/f/none.conf": "[Definition]\nfailregex = ^from <HOST>$\n",
		"/f/bad.conf":  "[Definition]\nfailregex = ^from <HOST>$\njournalmatch = myd.service\n",
	}
	env := Env{ReadFile: func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}}
	for _, tt := range []struct {
		name, jail, defaults string
		want                 []string
		wantErr              string
	}{
		{name: "the filter's", jail: "filter: fail2ban:myd\n    backend: journal",
			want: []string{"_SYSTEMD_UNIT=myd.service", "+", "_COMM=myd"}},
		{name: "two lines ORed", jail: "filter: fail2ban:two\n    backend: journal",
			want: []string{"_SYSTEMD_UNIT=a.service", "+", "_SYSTEMD_UNIT=b.service", "_COMM=b"}},
		{name: "the jail's own", jail: "filter: fail2ban:myd\n    backend: journal\n    journalmatch: [_SYSTEMD_UNIT=other.service]",
			want: []string{"_SYSTEMD_UNIT=other.service"}},
		{name: "the defaults'", defaults: "defaults:\n  journalmatch: [_SYSTEMD_UNIT=d.service]\n", jail: "filter: fail2ban:myd\n    backend: journal",
			want: []string{"_SYSTEMD_UNIT=d.service"}},
		{name: "a filter without one", jail: "filter: fail2ban:none\n    backend: journal", want: DefaultJournalMatch()},
		{name: "a file jail", jail: "filter: fail2ban:myd\n    logpath: [x]", want: DefaultJournalMatch()},
		{name: "a term journalctl would not take", jail: "filter: fail2ban:bad\n    backend: journal",
			wantErr: `cfg.yaml:4: jails.a.filter: the filter's journalmatch: want FIELD=value or +, got "myd.service"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "filter_dirs: [/f]\n" + tt.defaults + "jails:\n  a:\n    " + tt.jail + "\n"
			checkJournalMatch(t, yaml, env, tt.want, tt.wantErr)
		})
	}
}

// checkJournalMatch loads yaml and checks jail a's journalmatch, or that the load fails with
// an error containing wantErr.
func checkJournalMatch(t *testing.T, yaml string, env Env, want []string, wantErr string) {
	t.Helper()
	c, err := LoadConfig(strings.NewReader(yaml), "cfg.yaml", env)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want it to contain %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Jail("a").JournalMatch; !slices.Equal(got, want) {
		t.Errorf("journalmatch = %q, want %q", got, want)
	}
}
