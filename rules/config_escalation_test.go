package rules

import (
	"reflect"
	"strings"
	"testing"
)

func TestLoadConfigEscalation(t *testing.T) {
	const jail = "jails:\n  a:\n    filter: postfix-sasl\n    logpath: [/var/log/mail.log]\n"
	tests := []struct {
		name, yaml string
		want       Escalation // of jail a
		wantErr    string
	}{
		{"none set", jail, Escalation{Factor: 2, MaxTime: 604800, ForgetAfter: 2592000}, ""},
		{"all set in the jail", jail + `    bantime_increment:
      enabled: true
      factor: 1.5
      multipliers: [1, 2, 4, 8.5]
      maxtime: 2d
      overalljails: true
      rndtime: 90s
    permanent_after: 3
    forget_after: 1w
`, Escalation{Increment: true, Factor: 1.5, Multipliers: []float64{1, 2, 4, 8.5}, MaxTime: 172800,
			OverallJails: true, RndTime: 90, PermanentAfter: 3, ForgetAfter: 604800}, ""},
		{"defaults merged key by key with the jail", `defaults:
  bantime_increment: {factor: 3, maxtime: 1h, rndtime: 10s}
  permanent_after: 5
` + jail + `    bantime_increment: {enabled: true, rndtime: 0}
    forget_after: 1d
`, Escalation{Increment: true, Factor: 3, MaxTime: 3600, PermanentAfter: 5, ForgetAfter: 86400}, ""},
		{"shorthand true", jail + "    bantime_increment: true\n",
			Escalation{Increment: true, Factor: 2, MaxTime: 604800, ForgetAfter: 2592000}, ""},
		{"factor 0", jail + "    bantime_increment: {factor: 0}\n", Escalation{},
			`c.yaml:5: jails.a.bantime_increment.factor: must be a positive number, got "0"`},
		{"factor negative", jail + "    bantime_increment: {factor: -2}\n", Escalation{},
			`c.yaml:5: jails.a.bantime_increment.factor: must be a positive number, got "-2"`},
		{"factor infinite", jail + "    bantime_increment: {factor: .inf}\n", Escalation{},
			`jails.a.bantime_increment.factor: must be a positive number, got ".inf"`},
		{"factor text", jail + "    bantime_increment: {factor: double}\n", Escalation{},
			`jails.a.bantime_increment.factor: must be a number, got "double"`},
		{"maxtime 0", jail + "    bantime_increment:\n      maxtime: 0\n", Escalation{},
			`c.yaml:6: jails.a.bantime_increment.maxtime: must be positive, got "0"`},
		{"maxtime permanent", jail + "    bantime_increment:\n      maxtime: permanent\n", Escalation{},
			`c.yaml:6: jails.a.bantime_increment.maxtime: must be positive, got "permanent"`},
		{"maxtime overflows", jail + "    bantime_increment:\n      maxtime: 7000000000000w7000000000000w7000000000000w\n", Escalation{},
			`c.yaml:6: jails.a.bantime_increment.maxtime: bad duration`},
		{"multiplier 0", jail + "    bantime_increment:\n      multipliers: [1, 2,\n        0]\n", Escalation{},
			`c.yaml:7: jails.a.bantime_increment.multipliers[2]: must be a positive number, got "0"`},
		{"multipliers not a list", jail + "    bantime_increment:\n      multipliers: 1 2 4\n", Escalation{},
			`c.yaml:6: jails.a.bantime_increment.multipliers: must be a list of positive numbers`},
		{"rndtime negative", jail + "    bantime_increment:\n      rndtime: -1\n", Escalation{},
			`c.yaml:6: jails.a.bantime_increment.rndtime: must be >= 0, got "-1"`},
		{"unknown increment key", jail + "    bantime_increment:\n      formula: ban.Time\n", Escalation{},
			`c.yaml:6: jails.a.bantime_increment.formula: unknown key (want enabled, factor, multipliers, maxtime, overalljails or rndtime)`},
		{"increment not a mapping", jail + "    bantime_increment: [1]\n", Escalation{},
			`c.yaml:5: jails.a.bantime_increment: must be a mapping`},
		{"enabled text", "defaults:\n  bantime_increment: {enabled: yes please}\n" + jail, Escalation{},
			`c.yaml:2: defaults.bantime_increment.enabled: must be true or false, got "yes please"`},
		{"permanent_after negative", jail + "    permanent_after: -1\n", Escalation{},
			`c.yaml:5: jails.a.permanent_after: must be >= 0 (0: never), got -1`},
		{"permanent_after text", jail + "    permanent_after: thrice\n", Escalation{},
			`c.yaml:5: jails.a.permanent_after: must be an integer, got "thrice"`},
		{"forget_after 0", "defaults:\n  forget_after: 0\n" + jail, Escalation{},
			`c.yaml:2: defaults.forget_after: must be positive, got "0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(strings.NewReader(tt.yaml), "c.yaml", Env{ReadFile: noFiles})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if n := strings.Count(err.Error(), "\n") + 1; n != 1 {
					t.Errorf("%d errors, want the one:\n%v", n, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Jail("a").Escalation; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestEscalationWarning(t *testing.T) {
	c, err := LoadConfig(strings.NewReader(`defaults:
  bantime_increment: {factor: 3}
jails:
  a:
    filter: postfix-sasl
    logpath: [/var/log/mail.log]
    bantime_increment:
      maxtime: 1d
  b:
    filter: postfix-sasl
    logpath: [/var/log/mail.log]
    bantime_increment: {enabled: true}
  c:
    filter: postfix-sasl
    logpath: [/var/log/mail.log]
    bantime_increment: {enabled: false, factor: 4}
`), "c.yaml", Env{ReadFile: noFiles})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range c.Warnings {
		got = append(got, w.String())
	}
	want := []string{"c.yaml:7: jails.a.bantime_increment: enabled is not true here nor in defaults: this jail does not lengthen bans"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
