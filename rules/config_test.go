package rules

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func noFiles(string) ([]byte, error) { return nil, errors.New("no files in this test") }

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		check   func(t *testing.T, c *Config)
		wantErr string
	}{
		{
			name: "defaults inherited and overridden",
			yaml: `
state: /tmp/s.json
defaults:
  maxretry: 3
  findtime: 1h
  bantime: permanent
  ignoreip: [10.0.0.0/8, "2001:db8::1"]
  blocktype: drop
jails:
  postfix-sasl:
    logpath: /var/log/mail.log
    maxretry: 50
    port: all
`,
			check: func(t *testing.T, c *Config) {
				j := c.Jail("postfix-sasl")
				if c.State != "/tmp/s.json" || j == nil {
					t.Fatalf("state %q, jail %v", c.State, j)
				}
				if j.MaxRetry != 50 || j.FindTime != 3600 || j.BanTime != -1 || j.BlockType != "DROP" {
					t.Errorf("maxretry %d findtime %d bantime %d blocktype %s", j.MaxRetry, j.FindTime, j.BanTime, j.BlockType)
				}
				want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128")}
				if !reflect.DeepEqual(j.IgnoreIP, want) {
					t.Errorf("ignoreip %v, want %v", j.IgnoreIP, want)
				}
				if j.Ports != nil || !j.Enabled || j.Backend != "file" || j.Filter == nil {
					t.Errorf("ports %v enabled %v backend %s filter %v", j.Ports, j.Enabled, j.Backend, j.Filter)
				}
				if !reflect.DeepEqual(j.LogPath, []string{"/var/log/mail.log"}) {
					t.Errorf("logpath %v", j.LogPath)
				}
			},
		},
		{
			name: "journal jail with spec example values",
			yaml: `
jails:
  postfix-sasl:
    enabled: true
    filter: postfix[mode=auth]
    backend: journal
    journalmatch: [_SYSTEMD_UNIT=postfix.service]
    maxretry: 50
    findtime: 600
    bantime: 1800
    port: [smtp, 465, submission]
    protocol: tcp
`,
			check: func(t *testing.T, c *Config) {
				j := c.Jails[0]
				if c.State != DefaultStatePath || j.FindTime != 600 || j.BanTime != 1800 || j.Backend != "journal" {
					t.Errorf("%+v", j)
				}
				if !reflect.DeepEqual(j.Ports, []string{"smtp", "465", "submission"}) {
					t.Errorf("ports %v", j.Ports)
				}
			},
		},
		{name: "unknown top key", yaml: "jails: {a: {logpath: x}}\nfoo: 1\n", wantErr: "cfg.yaml:2: foo: unknown key"},
		{name: "unknown jail key", yaml: "jails:\n  a:\n    logpath: x\n    maxretries: 3\n", wantErr: "cfg.yaml:4: jails.a.maxretries: unknown key"},
		{name: "bad maxretry", yaml: "jails:\n  a:\n    logpath: x\n    maxretry: 0\n", wantErr: "cfg.yaml:4: jails.a.maxretry: must be >= 1, got 0"},
		{name: "bad duration", yaml: "defaults:\n  findtime: 10 minutes\njails: {a: {logpath: x}}\n", wantErr: `cfg.yaml:2: defaults.findtime: bad duration "10 minutes"`},
		{name: "zero bantime", yaml: "jails:\n  a:\n    logpath: x\n    bantime: 0\n", wantErr: "jails.a.bantime: must not be 0"},
		{name: "bad cidr", yaml: "jails:\n  a:\n    logpath: x\n    ignoreip: [10.0.0.0/33]\n", wantErr: `cfg.yaml:4: jails.a.ignoreip[0]: bad CIDR "10.0.0.0/33"`},
		{name: "regex without host", yaml: "jails:\n  a:\n    logpath: x\n    failregex: ['auth failed from (\\S+)']\n", wantErr: "cfg.yaml:4: jails.a.failregex[0]: failregex"},
		{name: "bad regex", yaml: "jails:\n  a:\n    logpath: x\n    failregex: ['(<HOST>']\n", wantErr: "jails.a.failregex[0]: bad regex"},
		{name: "no logpath", yaml: "jails:\n  a:\n    filter: postfix\n", wantErr: "cfg.yaml:2: jails.a.logpath: backend file needs at least one logpath"},
		{name: "bad backend", yaml: "jails:\n  a:\n    backend: systemd\n", wantErr: `jails.a.backend: must be file or journal, got "systemd"`},
		{name: "long jail name", yaml: "jails:\n  abcdefghijklmnopqrstuvwxy:\n    logpath: x\n", wantErr: "cfg.yaml:2: jails.abcdefghijklmnopqrstuvwxy: jail names"},
		{name: "jail name with space", yaml: "jails:\n  'a b':\n    logpath: x\n", wantErr: "jail names"},
		{name: "too many ports", yaml: "jails:\n  a:\n    logpath: x\n    port: ['1:2','3:4','5:6','7:8','9:10','11:12','13:14','15:16']\n", wantErr: "at most 15"},
		{name: "bad port", yaml: "jails:\n  a:\n    logpath: x\n    port: [70000]\n", wantErr: "port 70000 out of range"},
		{name: "bad journalmatch", yaml: "jails:\n  a:\n    backend: journal\n    journalmatch: [postfix]\n", wantErr: "jails.a.journalmatch[0]: want FIELD=value"},
		{name: "unknown filter", yaml: "jails:\n  a:\n    logpath: x\n    filter: sshd-nope\n", wantErr: "cfg.yaml:4: jails.a.filter:"},
		{name: "no jails", yaml: "state: /x\n", wantErr: "jails: no jails configured"},
		{name: "duplicate key", yaml: "jails:\n  a:\n    logpath: x\n    logpath: y\n", wantErr: "cfg.yaml:4: jails.a.logpath: duplicate key"},
		{name: "not yaml", yaml: "jails: [\n", wantErr: "cfg.yaml: yaml:"},
		{name: "empty", yaml: "", wantErr: "cfg.yaml: empty config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(strings.NewReader(tt.yaml), "cfg.yaml", Env{ReadFile: noFiles})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadConfigChecksPorts(t *testing.T) {
	env := Env{ReadFile: noFiles, CheckPorts: func(ports []string, proto string) error {
		if len(ports) > 0 && ports[0] == "smtpx" {
			return errors.New(`port "smtpx": unknown service name`)
		}
		return nil
	}}
	_, err := LoadConfig(strings.NewReader("jails:\n  a:\n    logpath: x\n    port: [smtpx]\n"), "cfg.yaml", env)
	if want := `cfg.yaml:4: jails.a.port: port "smtpx": unknown service name`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestDefaultConfigLoads(t *testing.T) {
	for _, logpath := range []string{"/var/log/mail.log", ""} {
		c, err := LoadConfig(strings.NewReader(DefaultConfig(logpath)), "default", Env{ReadFile: noFiles})
		if err != nil {
			t.Fatalf("logpath %q: %v", logpath, err)
		}
		j := c.Jail("postfix-sasl")
		wantBackend := "file"
		if logpath == "" {
			wantBackend = "journal"
		}
		if j == nil || j.Backend != wantBackend || j.MaxRetry != 5 || j.FindTime != 600 {
			t.Errorf("logpath %q: %+v", logpath, j)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"600", 600, false}, {"30s", 30, false}, {"10m", 600, false}, {"1h", 3600, false},
		{"1d", 86400, false}, {"1w", 604800, false}, {"1h30m", 5400, false}, {"-1", -1, false},
		{"permanent", -1, false}, {"-5", -1, false}, {"", 0, true}, {"10", 10, false},
		{"10x", 0, true}, {"m", 0, true}, {"1.5h", 0, true}, {"99999999999999999999d", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseDuration(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzLoadConfig(f *testing.F) {
	f.Add("jails:\n  a:\n    logpath: x\n    maxretry: 3\n")
	f.Add(DefaultConfig("/var/log/mail.log"))
	f.Add("defaults: {bantime: -1, ignoreip: [::1]}\njails: {a: {backend: journal}}\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := LoadConfig(strings.NewReader(s), "f.yaml", Env{ReadFile: noFiles})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, j := range c.Jails {
			if j.MaxRetry < 1 || j.FindTime <= 0 || j.BanTime == 0 || j.Filter == nil {
				t.Fatalf("invalid jail accepted: %+v", j)
			}
		}
	})
}
