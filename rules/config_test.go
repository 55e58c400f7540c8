package rules

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
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
  banaction: ipset
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
				if j.BanAction != "ipset" {
					t.Errorf("banaction %q, want ipset from defaults", j.BanAction)
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
	_, err := LoadConfig(strings.NewReader("jails:\n  a:\n    logpath: x\n    port: [smtpx]\n    filter: postfix-sasl\n"), "cfg.yaml", env)
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
		// 2^62 - 1 seconds parses; the sum of parts past 2^62 is too large, not wrapped round.
		{"4611686018427387903s", 0, true}, {"4611686018427387904s1s", 0, true}, // more than 100 years
		{"7000000000000w7000000000000w7000000000000w", 0, true},
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
	f.Add("defaults: {bantime_increment: {factor: 1.5, multipliers: [1, 2]}, permanent_after: 3}\njails: {postfix-sasl: {logpath: x, bantime_increment: {enabled: true, maxtime: 1w, rndtime: 1m, overalljails: true}, forget_after: 1d}}\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := LoadConfig(strings.NewReader(s), "f.yaml", Env{ReadFile: noFiles})
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml") {
					t.Fatalf("error does not name the file: %q in %v", line, err)
				}
			}
			return
		}
		for _, j := range c.Jails {
			if j.MaxRetry < 1 || j.FindTime <= 0 || j.BanTime == 0 || j.Filter == nil {
				t.Fatalf("invalid jail accepted: %+v", j)
			}
			e := j.Escalation
			if !(e.Factor > 0) || e.MaxTime <= 0 || e.RndTime < 0 || e.ForgetAfter <= 0 || e.PermanentAfter < 0 || slices.ContainsFunc(e.Multipliers, func(m float64) bool { return !(m > 0) }) {
				t.Fatalf("invalid escalation accepted: %+v", e)
			}
			for _, n := range j.Notify {
				kinds := len(slices.DeleteFunc([]string{strings.Join(n.Command, ""), n.Webhook + n.WebhookFile, n.MailTo}, func(s string) bool { return s == "" }))
				if kinds != 1 || n.Timeout <= 0 || len(n.On) == 0 || c.NotifyTimeout <= 0 {
					t.Fatalf("invalid notify target accepted: %+v", n)
				}
			}
		}
	})
}

