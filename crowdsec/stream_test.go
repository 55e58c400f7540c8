package crowdsec

import (
	"encoding/json"
	"reflect"
	"testing"
)

var streamSeeds = []string{
	`{"deleted":null,"new":[{"duration":"9m55.742779896s","id":1,"origin":"fail2ban-scan","scenario":"fail2ban-scan/postfix-sasl@mx1","scope":"Ip","type":"ban","value":"192.0.2.7"}]}`,
	`{"deleted":[{"duration":"-19.419449ms","id":1,"origin":"cscli","scenario":"manual 'ban' from 'x'","scope":"Range","type":"ban","value":"203.0.113.0/24","simulated":false}],"new":null}`,
	`{"new":[],"deleted":[]}`,
	`{"new":[{"id":2,"until":"2026-11-30T01:00:00Z","uuid":"x","value":"192.0.2.8","n":1.5e3,"b":true,"z":null}]}` + "\n",
	`{"new":[{"ID":3,"value":"192.0.2.9"}]}`,
	`{"new":[{"id":4,"value":"a\u003cb"}]}`,
	`{"new":[{"id":01}]}`,
	`{"new":[{"id":5,"id":6}]}`,
	`{"new":[{"value":null}]}`,
	`{"New":[{"id":7}]}`,
	`{"new":[{"id":8}]} x`,
	` { "new" : [ { "id" : 9 , "type" : "ban" } ] , "deleted" : null } `,
	`{}`,
	`[]`,
}

// TestDecodeStream: the fast path takes what the LAPI writes, and agrees with encoding/json.
func TestDecodeStream(t *testing.T) {
	if _, ok := decodeStreamFast([]byte(streamSeeds[0])); !ok {
		t.Errorf("the fast path refused what the LAPI writes: %s", streamSeeds[0])
	}
	if s, ok := decodeStreamFast([]byte(streamSeeds[3])); !ok || s.New[0].Value != "192.0.2.8" {
		t.Errorf("a later LAPI's extra keys: %v %v", s, ok)
	}
	for _, seed := range streamSeeds {
		checkStream(t, []byte(seed))
	}
}

func checkStream(t *testing.T, data []byte) {
	t.Helper()
	var want Stream
	wantErr := json.Unmarshal(data, &want)
	got, err := DecodeStream(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(*got, want) {
		t.Fatalf("%q:\n got %v\nwant %v", data, got, &want)
	}
}

func FuzzDecodeStream(f *testing.F) {
	for _, s := range streamSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkStream(t, data) })
}
