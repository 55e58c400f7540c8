package fw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/coreos/go-iptables/iptables"
)

// IPTables is the Firewall that runs the real binaries: iptables-save to read
// each family's filter table once, iptables-restore --noflush -w to apply a
// plan in one transaction (and their ip6tables twins).
type IPTables struct {
	cmds [2]string // iptables, ip6tables: names or paths
}

// Options chooses the binaries; the zero value is the usual one.
type Options struct {
	// IPTables and IP6Tables are the commands, e.g. "iptables-legacy" or
	// "/usr/sbin/iptables-nft"; "" means "iptables" and "ip6tables". A name
	// is looked up in $PATH, then in /usr/sbin, /sbin and /usr/local/sbin
	// (cron's PATH has no sbin). The -save and -restore commands are the
	// same path with that suffix, so legacy and nft are never mixed.
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

// Reconcile implements Firewall. When ip6tables cannot be found or read and
// no jail has an IPv6 ban, the IPv6 family is skipped (the plan says why)
// without an error; with IPv6 bans it is an error, and IPv4 is still applied.
func (f *IPTables) Reconcile(ctx context.Context, jails []Jail, managed []string, dryRun bool) (*Plan, error) {
	if err := validate(jails, managed); err != nil {
		return nil, err
	}
	needV6 := false
	for _, j := range jails {
		needV6 = needV6 || len(familyBans(IPv6, j.Bans)) > 0
	}
	return f.apply(ctx, jails, managed, dryRun, needV6)
}

// Flush implements Firewall. An unusable ip6tables is skipped, as there can
// be nothing of ours in it.
func (f *IPTables) Flush(ctx context.Context, jails []string) (*Plan, error) {
	if err := validate(nil, jails); err != nil {
		return nil, err
	}
	return f.apply(ctx, nil, jails, false, false)
}

func (f *IPTables) apply(ctx context.Context, jails []Jail, managed []string, dryRun, needV6 bool) (*Plan, error) {
	plan := &Plan{}
	var errs []error
	for _, fam := range []Family{IPv4, IPv6} {
		fp := FamilyPlan{Family: fam}
		bin, cur, err := f.read(ctx, fam)
		switch {
		case err != nil && fam == IPv6 && !needV6:
			fp.Skipped = err.Error()
		case err != nil:
			errs = append(errs, err)
		default:
			fp.Ops = diff(fam, cur, jails, managed)
			if !dryRun && len(fp.Ops) > 0 {
				if err := restore(ctx, bin.restore, fp.Ops); err != nil {
					errs = append(errs, err)
				}
			}
		}
		plan.Families = append(plan.Families, fp)
	}
	return plan, errors.Join(errs...)
}

// binaries are one family's resolved commands.
type binaries struct {
	save, restore string
}

// read finds fam's binaries, checks that the main one runs, and reads the
// filter table once.
func (f *IPTables) read(ctx context.Context, fam Family) (binaries, table, error) {
	main, err := lookPath(f.cmds[fam])
	if err != nil {
		return binaries{}, nil, err
	}
	proto := iptables.ProtocolIPv4
	if fam == IPv6 {
		proto = iptables.ProtocolIPv6
	}
	if _, err := iptables.New(iptables.IPFamily(proto), iptables.Path(main)); err != nil {
		return binaries{}, nil, fmt.Errorf("%s is not usable: %w", main, err)
	}
	var bin binaries
	if bin.save, err = lookPath(main + "-save"); err != nil {
		return binaries{}, nil, err
	}
	if bin.restore, err = lookPath(main + "-restore"); err != nil {
		return binaries{}, nil, err
	}
	out, err := run(ctx, bin.save, []string{"-t", "filter"}, "")
	if err != nil {
		return binaries{}, nil, fmt.Errorf("read %s filter table: %w", fam, err)
	}
	cur, err := parseSave(out)
	if err != nil {
		return binaries{}, nil, fmt.Errorf("read %s filter table: %s output: %w", fam, bin.save, err)
	}
	return bin, cur, nil
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

// restore applies ops to the filter table in one transaction.
func restore(ctx context.Context, path string, ops []string) error {
	var in strings.Builder
	in.WriteString("*filter\n")
	for _, op := range ops {
		in.WriteString(op)
		in.WriteByte('\n')
	}
	in.WriteString("COMMIT\n")
	script := in.String()
	_, err := run(ctx, path, []string{"--noflush", "-w"}, script)
	if err != nil {
		return fmt.Errorf("apply %d changes: %w", len(ops), err)
	}
	return nil
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

// run runs path with args and stdin, returning stdout.
func run(ctx context.Context, path string, args []string, stdin string) (string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	e := &cmdError{Argv: cmd.Args, Err: err}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, "Try `") {
			lines = append(lines, l)
		}
	}
	e.Stderr = strings.Join(lines, "\n")
	if m := lineRE.FindStringSubmatch(e.Stderr); m != nil && stdin != "" {
		in := strings.Split(stdin, "\n")
		if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= len(in) {
			e.Line = "line " + m[1] + ": " + in[n-1]
		}
	}
	return "", e
}
