package state

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := New()
	s.Outbox = map[string][]Event{"0123456789abcdef": {
		{Kind: EventBan, Jail: "postfix-sasl", IP: "192.0.2.7", Time: 100, Failures: 5, Start: 90, End: -1, BanTime: -1, Reason: "1st ban: bantime permanent"},
		{Kind: EventUnban, Jail: "postfix-sasl", IP: "2001:db8::/64", Time: 200, Start: 90, End: 190, BanTime: 100, Manual: true},
	}}
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Outbox, s.Outbox) {
		t.Errorf("outbox after Save and Load: %+v, want %+v", got.Outbox, s.Outbox)
	}
	for _, tt := range []struct{ outbox, wantErr string }{
		{`{"x": [{"event": "expire", "jail": "a", "ip": "192.0.2.7"}]}`, `outbox."x"[0]: event "expire" (want ban or unban)`},
		{`{"x": [{"event": "ban", "jail": "", "ip": "192.0.2.7"}]}`, `outbox."x"[0]: no jail`},
		{`{"x": [{"event": "ban", "jail": "a", "ip": "$(reboot)"}]}`, `outbox."x"[0]: ip "$(reboot)": not an address`},
		{`{"": []}`, `outbox: empty target id`},
	} {
		_, err := Decode([]byte(`{"version": 1, "jails": {}, "outbox": ` + tt.outbox + `}`))
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("outbox %s: error %v, want %q", tt.outbox, err, tt.wantErr)
		}
	}
}
