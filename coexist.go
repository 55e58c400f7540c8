package main

import (
	"context"
	"fmt"

	"github.com/fail2ban-scan/fail2ban-scan/fail2ban"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
)

// askFail2ban asks a running fail2ban (at the config's fail2ban_socket) for its jails. Their
// names are fail2ban's: the chains f2b-NAME of those names are never touched by this run. It
// returns the given jails of ours that share a name with one of them, each an error to report;
// a fail2ban that does not answer is an error too (the run cannot tell whose chains are whose).
func (e *env) askFail2ban(ctx context.Context, jails []*rules.Jail) (clashes []error, err error) {
	e.foreign = map[string]bool{}
	if e.cfg.Fail2banSocket == "" {
		return nil, nil
	}
	theirs, running, err := fail2ban.RunningJails(ctx, e.cfg.Fail2banSocket)
	if err != nil || !running {
		return nil, err
	}
	var ours []string
	for _, j := range jails {
		ours = append(ours, j.Name)
	}
	for _, n := range theirs {
		e.foreign[n] = true
	}
	for _, n := range fail2ban.Clashes(ours, theirs) {
		clashes = append(clashes, fmt.Errorf("jail %s: the fail2ban running at %s has a jail of that name, and so owns the chain f2b-%s: this jail is left alone (not scanned, its chain untouched); rename it in %s", n, e.cfg.Fail2banSocket, n, e.cfgPath))
	}
	return clashes, nil
}

// ours drops the jails whose names a running fail2ban uses (see askFail2ban).
func (e *env) ours(jails []*rules.Jail) []*rules.Jail {
	var out []*rules.Jail
	for _, j := range jails {
		if !e.foreign[j.Name] {
			out = append(out, j)
		}
	}
	return out
}
