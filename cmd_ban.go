package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"strings"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
	"github.com/urfave/cli/v2"
)

// parseIPs parses the command's arguments: addresses, or prefixes ("203.0.113.0/24"; an
// address is its /32 or /128). A bad one, or one with an IPv6 zone, is a usage error naming it.
// IPv4-mapped IPv6 addresses become IPv4.
func parseIPs(args []string) ([]netip.Prefix, error) {
	if len(args) == 0 {
		return nil, usageErr(errors.New("no IP given"))
	}
	var out []netip.Prefix
	for _, s := range args {
		p, err := rules.ParseKey(s)
		if err != nil {
			return nil, usageErr(fmt.Errorf("%q is not an IP address nor a prefix", s))
		}
		if strings.Contains(s, "%") {
			return nil, usageErr(fmt.Errorf("%q has an IPv6 zone: give the address without it (the firewall matches addresses, not zones)", s))
		}
		if raw, err := netip.ParsePrefix(s); err == nil && raw != p {
			return nil, usageErr(fmt.Errorf("%s has host bits set: did you mean %s?", s, p))
		}
		p, _ = rules.ParseKey(rules.FormatKey(p)) // ::ffff:192.0.2.7 is 192.0.2.7
		out = append(out, p)
	}
	return out, nil
}

// change is one ban or unban that a manual command made in the state.
type change struct {
	jail, verb string // verb: Ban or Unban
	target     string // the key: an address or a prefix
	detail     string // "(from ... until ...)" or ""
}

// changeState runs fn on the locked state, saves it, and reconciles the firewall. The changes
// fn returns are logged and printed once they are known to be saved; when the firewall fails
// they are printed as saved in the state only, and the error says so.
func (e *env) changeState(ctx context.Context, fn func(st *state.State) ([]change, error)) error {
	unlock, ok, err := e.lock()
	if err != nil {
		return err
	}
	if !ok {
		return runtimeErr(fmt.Errorf("another run holds the lock on %s; try again", e.statePath))
	}
	defer unlock()
	st, err := e.loadState()
	if err != nil {
		return err
	}
	changes, err := fn(st)
	if err != nil {
		return err
	}
	e.queuePushes(st) // the LAPI gets the change after the firewall; kept in the state till then
	e.tidyCrowdsec(st)
	st.History.Prune(e.now.Unix(), e.cfg.HistoryDays)
	if err := state.Save(e.statePath, st); err != nil {
		return runtimeErr(fmt.Errorf("nothing changed: %w", err))
	}
	fwErr := e.reconcile(ctx, st, false)
	for _, c := range changes {
		e.log.logf(levelNotice, "actions", c.jail, "%s %s", c.verb, c.target)
		suffix := ""
		if fwErr != nil {
			suffix = " - in the state only: the firewall was not changed"
		}
		fmt.Fprintf(e.stdout, "[%s] %s %s%s%s\n", c.jail, c.verb, c.target, c.detail, suffix)
	}
	lapiFailed := e.pushAndSave(ctx, st) // logs its own failure
	e.notifyAndSave(ctx, st)             // logs its own failure: the change itself is done
	if fwErr != nil {
		return runtimeErr(fmt.Errorf("the state is saved, but the firewall was not changed (the next scan that can, applies it): %w", fwErr))
	}
	if lapiFailed {
		return runtimeErr(errors.New("done here, but not in the CrowdSec LAPI: the next scan pushes it (see the errors above)"))
	}
	return nil
}

