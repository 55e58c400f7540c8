package fw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// IPTables is the Firewall that runs the real binaries: iptables-save to read
// each family's filter table once, iptables-restore --noflush -w to apply a
// plan in one transaction (and their ip6tables twins), both of the backend
// (nf_tables or legacy) that iptables itself is.
type IPTables struct {
	cmds [2]string // iptables, ip6tables: names or paths
	// sets, when not nil, gives the ipset sets a PrefetchSets started to read.
	sets chan prefetchedSets
}

type prefetchedSets struct {
	cur ipSets
	err error
}

// PrefetchSets starts reading the ipset sets (ipset save) now, for the next Reconcile or
// Flush to use instead of reading them then: a minute run over 100,000 bans reads them
// (0.15 s) while it loads its state. It does nothing when ipset is not installed or its
// kernel module not loaded. The process is started from the calling goroutine, as apply's
// are (see apply); only its output is read in another. A read that failed is done again by
// the Reconcile. What changes in the sets between the two is seen by the run after.
func (f *IPTables) PrefetchSets(ctx context.Context) {
	ipset, use, err := ipsetPath(false)
	if !use || err != nil {
		return
	}
	save, err := start(ctx, ipset, []string{"save"}, nil)
	if err != nil {
		return
	}
	f.sets = make(chan prefetchedSets, 1)
	go func() {
		cur, err := readSets(save)
		f.sets <- prefetchedSets{cur, err}
	}()
}

// Options chooses the binaries; the zero value is the usual one.
type Options struct {
	// IPTables and IP6Tables are the commands, e.g. "iptables-legacy" or
	// "/usr/sbin/iptables-nft"; "" means "iptables" and "ip6tables". A name
	// is looked up in $PATH, then in /usr/sbin, /sbin and /usr/local/sbin
	// (cron's PATH has no sbin). It decides the backend, nf_tables or
	// legacy, and the -save and -restore commands are that backend's
	// (iptables-nft-save, iptables-legacy-restore, ...: see binaries), so
	// the two are never mixed; a path to a symlink to xtables-legacy-multi
	// means legacy.
	IPTables, IP6Tables string
}

// New returns the Firewall for the binaries opts names. It runs nothing
// until Reconcile or Flush.
func New(opts Options) *IPTables {
	f := &IPTables{cmds: [2]string{"iptables", "ip6tables"}}
	if opts.IPTables != "" {
		f.cmds[IPv4] = opts.IPTables
	}
	if opts.IP6Tables != "" {
		f.cmds[IPv6] = opts.IP6Tables
	}
	return f
}

var _ Firewall = (*IPTables)(nil)

// Reconcile implements Firewall for the jails whose Action is iptables (or
// "") or ipset; the chains, jumps and sets of the others are managed but not
// wanted, so a jail switched to nftables loses them in the same run. When
// ip6tables cannot be found or read and no jail has an IPv6 ban, the IPv6
// family is skipped (the plan says why) without an error; with IPv6 bans it
// is an error, and IPv4 is still applied. Likewise for iptables when it is
// not installed and no jail is its own: there is nothing of ours to remove.
func (f *IPTables) Reconcile(ctx context.Context, jails []Jail, managed []string, dryRun bool) (*Plan, error) {
	if err := validate(jails, managed); err != nil {
		return nil, err
	}
	jails, managed = OwnJails(jails, managed, ActionIPTables, ActionIPSet)
	jails = loaded(jails)
	needV6 := false
	for _, j := range jails {
		for _, p := range j.Bans {
			needV6 = needV6 || normalize(p).Addr().Is6()
		}
	}
	return f.apply(ctx, jails, managed, dryRun, needV6, len(jails) > 0)
}

// Flush implements Firewall. An unusable ip6tables is skipped, as there can
// be nothing of ours in it; an iptables not installed is an error.
func (f *IPTables) Flush(ctx context.Context, jails []string) (*Plan, error) {
	if err := validate(nil, jails); err != nil {
		return nil, err
	}
	return f.apply(ctx, nil, jails, false, false, true)
}

