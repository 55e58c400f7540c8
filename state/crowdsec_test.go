package state

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// withCrowdsec is a state with every field of the crowdsec section set.
func withCrowdsec() *State {
	s := sample()
	s.Crowdsec = &Crowdsec{
		Streamed: true,
		Source:   "http://127.0.0.1:8080 mx1 fail2ban-scan cscli",
		Pending: []Push{
			{Kind: PushBan, Jail: "postfix-sasl", IP: "192.0.2.7", Time: 1000, End: 1600, Failures: 5, First: 900, Last: 1000, Reason: "1st ban: bantime 10m", Sent: 1001},
			{Kind: PushUnban, Jail: "postfix-sasl", IP: "2001:db8::/64", Time: 1100, Alerts: []int64{3, 4}, Tries: 1},
		},
		Hours:  map[int64]*[3]int64{1786752000: {3, 1, 2}},
		Pushed: []Pushed{{Jail: "postfix-sasl", IP: "198.51.100.0/24", Alert: 2, Until: 92233720368, End: -1}},
		Fleet: FleetBans{
			17: {Value: "192.0.2.8", Until: 1786755600, Origin: "fail2ban-scan", Scenario: "fail2ban-scan/postfix-sasl@mx2"},
			9:  {Value: "2001:db8::/48", Until: 1786755601, Origin: "cscli", Scenario: "manual 'ban' from 'x'"},
			12: {Value: "203.0.113.0/24", Until: 1786755602, Origin: "fail2ban-scan", Scenario: "fail2ban-scan/postfix-sasl@mx2"},
		},
	}
	return s
}

// TestCrowdsecRoundTrip: the crowdsec section goes through Save and Load unchanged, in the
// fleet's compact form.
func TestCrowdsecRoundTrip(t *testing.T) {
	s := withCrowdsec()
	path := filepath.Join(t.TempDir(), "state.json")
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Crowdsec, s.Crowdsec) {
		t.Errorf("crowdsec after Save and Load:\n%+v\nwant\n%+v", got.Crowdsec, s.Crowdsec)
	}
	data, _ := Encode(s)
	if want := `"bans":"9=2001:db8::/48,1786755601,0 12=203.0.113.0/24,1786755602,1 17=192.0.2.8,1786755600,1"`; !strings.Contains(string(data), want) {
		t.Errorf("fleet not in its compact form %s:\n%s", want, data)
	}
}

func TestCrowdsecBadState(t *testing.T) {
	for _, tt := range []struct{ crowdsec, wantErr string }{
		{`{"pending":[{"kind":"expire","jail":"a","ip":"192.0.2.7"}]}`, `crowdsec.pending[0]: kind "expire"`},
		{`{"pending":[{"kind":"ban","jail":"","ip":"192.0.2.7"}]}`, `crowdsec.pending[0]: no jail`},
		{`{"pending":[{"kind":"ban","jail":"a","ip":"$(reboot)"}]}`, `crowdsec.pending[0]: ip "$(reboot)": not an address`},
		{`{"pushed":[{"jail":"a","ip":"x","alert":1}]}`, `crowdsec.pushed[0]: ip "x"`},
		{`{"fleet":{"sources":[["a","b"]],"bans":"1=192.0.2.7,5,1"}}`, `fleet entry "1=192.0.2.7,5,1": bad until or source`},
		{`{"fleet":{"sources":[["a","b"]],"bans":"1=192.0.2.7,5,0 1=192.0.2.8,5,0"}}`, `id 1 twice`},
		{`{"fleet":{"sources":[["a","b"]],"bans":"1=nope,5,0"}}`, `fleet entry "1=nope,5,0": not an address`},
		{`{"fleet":{"sources":[],"bans":"x"}}`, `want id=value,until,source`},
	} {
		_, err := Decode([]byte(`{"version": 2, "jails": {}, "crowdsec": ` + tt.crowdsec + `}`))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("crowdsec %s: error %v, want %q", tt.crowdsec, err, tt.wantErr)
		}
	}
}

func TestCrowdsecQueueBounded(t *testing.T) {
	c := &Crowdsec{}
	for i := range MaxPending {
		c.Queue(Push{Kind: PushBan, Jail: "j", IP: "192.0.2.7", Time: int64(i)})
	}
	if n := c.Queue(Push{Kind: PushBan, Jail: "j", IP: "192.0.2.8", Time: -1}, Push{Kind: PushBan, Jail: "j", IP: "192.0.2.9", Time: -2}); n != 2 {
		t.Errorf("dropped %d, want 2", n)
	}
	if len(c.Pending) != MaxPending || c.Pending[0].Time != 2 || c.Pending[MaxPending-1].Time != -2 {
		t.Errorf("queue: %d entries, first %d last %d; want the oldest two dropped", len(c.Pending), c.Pending[0].Time, c.Pending[len(c.Pending)-1].Time)
	}
}
