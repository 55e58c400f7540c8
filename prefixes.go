package main

import (
	"fmt"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// aggregate bans the subnets of the jail's bans (`subnet:`), records them in rec (nil: a dry
// run), and returns the prefixes it banned or lifted as changes, for the caller to log (and
// print) once it knows they hold. It logs the rest: an extended prefix ban, and a prefix that
// ignoreip keeps from being banned (once per call, so once a run).
func (e *env) aggregate(j *rules.Jail, js *state.Jail, now int64, rec *state.Recorder) []change {
	agg := j.Aggregate(js, now)
	var changes []change
	for _, pb := range agg.Banned {
		rec.Ban(pb.Prefix.String(), pb.Ban.End, false)
		e.noteBan(j.Name, pb.Prefix.String(), pb.Ban, 0, fmt.Sprintf("prefix of %d banned addresses", pb.Members), false)
		c := change{j.Name, "Ban", pb.Prefix.String(), fmt.Sprintf(" (prefix of %d banned addresses, %s)", pb.Members, banSpan(pb.Ban))}
		changes = append(changes, c)
	}
	for _, pb := range agg.Extended {
		e.log.logf(levelInfo, "actions", j.Name, "%s: ban extended to %s, the end of a member's ban", pb.Prefix, banSpan(pb.Ban))
	}
	for _, pb := range agg.Refused {
		e.log.logf(levelInfo, "actions", j.Name, "%s not banned as a prefix: it overlaps ignoreip %s; its %d banned addresses stay banned one by one",
			pb.Prefix, pb.Ignored, pb.Members)
	}
	for _, pb := range agg.Lifted {
		rec.Unban(pb.Prefix.String(), false)
		e.noteUnban(j.Name, pb.Prefix.String(), pb.Ban, "overlaps ignoreip "+pb.Ignored.String(), false)
		e.log.logf(levelInfo, "actions", j.Name, "%s overlaps ignoreip %s: its ban is lifted", pb.Prefix, pb.Ignored)
		changes = append(changes, change{j.Name, "Unban", pb.Prefix.String(), ""})
	}
	return changes
}