// apply reads both families, diffs and, unless dryRun, applies. The two
// families' processes run at the same time, but all are started from the
// calling goroutine, so they share its thread's network namespace (see
// netnstest.Isolate). Where the other backend may hold our chains (see
// binaries), its save runs beside the first one; if it holds any, the
// family is not applied.
//
// With ipset (see ipset.go), ipset save runs beside the saves; the sets
// are created and filled before the iptables-restore transactions and
// destroyed after them. When a set had to change its type, apply runs once
// more and the second plan's lines are appended to the first's.
//
// required says whether missing iptables binaries are an error (when a jail
// is the backend's own, or for flush) or only skip the family.
func (f *IPTables) apply(ctx context.Context, jails []Jail, managed []string, dryRun, needV6, required bool) (*Plan, error) {
	plan, again, err := f.applyOnce(ctx, jails, managed, dryRun, needV6, required)
	if !again || dryRun || err != nil {
		return plan, err
	}
	more, _, err := f.applyOnce(ctx, jails, managed, dryRun, needV6, required)
	if more != nil {
		for i := range more.Families {
			if i < len(plan.Families) {
				plan.Families[i].Ops = append(plan.Families[i].Ops, more.Families[i].Ops...)
				plan.Families[i].Failed = more.Families[i].Failed
			}
		}
	}
	return plan, err
}

