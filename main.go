// Command fail2ban-scan is a single-shot scanner that bans the IPs that keep failing postfix
// SASL authentication. A systemd timer runs it every minute; see README.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/fail2ban-scan/fail2ban-scan/fw"
	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

const defaultConfigPath = "/etc/fail2ban-scan/config.yaml"

// exitError carries the exit status out of a command: 1 for a runtime failure, 2 for a usage or
// config error. Other errors from the cli (bad flags) exit 2.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(err error) error   { return &exitError{2, err} }
func runtimeErr(err error) error { return &exitError{1, err} }

func main() {
	setMemoryLimit(os.Getenv)
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// defaultMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT says otherwise: near it the
// runtime collects more often instead of letting the heap grow to twice what is live, so that
// a first scan that makes 100,000 bans peaks under 64 MB (README.md, Speed); over it nothing
// fails.
const defaultMemoryLimit = 48 << 20

// setMemoryLimit sets defaultMemoryLimit when the environment has no GOMEMLIMIT (the runtime
// reads GOMEMLIMIT itself; "off" turns the limit off).
func setMemoryLimit(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

// run runs the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(interspersed(app, args))
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			for _, line := range strings.Split(ee.err.Error(), "\n") { // every config error
				fmt.Fprintf(stderr, "fail2ban-scan: %s\n", line)
			}
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "fail2ban-scan: %s\n", err)
	return 2
}

func newApp(stdout, stderr io.Writer) *cli.App {
	jailFlag := &cli.StringSliceFlag{Name: "jail", Usage: "limit to this jail (repeatable)"}
	return &cli.App{
		Name:    "fail2ban-scan",
		Usage:   "ban the IPs that keep failing postfix SASL authentication, one pass at a time",
		Version: buildVersion(),
		Description: "A single-shot scanner, run every minute by fail2ban-scan.timer. Each run reads the postfix\n" +
			"log lines new since the last run, counts authentication failures per IP, bans and unbans,\n" +
			"saves the state and makes the iptables chains f2b-JAIL match the bans. A bare\n" +
			"fail2ban-scan runs scan. Example config: /usr/share/doc/fail2ban-scan/examples/config.yaml.",
		EnableBashCompletion: true,
		Suggest:              true,
		Writer:               stdout,
		ErrWriter:            stderr,
		ExitErrHandler:       func(*cli.Context, error) {}, // run maps errors to exit status
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Value: defaultConfigPath, Usage: "config `FILE` (an embedded default is used when the default path does not exist)"},
			&cli.StringFlag{Name: "state", Usage: "state `FILE` (overrides the config)"},
			&cli.StringFlag{Name: "now", Usage: "the current `TIME`, RFC 3339 or unix seconds (replays and tests)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "error, warning, notice, info or debug"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usageErr(fmt.Errorf("unknown command %q. %s (see --help)", c.Args().First(), cli.SuggestCommand(c.App.Commands, c.Args().First())))
			}
			return cmdScan(c)
		},
		Commands: append([]*cli.Command{
			{
				Name:  "scan",
				Usage: "one pass: read new log lines, update the state, ban and unban, make the firewall match",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "dry-run", Usage: "print the bans, unbans and firewall changes, write nothing"},
					jailFlag,
				},
				Action:      cmdScan,
				Subcommands: []*cli.Command{reportCommand()},
			},
			{
				Name:      "status",
				Usage:     "show jails, or one jail's counters and bans, like fail2ban-client status (fleet: the bans pulled from CrowdSec)",
				ArgsUsage: "[JAIL|fleet]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "JSON for scripts"},
					&cli.BoolFlag{Name: "with-time", Usage: "one line per ban: IP, start + bantime = end, as fail2ban-client get JAIL banip --with-time"},
				},
				Action: cmdStatus,
			},
			reportCommand(),
			{
				Name:   "check",
				Usage:  "validate the config",
				Action: cmdCheck,
			},
			{
				Name:      "regex",
				Usage:     "test a filter on a log, like fail2ban-regex",
				ArgsUsage: "LOG FILTER",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "JSON for scripts"},
					&cli.StringFlag{Name: "journal-directory", Usage: "read this journal `DIR` instead of LOG (LOG is then omitted)"},
					&cli.StringSliceFlag{Name: "journalmatch", Usage: "journal match `TERM` (repeatable)"},
					&cli.BoolFlag{Name: "print-all-matched", Usage: "list the matched lines after the results"},
					&cli.BoolFlag{Name: "print-all-missed", Usage: "list the missed lines after the results"},
					&cli.BoolFlag{Name: "print-all-ignored", Usage: "list the ignored lines after the results"},
					&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "instead of the results, one line per match: `FORMAT` ip (the address), msg (the log line) or row (fail2ban's [ip, time, {...}])"},
				},
				Action: cmdRegex,
			},
			{
				Name:      "ban",
				Usage:     "ban IPs or prefixes (203.0.113.0/24) by hand in a jail",
				ArgsUsage: "IP|PREFIX...",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "jail", Required: true, Usage: "the `JAIL`"},
					&cli.StringFlag{Name: "bantime", Usage: "`DURATION` instead of the jail's bantime (-1 or permanent: for ever)"},
				},
				Action: cmdBan,
			},
			{
				Name:      "unban",
				Usage:     "lift bans, in the state and the firewall (a prefix with the bans inside it)",
				ArgsUsage: "IP|PREFIX...",
				Flags: []cli.Flag{
					jailFlag,
					&cli.BoolFlag{Name: "all", Usage: "lift every ban"},
				},
				Action: cmdUnban,
			},
			{
				Name:   "flush",
				Usage:  "remove this tool's chains and jump rules (the state stays; the next scan restores them)",
				Action: cmdFlush,
			},
			importCommand(),
		}, docCommands()...),
	}
}

