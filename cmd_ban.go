package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
	"github.com/urfave/cli/v2"
)

// parseIPs parses the command's IP arguments; a bad one, or one with an IPv6 zone, is a usage
// error naming it. IPv4-mapped IPv6 addresses become IPv4.
func parseIPs(args []string) ([]netip.Addr, error) {
	if len(args) == 0 {
		return nil, usageErr(errors.New("no IP given"))
	}
	var out []netip.Addr
	for _, s := range args {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, usageErr(fmt.Errorf("%q is not an IP address", s))
		}
		if a.Zone() != "" {
			return nil, usageErr(fmt.Errorf("%q has an IPv6 zone: give the address without it (the firewall matches addresses, not zones)", s))
		}
		out = append(out, a.Unmap())
	}
	return out, nil
}

// change is one ban or unban that a manual command made in the state.
type change struct {
	jail, verb string // verb: Ban or Unban
	ip         netip.Addr
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
	st.History.Prune(e.now.Unix(), e.cfg.HistoryDays)
	if err := state.Save(e.statePath, st); err != nil {
		return runtimeErr(fmt.Errorf("nothing changed: %w", err))
	}
	fwErr := e.reconcile(ctx, st, false)
	for _, c := range changes {
		e.log.logf(levelNotice, "actions", c.jail, "%s %s", c.verb, c.ip)
		suffix := ""
		if fwErr != nil {
			suffix = " - in the state only: the firewall was not changed"
		}
		fmt.Fprintf(e.stdout, "[%s] %s %s%s%s\n", c.jail, c.verb, c.ip, c.detail, suffix)
	}
	if fwErr != nil {
		return runtimeErr(fmt.Errorf("the state is saved, but the firewall was not changed (the next scan that can, applies it): %w", fwErr))
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
	for _, ip := range ips {
		if j.Ignores(ip) {
			return usageErr(fmt.Errorf("%s is in the ignoreip of jail %s: not banned", ip, j.Name))
		}
	}
	return e.changeState(c.Context, func(st *state.State) ([]change, error) {
		js := st.Jail(j.Name)
		var changes []change
		rec := st.History.Recorder(j.Name, e.now.Unix())
		for _, ip := range ips {
			b, already := j.BanNow(js, ip, e.now.Unix(), bantime)
			if already {
				fmt.Fprintf(e.stdout, "[%s] %s already banned (%s)\n", j.Name, ip, banSpan(b))
				continue
			}
			rec.Ban(ip.String(), b.End, true)
			changes = append(changes, change{j.Name, "Ban", ip, " (" + banSpan(b) + ")"})
		}
		return changes, nil
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
	var ips []netip.Addr
	if all {
		if c.NArg() > 0 {
			return usageErr(errors.New("unban --all takes no IP"))
		}
	} else if ips, err = parseIPs(c.Args().Slice()); err != nil {
		return err
	}
	return e.changeState(c.Context, func(st *state.State) ([]change, error) {
		var changes []change
		lifted := map[netip.Addr]bool{}
		for _, j := range jails {
			js := st.Jail(j.Name)
			targets := ips
			if all {
				targets = nil
				for _, ip := range sortedIPs(js.Bans) {
					targets = append(targets, netip.MustParseAddr(ip))
				}
			}
			rec := st.History.Recorder(j.Name, e.now.Unix())
			for _, ip := range targets {
				if rules.Unban(js, ip) {
					rec.Unban(ip.String(), true)
					lifted[ip] = true
					changes = append(changes, change{j.Name, "Unban", ip, ""})
				}
			}
		}
		for _, ip := range ips {
			if !lifted[ip] {
				fmt.Fprintf(e.stdout, "%s is not banned\n", ip)
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
	plan, err := e.firewall.Flush(c.Context, names)
	if plan != nil {
		fmt.Fprint(e.stdout, plan.String())
	}
	if err != nil {
		return runtimeErr(fmt.Errorf("flush: %w", err))
	}
	return nil
}
