package crowdsec

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// BenchmarkApply decodes a startup answer of 100,000 decisions of another host and applies
// it to an empty fleet: this tool's share of a startup pull (the LAPI's is apart).
func BenchmarkApply(b *testing.B) {
	s := Stream{}
	for i := range 100000 {
		s.New = append(s.New, Decision{ID: int64(i + 1), Duration: "23h59m50.113866864s", Origin: Origin, Scenario: "fail2ban-scan/postfix-sasl@mx2",
			Scope: "Ip", Type: "ban", Value: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)})
	}
	data, _ := json.Marshal(s)
	id := Identity{MachineID: "mx1", ScenarioPrefix: "fail2ban-scan"}
	now := time.Unix(1_000_000, 0)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		got, err := DecodeStream(data)
		if err != nil {
			b.Fatal(err)
		}
		cs := &state.Crowdsec{}
		if r := Apply(cs, got, true, id, now); r.Added != 100000 {
			b.Fatal(r)
		}
	}
}