// env is what every command starts from: the config, the state path, now, and the logger.
type env struct {
	cfg          *rules.Config
	cfgPath      string
	statePath    string
	now          time.Time
	log          *logger
	firewall     fw.Firewall
	foreign      map[string]bool // jail names a running fail2ban uses: their chains are not ours
	held         map[string]int  // per jail, the failures of this run that max_new_bans_per_run held
	events       []state.Event   // this run's bans and unbans, for the notifications
	eventsWanted *bool           // see keepEvents
	stdout       io.Writer
	closeLog     func()

	self []netip.Addr // the host's addresses (ignoreself)
	// CrowdSec (cmd_scan_crowdsec.go): the run's LAPI client, the first failure of each ban
	// of this run ("jail key"), and how many of events are queued for the LAPI already.
	lapiRun    *lapi
	firsts     map[string]int64
	queued     int
	lapiFailed bool // a call to the LAPI failed in this run (metrics)
	pulled     bool // this run's pull changed the fleet
}

// globals parses --log-level and --now, which every command takes, and makes the logger:
// under --now its time stamps follow the given time (plus the time the run has taken).
func globals(c *cli.Context, w ...io.Writer) (log *logger, now time.Time, err error) {
	level, err := parseLevel(c.String("log-level"))
	if err != nil {
		return nil, now, usageErr(err)
	}
	now = time.Now()
	log = newLogger(level, w...)
	if s := c.String("now"); s != "" {
		if now, err = parseTime("now", s); err != nil {
			return nil, now, usageErr(err)
		}
		offset := now.Sub(time.Now())
		log.clock = func() time.Time { return time.Now().Add(offset) }
	}
	return log, now, nil
}

func setup(c *cli.Context) (*env, error) {
	log, now, err := globals(c, c.App.ErrWriter)
	if err != nil {
		return nil, err
	}
	cfg, path, notes, err := loadConfig(c.String("config"), c.IsSet("config"))
	for _, n := range notes {
		log.logf(levelWarning, "config", "", "%s", n)
	}
	if err != nil {
		return nil, usageErr(err)
	}
	self := hostAddrs()
	for _, j := range cfg.Jails {
		j.Self = self
	}
	e := &env{held: map[string]int{}, self: self, cfg: cfg, cfgPath: path, statePath: cfg.State, now: now, stdout: c.App.Writer, closeLog: log.flush}
	if s := c.String("state"); s != "" {
		e.statePath = s
	}
	nft := fw.NewNFTables("")
	nft.Cache = e.statePath + ".nft" // the table the last run left, beside the state
	e.firewall = firewalls{fw.New(fw.Options{}), nft}
	outs := []io.Writer{c.App.ErrWriter}
	if cfg.LogFile != "" {
		f, err := os.OpenFile(cfg.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, usageErr(fmt.Errorf("logfile: %w", err))
		}
		outs = append(outs, f)
		e.closeLog = func() { log.flush(); f.Close() }
	}
	log.out = outs
	e.log = log
	if path == embeddedConfig {
		log.logf(levelInfo, "config", "", "config: %s, as %s does not exist", path, c.String("config"))
	} else {
		log.logf(levelInfo, "config", "", "config: %s", path)
	}
	return e, nil
}