func (f *IPTables) applyOnce(ctx context.Context, jails []Jail, managed []string, dryRun, needV6, required bool) (*Plan, bool, error) {
	var (
		plan     = &Plan{Families: []FamilyPlan{{Family: IPv4}, {Family: IPv6}}}
		bins     [2]binaries
		saves    [2]*proc
		others   [2]*proc
		readErr  [2]error
		missing  [2]bool // the binaries are not there
		restores [2]*proc
		errs     []error
	)
	chains := make([]string, 0, len(jails)+len(managed))
	for _, j := range jails {
		chains = append(chains, ChainName(j.Name))
	}
	for _, n := range managed {
		chains = append(chains, ChainName(n))
	}
	needSets := slices.ContainsFunc(jails, func(j Jail) bool { return j.Action == ActionIPSet })
	ipset, useSets, setErr := ipsetPath(needSets)
	var setSave *proc
	var prefetched *ipSets
	if f.sets != nil {
		if p := <-f.sets; p.err == nil {
			prefetched = &p.cur
		}
		f.sets = nil // once: a second pass reads what the first changed
	}
	if useSets && setErr == nil && prefetched == nil {
		setSave, setErr = start(ctx, ipset, []string{"save"}, nil)
	}
	for fam := range plan.Families {
		bins[fam], readErr[fam] = f.binaries(ctx, Family(fam))
		missing[fam] = readErr[fam] != nil
		if readErr[fam] == nil {
			saves[fam], readErr[fam] = start(ctx, bins[fam].save, []string{"-t", "filter"}, nil)
		}
		if readErr[fam] == nil && bins[fam].other != "" {
			others[fam], _ = start(ctx, bins[fam].other, []string{"-t", "filter"}, nil)
		}
	}

	// The sets first: the iptables rules name them.
	var sp setPlan
	var sets *FamilyPlan
	if useSets {
		sets = &FamilyPlan{Family: IPSet}
		var cur ipSets
		if prefetched != nil {
			cur = *prefetched
		} else if setErr == nil {
			cur, setErr = readSets(setSave)
		}
		if setErr != nil {
			// Leave the ipset jails' chains as they are rather than name
			// sets that may not exist.
			sets.Failed = setErr.Error()
			errs = append(errs, setErr)
			skip := map[string]bool{}
			for _, j := range jails {
				skip[j.Name] = j.Action == ActionIPSet
			}
			jails = slices.DeleteFunc(slices.Clone(jails), func(j Jail) bool { return skip[j.Name] })
			managed = slices.DeleteFunc(slices.Clone(managed), func(n string) bool { return skip[n] })
		} else {
			sp = planSets(cur, jails, managed)
			sets.Ops = slices.Concat(sp.pre, sp.post)
			if !dryRun && len(sp.pre) > 0 {
				if err := runIPSet(ctx, sp.pre); err != nil {
					sets.Failed = err.Error()
					errs = append(errs, err)
				}
			}
		}
	}

	for fam := range plan.Families[:2] {
		fp := &plan.Families[fam]
		var header string
		if readErr[fam] == nil {
			var cur table
			if cur, header, readErr[fam] = read(saves[fam], fp.Family); readErr[fam] == nil {
				cost := nftCosts
				if bins[fam].backend == legacy {
					cost = legacyCosts
				}
				fp.Ops = diff(fp.Family, cur, jails, managed, cost, sp.names[fam])
			}
		}
		var conflict error
		if others[fam] != nil {
			// A save that fails (no nf_tables in the kernel) has nothing of ours.
			if other, _, err := read(others[fam], fp.Family); err == nil {
				conflict = checkOther(fp.Family, bins[fam], other, chains)
			}
		}
		switch {
		case readErr[fam] != nil && (fp.Family == IPv6 && !needV6 || missing[fam] && !required):
			fp.Skipped = readErr[fam].Error()
		case readErr[fam] != nil:
			fp.Failed = readErr[fam].Error()
			errs = append(errs, readErr[fam])
		case conflict != nil:
			fp.Failed = conflict.Error()
			errs = append(errs, conflict)
		case !dryRun && len(fp.Ops) > 0:
			var err error
			if restores[fam], err = start(ctx, bins[fam].restore, restoreArgs(header), script(fp.Ops)); err != nil {
				fp.Failed = err.Error()
				errs = append(errs, fmt.Errorf("apply %s to %s: %w", Changes(fp.Count()), fp.Family, err))
			}
		}
	}
	tablesOK := true
	for fam, p := range restores {
		if p == nil {
			continue
		}
		if err := p.wait(); err != nil {
			plan.Families[fam].Failed = err.Error()
			errs = append(errs, fmt.Errorf("apply %s to %s: %w", Changes(plan.Families[fam].Count()), Family(fam), err))
			tablesOK = false
		}
	}
	for fam := range plan.Families[:2] {
		// A set is destroyed only once no rule of ours names it.
		tablesOK = tablesOK && (plan.Families[fam].Failed == "" || plan.Families[fam].Skipped != "")
	}
	if sets != nil && !dryRun && len(sp.post) > 0 && sets.Failed == "" {
		if !tablesOK {
			sets.Failed = "sets not destroyed: the iptables changes failed"
		} else if err := runIPSet(ctx, sp.post); err != nil {
			sets.Failed = err.Error()
			errs = append(errs, err)
		}
	}
	if sets != nil && (needSets || len(sets.Ops) > 0 || sets.Failed != "") {
		plan.Families = append(plan.Families, *sets)
	}
	return plan, sp.again && len(errs) == 0, errors.Join(errs...)
}

// readSets reads our sets from a started ipset save.
func readSets(save *proc) (ipSets, error) {
	cur, parseErr := parseIPSetSave(save.stdout)
	if err := save.wait(); err != nil {
		return nil, fmt.Errorf("read the ipset sets: %w", err)
	}
	if parseErr != nil {
		return nil, fmt.Errorf("read the ipset sets: %s save output: %w", save.cmd.Path, parseErr)
	}
	return cur, nil
}

// runIPSet applies ops as ipset -exist restore would (-exist: an add of a
// member already there, or a del of one gone, is no error), over netlink
// (ipsetlink.go).
func runIPSet(ctx context.Context, ops []string) error {
	err := ctx.Err()
	if err == nil {
		err = applyIPSet(ops)
	}
	if err != nil {
		return fmt.Errorf("apply %s to ipset: %w", Changes(len(ops)), err)
	}
	return nil
}

