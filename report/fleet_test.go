package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// TestFleet: the fleet's counts of the hours in the period, apart from the jails', in text
// and JSON; a state without a crowdsec section has none.
func TestFleet(t *testing.T) {
	st := state.New()
	if s := Summarize(st, nil, 0, 7200); s.Fleet != nil {
		t.Fatalf("no crowdsec section, fleet %+v", s.Fleet)
	}
	cs := &state.Crowdsec{Fleet: state.FleetBans{
		1: {Value: "192.0.2.7", Until: 9000},
		2: {Value: "192.0.2.7", Until: 9500},
		3: {Value: "203.0.113.0/24", Until: 5000},
	}}
	cs.Count(100, state.FleetPulled, 3)  // hour 0: before the period
	cs.Count(3700, state.FleetPulled, 5) // hour 3600
	cs.Count(3800, state.FleetPushed, 2)
	cs.Count(7300, state.FleetLifted, 1) // hour 7200
	st.Crowdsec = cs
	s := Summarize(st, nil, 3600, 7300)
	if f := s.Fleet; f == nil || f.Pulled != 5 || f.Pushed != 2 || f.Lifted != 1 || f.CurrentlyBanned != 1 {
		t.Fatalf("fleet %+v", s.Fleet)
	}
	var text, js, html bytes.Buffer
	if err := HTML(&html, s); err != nil {
		t.Fatal(err)
	}
	if want := `<tr><th>Bans pulled</th><td class="n">5</td><th>Bans pushed</th><td class="n">2</td></tr>`; !strings.Contains(html.String(), want) {
		t.Errorf("html:\n%s", html.String())
	}
	if err := Text(&text, s); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, s); err != nil {
		t.Fatal(err)
	}
	if want := "fleet (CrowdSec, apart from the jails)\n  Bans pulled       5    Bans pushed     2\n  Currently banned  1    Lifted          1\n"; !strings.Contains(text.String(), want) {
		t.Errorf("text:\n%s\nwant\n%s", text.String(), want)
	}
	if want := `"fleet": {
    "pulled": 5,
    "lifted": 1,
    "pushed": 2,
    "currently_banned": 1
  }`; !strings.Contains(js.String(), want) {
		t.Errorf("json:\n%s", js.String())
	}
}
