package rules

import (
	"strings"
	"testing"
)

// TestDurationOverflow: a duration that does not fit is an error, never a wrapped-around
// negative number (which meant a permanent ban) nor a value that overflows a ban's end.
func TestDurationOverflow(t *testing.T) {
	const max62 = "4611686018427387903s" // each part fits; three of them overflow int64
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"36525d", 3155760000, ""}, // 100 years, the most
		{"3155760000", 3155760000, ""},
		{"5217w", 5217 * 604800, ""},
		{"-9223372036854775808", -1, ""}, // negative is permanent, as documented
		{"3155760001", 0, "more than 100 years"},
		{"36525d1s", 0, "more than 100 years"},
		{"5218w", 0, "more than 100 years"},
		{"9223372036854775807", 0, "more than 100 years"},
		{max62 + max62 + max62, 0, "more than 100 years"},
		{"99999999999999999999w", 0, "bad duration"},
		{"9223372036854775808", 0, "bad duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ParseDuration(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseDuration(%q) = %d, %v; want an error with %q", tt.in, got, err, tt.wantErr)
			}
		})
	}
	for _, tt := range []struct{ yaml, want string }{
		{"jails:\n  a:\n    filter: postfix-sasl\n    logpath: x\n    bantime: " + max62 + max62 + max62 + "\n",
			"c.yaml:5: jails.a.bantime: bad duration \"" + max62 + max62 + max62 + "\": more than 100 years"},
		{"defaults:\n  findtime: 9223372036854775807\njails:\n  a: {filter: postfix-sasl, logpath: x}\n",
			"c.yaml:2: defaults.findtime: bad duration \"9223372036854775807\": more than 100 years"},
		{"jails:\n  a:\n    filter: postfix-sasl\n    logpath: x\n    bantime: 99999999999999999999w\n",
			"c.yaml:5: jails.a.bantime: bad duration \"99999999999999999999w\""},
	} {
		_, err := LoadConfig(strings.NewReader(tt.yaml), "c.yaml", Env{ReadFile: noFiles})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadConfig(%q) = %v, want an error with %q", tt.yaml, err, tt.want)
		}
	}
}

// TestFilterFileNotAFilter: a filter file that does not look like one (no [Definition]
// section) is refused without a word of its content: the path may name any file, say
// /etc/shadow. A file that is a filter gets errors that quote it, to be fixed.
func TestFilterFileNotAFilter(t *testing.T) {
	const secret = "s3cret-token"
	files := map[string]string{
		"/etc/shadow-like":      "root:" + secret + ":19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
		"/etc/key-value":        secret + " = 1\n[x]\n",
		"/etc/section":          "[" + secret + "\n",
		"/etc/binary":           "\x00\x01" + secret + "\xff\n",
		"/etc/other-section":    "[Init]\n" + secret + "\n",
		"/etc/indented-def":     " [Definition]\n" + secret + "\n",
		"/f/broken-filter.conf": "[Definition]\nfailregex = " + secret + "(\n",
	}
	for _, tt := range []struct{ spec, want string }{
		{"/etc/shadow-like", `/etc/shadow-like: not a fail2ban filter file (no [Definition] section)`},
		{"/etc/key-value", `/etc/key-value: not a fail2ban filter file (no [Definition] section)`},
		{"/etc/section", `/etc/section: not a fail2ban filter file (no [Definition] section)`},
		{"/etc/binary", `/etc/binary: not a fail2ban filter file (no [Definition] section)`},
		{"/etc/other-section", `/etc/other-section: not a fail2ban filter file (no [Definition] section)`},
		{"/etc/indented-def", `/etc/indented-def: not a fail2ban filter file (no [Definition] section)`},
	} {
		_, err := LoadFilter(tt.spec, nil, nil, mapFS(files))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("LoadFilter(%q) = %v, want an error with %q and without the file's content", tt.spec, err, tt.want)
		}
	}
	// A filter file's own mistakes are quoted: it is the user's filter.
	if _, err := LoadFilter("/f/broken-filter.conf", nil, nil, mapFS(files)); err == nil || !strings.Contains(err.Error(), secret) {
		t.Errorf("LoadFilter of a broken filter = %v, want its regex quoted", err)
	}
}

// TestConfigNotOurs: a config path that names some other file (--config /etc/shadow) is
// refused without quoting it; a config of ours still has its unknown keys named.
func TestConfigNotOurs(t *testing.T) {
	const secret = "s3cret-token"
	for _, tt := range []struct{ yaml, want string }{
		{"root:$y$" + secret + ":19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n", "c.yaml:1: not a fail2ban-scan config: none of its keys is " + topKeys},
		{secret + ": 1\n", "c.yaml:1: not a fail2ban-scan config"},
		{"jails: {a: {filter: postfix-sasl, logpath: x}}\n" + secret + ": 1\n", "c.yaml:2: " + secret + ": unknown key"},
	} {
		_, err := LoadConfig(strings.NewReader(tt.yaml), "c.yaml", Env{ReadFile: noFiles})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadConfig(%q) = %v, want %q", tt.yaml, err, tt.want)
		}
		if err != nil && !strings.Contains(tt.want, secret) && strings.Contains(err.Error(), secret) {
			t.Errorf("LoadConfig(%q) = %v, quotes a file that is not a config", tt.yaml, err)
		}
	}
}