// TestLoadConfigReportsEveryError: one run of check names every mistake, not just the first.
func TestLoadConfigReportsEveryError(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every line of the error, in order
	}{
		{
			name: "two bad keys in one jail",
			yaml: "jails:\n  a:\n    filter: postfix-sasl\n    maxretry: 0\n    findtime: soon\n    logpath: x\n",
			want: []string{
				"cfg.yaml:4: jails.a.maxretry: must be >= 1, got 0",
				`cfg.yaml:5: jails.a.findtime: bad duration "soon"`,
			},
		},
		{
			name: "a bad jail name and a bad duration in another jail",
			yaml: "jails:\n  'a b':\n    logpath: x\n  c:\n    filter: postfix-sasl\n    bantime: 1y\n    logpath: y\n",
			want: []string{
				"cfg.yaml:2: jails.a b: jail names are letters",
				`cfg.yaml:6: jails.c.bantime: bad duration "1y"`,
			},
		},
		{
			name: "unknown top key, bad default, unknown jail key, bad filter",
			yaml: "foo: 1\ndefaults:\n  blocktype: ACCEPT\njails:\n  postfix-sasl:\n    logpath: x\n    maxretries: 3\n  b:\n    logpath: y\n    filter: nope-nope\n    banaction: pf\n",
			want: []string{
				"cfg.yaml:1: foo: unknown key",
				`cfg.yaml:3: defaults.blocktype: must be REJECT or DROP, got "ACCEPT"`,
				"cfg.yaml:7: jails.postfix-sasl.maxretries: unknown key",
				"cfg.yaml:10: jails.b.filter:",
				`cfg.yaml:11: jails.b.banaction: must be iptables, ipset or nftables, got "pf"`,
			},
		},
		{
			name: "missing logpath reported at the jail, sorted before a later key's error",
			yaml: "jails:\n  a:\n    filter: postfix\n    ignoreip: [10.0.0.0/33]\n",
			want: []string{
				"cfg.yaml:2: jails.a.logpath: backend file needs at least one logpath",
				`cfg.yaml:4: jails.a.ignoreip[0]: bad CIDR`,
			},
		},
		{
			name: "a bad logpath is not reported again as missing",
			yaml: "jails:\n  postfix:\n    logpath: {x: 1}\n",
			want: []string{"cfg.yaml:3: jails.postfix.logpath: must be a list of strings"},
		},
		{
			name: "a duplicate key and the next key",
			yaml: "jails:\n  postfix:\n    logpath: x\n    logpath: y\n    protocol: sctp\n",
			want: []string{
				"cfg.yaml:4: jails.postfix.logpath: duplicate key",
				`cfg.yaml:5: jails.postfix.protocol: must be tcp, udp or all, got "sctp"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(strings.NewReader(tt.yaml), "cfg.yaml", Env{ReadFile: noFiles})
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("%d errors, want %d:\n%s", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("error %d = %q, want it to start with %q", i, got[i], w)
				}
			}
		})
	}
}

func TestConfigWarnings(t *testing.T) {
	yaml := `state: state.json
logfile: log/f2b.log
defaults:
  logpath: [/var/log/mail.log, "mail*.log"]
jails:
  a:
    filter: postfix-sasl
  b:
    filter: postfix-sasl
    backend: journal
    journal_directory: journal
  c:
    filter: postfix-sasl
    logpath: /var/log/ok.log
`
	c, err := LoadConfig(strings.NewReader(yaml), "cfg.yaml", Env{ReadFile: noFiles})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		`cfg.yaml:1: state: relative path "state.json" resolves against the working directory, which is / under systemd, where ProtectSystem=strict makes it read-only`,
		`cfg.yaml:2: logfile: relative path "log/f2b.log" resolves against the working directory, which is / under systemd, where ProtectSystem=strict makes it read-only`,
		`cfg.yaml:4: defaults.logpath[1]: relative path "mail*.log" resolves against the working directory, which is / under systemd`,
		`cfg.yaml:11: jails.b.journal_directory: relative path "journal" resolves against the working directory, which is / under systemd`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Where names the line that set a jail's value: its own, the defaults', or its name.
	for _, tt := range []struct {
		jail, key, wantKey string
		wantLine           int
	}{
		{"a", "logpath[1]", "defaults.logpath[1]", 4},
		{"a", "logpath", "defaults.logpath", 4},
		{"c", "logpath[0]", "jails.c.logpath[0]", 14},
		{"b", "journal_directory", "jails.b.journal_directory", 11},
		{"a", "journal_directory", "jails.a.journal_directory", 6},
	} {
		key, line := c.Where(c.Jail(tt.jail), tt.key)
		if key != tt.wantKey || line != tt.wantLine {
			t.Errorf("Where(%s, %s) = %s:%d, want %s:%d", tt.jail, tt.key, key, line, tt.wantKey, tt.wantLine)
		}
	}
}

// TestLoadConfigPartial: with config errors the jails that loaded come back for check.
func TestLoadConfigPartial(t *testing.T) {
	c, err := LoadConfig(strings.NewReader("jails:\n  a:\n    filter: postfix-sasl\n    logpath: x.log\n  b:\n    maxretry: 0\n    logpath: /y\n"), "cfg.yaml", Env{ReadFile: noFiles})
	var errs ConfigErrors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("err = %v, want 2 ConfigErrors (maxretry, filter b)", err)
	}
	if c == nil || len(c.Jails) != 1 || c.Jails[0].Name != "a" || len(c.Warnings) != 1 {
		t.Fatalf("partial config %+v", c)
	}
}

func TestBanAction(t *testing.T) {
	const jail = "jails:\n  a:\n    filter: postfix-sasl\n    logpath: x\n"
	tests := []struct {
		name    string
		yaml    string
		want    map[string]string // jail → banaction
		wantErr string
	}{
		{name: "default iptables", yaml: jail, want: map[string]string{"a": "iptables"}},
		{name: "defaults and jail", yaml: "defaults:\n  banaction: nftables\n" + jail + "  b:\n    filter: postfix-sasl\n    logpath: x\n    banaction: ipset\n",
			want: map[string]string{"a": "nftables", "b": "ipset"}},
		{name: "unknown", yaml: jail + "    banaction: pf\n",
			wantErr: `cfg.yaml:5: jails.a.banaction: must be iptables, ipset or nftables, got "pf"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(strings.NewReader(tt.yaml), "cfg.yaml", Env{ReadFile: noFiles})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				if got := cfg.Jail(name).BanAction; got != want {
					t.Errorf("jail %s: banaction %q, want %q", name, got, want)
				}
			}
		})
	}
}