// parseTime takes RFC 3339 or unix seconds; flag names the option in the error. Unix seconds
// are held to the years RFC 3339 can write (0 to 9999), so that a time plus a duration
// (rules.MaxDuration at most) never overflows.
func parseTime(flag, s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < minUnix || n > maxUnix {
			return time.Time{}, fmt.Errorf("--%s: want a time in the years 0 to 9999, got %q", flag, s)
		}
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s: want RFC 3339 or unix seconds, got %q", flag, s)
	}
	return t, nil
}

// minUnix and maxUnix are 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in unix seconds.
const minUnix, maxUnix = -62167219200, 253402300799

// embeddedConfig names the embedded default config in messages.
const embeddedConfig = "(embedded default config)"

// loadConfig reads the config at path; when path is the default and does not exist, it uses
// the embedded default on the distro's mail log, or the journal. notes are warnings for the
// log: a sibling of the config with the other YAML extension, which is not read.
func loadConfig(path string, explicit bool) (cfg *rules.Config, used string, notes []string, err error) {
	for _, ext := range []string{".yaml", ".yml"} {
		sib := strings.TrimSuffix(path, filepath.Ext(path)) + ext
		if sib == path {
			continue
		}
		if _, err := os.Stat(sib); err == nil {
			notes = append(notes, fmt.Sprintf("%s exists but is not read: the config is %s (rename it, or pass --config)", sib, path))
		}
	}
	data, err := readConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		logpath := ""
		for _, p := range []string{"/var/log/mail.log", "/var/log/maillog"} {
			if _, err := os.Stat(p); err == nil {
				logpath = p
				break
			}
		}
		cfg, err := rules.LoadConfig(strings.NewReader(rules.DefaultConfig(logpath)), embeddedConfig, configEnv(readConfigFile))
		return cfg, embeddedConfig, notes, err
	}
	if err != nil {
		return nil, path, notes, fmt.Errorf("read config: %w", err)
	}
	dir := filepath.Dir(path)
	readFilter := func(p string) ([]byte, error) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return readConfigFile(p)
	}
	env := configEnv(readFilter)
	env.ReadSecret = secretReader(dir)
	cfg, err = rules.LoadConfig(strings.NewReader(string(data)), path, env)
	return cfg, path, notes, err
}

// configEnv lets the config loader read filter files and ask the firewall about ports.
func configEnv(readFile func(string) ([]byte, error)) rules.Env {
	return rules.Env{ReadFile: readFile, CheckPorts: fw.ValidatePorts}
}

// jails returns the enabled jails, limited to names when given; an unknown or disabled name
// is a usage error.
func (e *env) jails(names []string) ([]*rules.Jail, error) {
	if len(names) == 0 {
		var out []*rules.Jail
		for _, j := range e.cfg.Jails {
			if j.Enabled {
				out = append(out, j)
			}
		}
		return out, nil
	}
	var out []*rules.Jail
	for _, n := range names {
		j := e.cfg.Jail(n)
		if j == nil {
			return nil, usageErr(fmt.Errorf("no jail %q in %s", n, e.cfgPath))
		}
		if !j.Enabled {
			return nil, usageErr(fmt.Errorf("jail %q is not enabled in %s", n, e.cfgPath))
		}
		out = append(out, j)
	}
	return out, nil
}

// lock takes the state lock, waiting up to 30 s. ok is false when another run holds it.
func (e *env) lock() (unlock func(), ok bool, err error) {
	unlock, err = state.Lock(e.statePath, 30*time.Second)
	if errors.Is(err, state.ErrLocked) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, runtimeErr(err)
	}
	return unlock, true, nil
}

func (e *env) loadState() (*state.State, error) { return e.loadStateWith(state.Load) }

// loadStateWith loads the state with load (state.Load, or state.LoadLazy for scan).
func (e *env) loadStateWith(load func(string) (*state.State, error)) (*state.State, error) {
	st, err := load(e.statePath)
	if err != nil {
		return nil, usageErr(err)
	}
	return st, nil
}

// hostAddrs returns the addresses of the host's interfaces, read at each run (ignoreself).
// When they cannot be read, none: loopback stays protected by rules.NeverBan.
func hostAddrs() []netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap().WithZone(""))
		}
	}
	return out
}