// read parses iptables-save's output as it comes, then waits for it. It
// returns the table and the first line, "# Generated by ...".
func read(save *proc, fam Family) (table, string, error) {
	cur, header, parseErr := parseSave(save.stdout)
	if err := save.wait(); err != nil {
		return nil, "", fmt.Errorf("read %s filter table: %w", fam, err)
	}
	if parseErr != nil {
		return nil, "", fmt.Errorf("read %s filter table: %s output: %w", fam, save.cmd.Path, parseErr)
	}
	return cur, header, nil
}

// script is the iptables-restore input for ops, as lines: one transaction on
// the filter table.
func script(ops []string) []string {
	return slices.Concat([]string{"*filter"}, ops, []string{"COMMIT"})
}

// sbinDirs are searched after $PATH.
var sbinDirs = []string{"/usr/sbin", "/sbin", "/usr/local/sbin"}

// lookPath resolves cmd like exec.LookPath, then in sbinDirs.
func lookPath(cmd string) (string, error) {
	p, err := exec.LookPath(cmd)
	if err == nil {
		return p, nil
	}
	if strings.Contains(cmd, "/") {
		return "", fmt.Errorf("%s: %w (is iptables installed?)", cmd, err)
	}
	for _, d := range sbinDirs {
		if p, err := exec.LookPath(filepath.Join(d, cmd)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in $PATH nor in %s (is iptables installed?)", cmd, strings.Join(sbinDirs, ", "))
}

// cmdError is a failed run of iptables-save or iptables-restore.
type cmdError struct {
	Argv   []string
	Err    error  // from os/exec: exit status, signal, or context
	Stderr string // trimmed, without iptables' "Try `...' for more information." line
	Line   string // for iptables-restore, the input line it names, as "line N: TEXT"
}

func (e *cmdError) Error() string {
	msg := fmt.Sprintf("running %s: %v", strings.Join(e.Argv, " "), e.Err)
	if e.Stderr != "" {
		msg += ": " + strings.ReplaceAll(e.Stderr, "\n", "; ")
	}
	if e.Line != "" {
		msg += " (input " + e.Line + ")"
	}
	return msg
}

func (e *cmdError) Unwrap() error { return e.Err }

// lineRE finds the input line number in iptables-restore 1.8's errors:
// "Error occurred at line: 5" or "line 3: CHAIN_DEL failed (...)".
var lineRE = regexp.MustCompile(`line:? (\d+)`)

// proc is a started iptables-save or iptables-restore.
type proc struct {
	ctx    context.Context
	cmd    *exec.Cmd
	stdin  []string      // lines
	stdout io.ReadCloser // read it before wait, or wait discards it
	stderr bytes.Buffer
}

// start starts path with args, feeding it the lines of stdin.
func start(ctx context.Context, path string, args []string, stdin []string) (*proc, error) {
	p := &proc{ctx: ctx, cmd: exec.CommandContext(ctx, path, args...), stdin: stdin}
	if stdin != nil {
		p.cmd.Stdin = &linesReader{lines: stdin}
	}
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdout, err = p.cmd.StdoutPipe(); err == nil {
		err = p.cmd.Start()
	}
	if err != nil {
		return nil, &cmdError{Argv: p.cmd.Args, Err: err}
	}
	return p, nil
}

// wait discards what is left of p's stdout, waits for p to exit, and
// returns a *cmdError if it failed.
func (p *proc) wait() error {
	_, _ = io.Copy(io.Discard, p.stdout)
	err := p.cmd.Wait()
	if err == nil {
		return nil
	}
	if p.ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, p.ctx.Err())
	}
	e := &cmdError{Argv: p.cmd.Args, Err: err}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, "Try `") {
			lines = append(lines, l)
		}
	}
	e.Stderr = strings.Join(lines, "\n")
	if m := lineRE.FindStringSubmatch(e.Stderr); m != nil {
		if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= len(p.stdin) {
			e.Line = "line " + m[1] + ": " + p.stdin[n-1]
		}
	}
	return e
}
