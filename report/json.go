package report

import (
	"encoding/json"
	"io"
)

type jsonReport struct {
	From  int64               `json:"from"`
	To    int64               `json:"to"`
	Jails map[string]jsonJail `json:"jails"`
	Fleet *jsonFleet          `json:"fleet,omitempty"`
}

type jsonFleet struct {
	Pulled          int64 `json:"pulled"`
	Lifted          int64 `json:"lifted"`
	Pushed          int64 `json:"pushed"`
	CurrentlyBanned int   `json:"currently_banned"`
}

type jsonJail struct {
	Failures        int64          `json:"failures"`
	DistinctIPs     int            `json:"distinct_ips"`
	Bans            int64          `json:"bans"`
	Unbans          int64          `json:"unbans"`
	PermanentBans   int64          `json:"permanent_bans"`
	ManualBans      int64          `json:"manual_bans"`
	CurrentlyBanned int            `json:"currently_banned"`
	Lines           int64          `json:"lines"`
	Top             []jsonOffender `json:"top"`
	Hourly          []int64        `json:"hourly"`
}

type jsonOffender struct {
	IP       string `json:"ip"`
	Failures int64  `json:"failures"`
	Banned   bool   `json:"banned"`
}

// JSON writes s as `{"from": unix, "to": unix, "jails": {"J": {...}}}`, indented.
func JSON(w io.Writer, s Summary) error {
	out := jsonReport{From: s.From, To: s.To, Jails: map[string]jsonJail{}}
	if f := s.Fleet; f != nil {
		out.Fleet = &jsonFleet{Pulled: f.Pulled, Lifted: f.Lifted, Pushed: f.Pushed, CurrentlyBanned: f.CurrentlyBanned}
	}
	for _, j := range s.Jails {
		jj := jsonJail{Failures: j.Failures, DistinctIPs: j.DistinctIPs, Bans: j.Bans, Unbans: j.Unbans,
			PermanentBans: j.PermanentBans, ManualBans: j.ManualBans, CurrentlyBanned: j.CurrentlyBanned,
			Lines: j.Lines, Top: []jsonOffender{}, Hourly: j.Hourly}
		for _, o := range j.Top {
			jj.Top = append(jj.Top, jsonOffender(o))
		}
		out.Jails[j.Name] = jj
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
