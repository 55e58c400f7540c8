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

// parseIPs parses the command's IP arguments; a bad one is a usage error naming it.
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
		out = append(out, a.Unmap())
	}
	return out, nil
}

// changeState runs fn on the locked state, saves it, and reconciles the firewall.
func (e *env) changeState(ctx context.Context, fn func(st *state.State) error) error {
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
	if err := fn(st); err != nil {
		return err
	}
	st.History.Prune(e.now.Unix(), e.cfg.HistoryDays)
	if err := state.Save(e.statePath, st); err != nil {
		return runtimeErr(err)
	}
	if err := e.reconcile(ctx, st, false); err != nil {
		return runtimeErr(err)
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
	return e.changeState(c.Context, func(st *state.State) error {
		js := st.Jail(j.Name)
		rec := st.History.Recorder(j.Name, e.now.Unix())
		for _, ip := range ips {
			b := j.BanNow(js, ip, e.now.Unix(), bantime)
			rec.Ban(ip.String(), b.End, true)
			e.log.logf(levelNotice, "actions", j.Name, "Ban %s", ip)
			fmt.Fprintf(e.stdout, "[%s] Ban %s (%s)\n", j.Name, ip, banSpan(b))
		}
		return nil
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
	all := c.Bool("all")
	var ips []netip.Addr
	if all {
		if c.NArg() > 0 {
			return usageErr(errors.New("unban --all takes no IP"))
		}
	} else if ips, err = parseIPs(c.Args().Slice()); err != nil {
		return err
	}
	return e.changeState(c.Context, func(st *state.State) error {
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
					e.log.logf(levelNotice, "actions", j.Name, "Unban %s", ip)
					fmt.Fprintf(e.stdout, "[%s] Unban %s\n", j.Name, ip)
				}
			}
		}
		for _, ip := range ips {
			if !lifted[ip] {
				fmt.Fprintf(e.stdout, "%s is not banned\n", ip)
			}
		}
		return nil
	})
}

func cmdFlush(c *cli.Context) error {
	e, err := setup(c)
	if err != nil {
		return err
	}
	defer e.closeLog()
	var names []string
	for _, j := range e.cfg.Jails {
		names = append(names, j.Name)
	}
	plan, err := e.firewall.Flush(c.Context, names)
	if plan != nil {
		fmt.Fprint(e.stdout, plan.String())
	}
	if err != nil {
		return runtimeErr(err)
	}
	return nil
}