func cmdBan(c *cli.Context) error {
	e, err := setup(c)
	if err != nil {
		return err
	}
	defer e.closeLog()
	jails, err := e.jails([]string{c.String("jail")})
	if err != nil {
		return err
	}
	if clashes, err := e.askFail2ban(c.Context, jails); err != nil {
		return runtimeErr(err)
	} else if len(clashes) > 0 {
		return usageErr(clashes[0])
	}
	j := jails[0]
	ips, err := parseIPs(c.Args().Slice())
	if err != nil {
		return err
	}
	bantime := int64(0)
	if s := c.String("bantime"); s != "" {
		if bantime, err = rules.ParseDuration(s); err != nil || bantime == 0 {
			return usageErr(fmt.Errorf("--bantime: bad duration %q (want seconds, 30s, 10m, 1h, 1d, 1w, or -1/permanent)", s))
		}
	}
	for _, p := range ips {
		if why := rules.NeverBan(p.Addr()); p.IsSingleIP() && why != "" {
			return usageErr(fmt.Errorf("%s is %s, which is never banned: nothing changed", p.Addr(), why))
		}
		if p.IsSingleIP() && j.Ignores(p.Addr()) {
			return usageErr(fmt.Errorf("%s is in the ignoreip of jail %s, or one of this host's addresses (ignoreself): nothing changed", p.Addr(), j.Name))
		}
		if ig, ok := j.IgnoredIn(p); ok && !p.IsSingleIP() {
			return usageErr(fmt.Errorf("%s overlaps %s of the ignoreip of jail %s: not banned", p, ig, j.Name))
		}
		if least := minPrefix(p); p.Bits() < least {
			return usageErr(fmt.Errorf("%s is wider than /%d: not banned", p, least))
		}
	}
	return e.changeState(c.Context, func(st *state.State) ([]change, error) {
		js := st.Jail(j.Name)
		var changes []change
		rec := st.History.Recorder(j.Name, e.now.Unix())
		for _, p := range ips {
			key, b, reason, already := j.BanTarget(js, st.Jails, p, e.now.Unix(), bantime)
			if already {
				fmt.Fprintf(e.stdout, "[%s] %s already banned (%s)\n", j.Name, key, banSpan(b))
				continue
			}
			rec.Ban(key, b.End, true)
			e.noteBan(j.Name, key, b, 0, reason, true)
			changes = append(changes, change{j.Name, "Ban", key, " (" + banSpan(b) + "; " + reason + ")"})
		}
		return append(changes, e.aggregate(j, js, e.now.Unix(), rec)...), nil
	})
}

func cmdUnban(c *cli.Context) error {
	e, err := setup(c)
	if err != nil {
		return err
	}
	defer e.closeLog()
	jails, err := e.jails(c.StringSlice("jail"))
	if err != nil {
		return err
	}
	if _, err := e.askFail2ban(c.Context, jails); err != nil {
		return runtimeErr(err)
	}
	jails = e.ours(jails)
	all := c.Bool("all")
	var ips []netip.Prefix
	if all {
		if c.NArg() > 0 {
			return usageErr(errors.New("unban --all takes no IP"))
		}
	} else if ips, err = parseIPs(c.Args().Slice()); err != nil {
		return err
	}
	return e.changeState(c.Context, func(st *state.State) ([]change, error) {
		var changes []change
		lifted := map[netip.Prefix]bool{}
		for _, j := range jails {
			js := st.Jail(j.Name)
			bans := maps.Clone(js.Bans) // what notifications say of the lifted bans
			var keys []string
			if all {
				keys = rules.LiftAll(js)
			}
			for _, p := range ips {
				ks, err := rules.Lift(js, p, e.now.Unix())
				if err != nil { // a member of a banned prefix: nothing is saved
					return nil, usageErr(fmt.Errorf("jail %s: %w; nothing changed", j.Name, err))
				}
				lifted[p] = lifted[p] || len(ks) > 0
				keys = append(keys, ks...)
			}
			rec := st.History.Recorder(j.Name, e.now.Unix())
			for _, key := range keys {
				rec.Unban(key, true)
				e.noteUnban(j.Name, key, bans[key], "", true)
				changes = append(changes, change{j.Name, "Unban", key, ""})
			}
		}
		for _, p := range ips {
			if !lifted[p] {
				fmt.Fprintf(e.stdout, "%s is not banned\n", rules.FormatKey(p))
			}
		}
		return changes, nil
	})
}

func cmdFlush(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	e, err := setup(c)
	if err != nil {
		return err
	}
	defer e.closeLog()
	if _, err := e.askFail2ban(c.Context, e.cfg.Jails); err != nil {
		return runtimeErr(err)
	}
	var names []string
	for _, j := range e.ours(e.cfg.Jails) {
		names = append(names, j.Name)
	}
	if !e.foreign[rules.FleetJail] {
		names = append(names, rules.FleetJail) // the fleet's bans pulled from CrowdSec
	}
	plan, err := e.firewall.Flush(c.Context, names)
	if plan != nil {
		fmt.Fprint(e.stdout, plan.String())
	}
	if err != nil {
		return runtimeErr(fmt.Errorf("flush: %w", err))
	}
	return nil
}

// minPrefix is the shortest prefix `ban` takes for p's family, as `subnet:` does: /8 for
// IPv4, /16 for IPv6.
func minPrefix(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 8
	}
	return 16
}
