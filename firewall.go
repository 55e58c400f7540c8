package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fail2ban-scan/fail2ban-scan/fw"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// wantedRules turns the state's active bans of the enabled jails into the firewall's input.
// managed names every jail whose chain is ours: those of the config, and those of the state
// (a jail removed from the config), so that the chains of jails no longer enabled are removed.
func (e *env) wantedRules(st *state.State) (jails []fw.Jail, managed []string) {
	now := e.now.Unix()
	for name := range st.Jails {
		if e.cfg.Jail(name) == nil && fw.ValidateName(name) == nil && !e.foreign[name] {
			managed = append(managed, name)
		}
	}
	slices.Sort(managed)
	for _, j := range e.ours(e.cfg.Jails) {
		managed = append(managed, j.Name)
		if !j.Enabled {
			continue
		}
		js := st.Jails[j.Name] // read only: scan saves the state while the firewall is applied
		if js == nil {
			js = &state.Jail{}
		}
		fj := fw.Jail{Name: j.Name, Ports: j.Ports, Protocol: j.Protocol, BlockType: j.BlockType, Action: j.BanAction}
		decoded := func() []netip.Prefix { return fw.SortBans(rules.ActivePrefixes(js, now)) } // read only, as text
		switch info, lazy := js.LazyBans(); {
		case lazy && now < info.NextEnd:
			// Left as text (state.LoadLazy), every one in force: the firewall loads them only
			// if it cannot tell it holds them already.
			fj.Sum, fj.LoadBans = js.BansSum(), decoded
			if base, added, lifted, ok := js.BansChange(); ok { // only these changed this run
				fj.Base, fj.Added, fj.Lifted = base, firewallPrefixes(added), firewallPrefixes(lifted)
			}
		case lazy:
			fj.Bans = decoded() // a jail this run did not scan (--jail), with a ban that ended
		case len(js.Bans) == 0:
			fj.Sum = js.BansSum() // none: the same sum as any other jail without bans
		default:
			fj.Bans = fw.SortBans(rules.ActivePrefixes(js, now))
		}
		jails = append(jails, fj)
	}
	// The fleet's bans pulled from CrowdSec: a jail of their own, in the same transaction.
	if !e.foreign[rules.FleetJail] {
		managed = append(managed, rules.FleetJail)
		if fj, ok := e.fleetJail(st); ok {
			jails = append(jails, fj)
		}
	}
	return jails, managed
}

// firewallPrefixes returns the prefixes of keys the firewall blocks (not ProtectedPrefix ones).
func firewallPrefixes(keys []string) []netip.Prefix {
	var out []netip.Prefix
	for _, k := range keys {
		if p, err := rules.ParseKey(k); err == nil && !rules.ProtectedPrefix(p) {
			out = append(out, p)
		}
	}
	return out
}

// firewalls is the Firewall of every backend: each is given all the jails, takes those whose
// Action is its own and removes its objects of the others (fw.OwnJails), so that a jail whose
// banaction changed loses the old backend's objects in the same run. Their plans are joined,
// and so are their errors; one failing does not stop the next.
type firewalls []fw.Firewall

func (fs firewalls) Reconcile(ctx context.Context, jails []fw.Jail, managed []string, dryRun bool) (*fw.Plan, error) {
	return fs.each(func(f fw.Firewall) (*fw.Plan, error) { return f.Reconcile(ctx, jails, managed, dryRun) })
}

// prefetch starts reading, where a backend can, what the next Reconcile will read (see
// fw.IPTables.PrefetchSets), so that it is read while the state loads.
func (fs firewalls) prefetch(ctx context.Context) {
	for _, f := range fs {
		if p, ok := f.(interface{ PrefetchSets(context.Context) }); ok {
			p.PrefetchSets(ctx)
		}
	}
}

func (fs firewalls) Flush(ctx context.Context, jails []string) (*fw.Plan, error) {
	return fs.each(func(f fw.Firewall) (*fw.Plan, error) { return f.Flush(ctx, jails) })
}

func (fs firewalls) each(call func(fw.Firewall) (*fw.Plan, error)) (*fw.Plan, error) {
	var (
		plan    fw.Plan
		errs    []error
		invalid = true // every backend refused the jails before reading: no plan
	)
	for _, f := range fs {
		p, err := call(f)
		if p != nil {
			invalid = false
			plan.Families = append(plan.Families, p.Families...)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if invalid && len(errs) > 0 {
		return nil, errs[0]
	}
	return &plan, errors.Join(errs...)
}

// reconcile makes the firewall match the state. With dry it prints the plan instead; a
// firewall it cannot read is then a warning, as a dry run changes nothing anyway.
func (e *env) reconcile(ctx context.Context, st *state.State, dry bool) error {
	jails, managed := e.wantedRules(st)
	return e.applyRules(ctx, jails, managed, dry)
}

// applyRules makes the firewall match jails (see wantedRules), or prints the plan with dry.
func (e *env) applyRules(ctx context.Context, jails []fw.Jail, managed []string, dry bool) error {
	plan, err := e.firewall.Reconcile(ctx, jails, managed, dry)
	if dry {
		if err != nil {
			e.log.logf(levelWarning, "actions", "", "firewall: %s", err)
			fmt.Fprintf(e.stdout, "firewall: cannot tell the changes: %s\n", err)
			return nil
		}
		fmt.Fprintf(e.stdout, "firewall:\n%s", indent(plan.String()))
		return nil
	}
	if !plan.Empty() {
		e.log.logf(levelInfo, "actions", "", "firewall: %s", planSummary(plan))
		e.log.logf(levelDebug, "actions", "", "firewall plan:\n%s", plan)
	}
	return err
}

// planSummary counts a plan's changes per family, for the log; a family that
// failed says its changes were not applied.
func planSummary(p *fw.Plan) string {
	var parts []string
	for _, f := range p.Families {
		part := fmt.Sprintf("%s %s", f.Family, fw.Changes(f.Count()))
		if f.Failed != "" && len(f.Ops) > 0 {
			part += " not applied"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ", ")
}

func indent(s string) string {
	if s == "" {
		return "  no changes\n"
	}
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("  " + l)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		b.WriteByte('\n')
	}
	return b.String()
}
