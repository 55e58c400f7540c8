// Package rules decides: it loads the config, compiles the filters that recognise failures,
// and applies the ban policy to the state. It is pure: no files, no clock, no logging.
package rules

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Config is a loaded, validated config.
type Config struct {
	State   string  // state file path
	LogFile string  // where log lines go besides stderr ("" none)
	Jails   []*Jail // in the order of the config file
	// Fail2banSocket is where a running fail2ban answers ("" never asks): a jail of ours
	// named like one of its jails would take over its chain f2b-NAME.
	Fail2banSocket string

	// File names the config in messages, as given to LoadConfig.
	File string
	// Lines holds the line of every key and list entry written in the config, by key path:
	// "state", "jails.postfix-sasl", "jails.postfix-sasl.logpath", "defaults.logpath[1]".
	// Where finds the line that set a jail's setting.
	Lines map[string]int
	// Warnings are what is legal but will likely fail at run time, found without I/O
	// (relative paths, which resolve against / under systemd), in line order.
	Warnings []*Warning
	// HistoryDays is how many days of history the state keeps (>= 1).
	HistoryDays int
	Report      ReportConfig
	// MetricsFile is the Prometheus textfile each scan replaces ("" none).
	MetricsFile string
	// NotifyTimeout bounds the notifications of a run, all targets together (seconds > 0).
	NotifyTimeout int64
	// FilterDirs is where "filter: fail2ban:NAME" looks for NAME.conf, in order.
	FilterDirs []string
	// Crowdsec is the `crowdsec:` section (config_crowdsec.go); nil when there is none.
	Crowdsec *CrowdsecConfig
}

// Jail is one jail with the defaults applied.
type Jail struct {
	Name             string
	Enabled          bool
	FilterSpec       string // as written: built-in name (with options), file, or regex
	Filter           *Filter
	FailRegex        []string
	IgnoreRegex      []string
	Backend          string // "file" or "journal"
	LogPath          []string
	JournalMatch     []string
	JournalDirectory string
	MaxRetry         int
	FindTime         int64 // seconds, > 0
	BanTime          int64 // seconds, < 0 for permanent
	IgnoreIP         []netip.Prefix
	// IgnoreSelf ignores the host's own addresses, Self, which the caller sets at each run.
	IgnoreSelf bool
	Self       []netip.Addr
	// MaxNewBans is max_new_bans_per_run (0: no limit); NewBans counts the bans Failure applied
	// in this run (the caller's process is one run).
	MaxNewBans int
	NewBans    int
	// lengths holds banLength's results by n while they depend on n alone (no rndtime): a
	// first run of 100,000 bans formats a reason once, not 100,000 times. Like NewBans, it is
	// changed by the one goroutine that applies the jail's failures.
	lengths    map[int]banLen
	BlockType  string   // REJECT or DROP
	BanAction  string   // the firewall backend: one of BanActions
	Ports      []string // names, numbers or lo:hi ranges; nil for every port
	Protocol   string   // tcp, udp or all
	Subnet     Subnet   // prefix bans of many members (config_prefix.go); MinIPs 0: off
	IPv6Prefix int      // IPv6 failures and bans are kept per prefix of this length, 16..128
	Escalation Escalation
	Notify     []NotifyTarget // where bans and unbans are reported (config_notify.go)
}

// Jail returns the named jail, or nil.
func (c *Config) Jail(name string) *Jail {
	for _, j := range c.Jails {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// BanActions are the values of banaction: the firewall backends (fw.Jail's Action).
var BanActions = []string{"iptables", "ipset", "nftables"}

// DefaultMaxNewBans is max_new_bans_per_run when the config does not say.
const DefaultMaxNewBans = 5000

// DefaultFail2banSocket is fail2ban's own default socket.
const DefaultFail2banSocket = "/var/run/fail2ban/fail2ban.sock"

// DefaultStatePath is where the state lives when the config does not say.
const DefaultStatePath = "/var/lib/fail2ban-scan/state.json"

// maxChain is iptables' limit on a chain name; chains are "f2b-" + jail name.
const maxChain = 28

// DefaultConfig is the config used when no config file exists: the postfix-sasl jail on
// logpath, or on the journal when logpath is "".
func DefaultConfig(logpath string) string {
	backend := "backend: journal"
	if logpath != "" {
		backend = "backend: file\n    logpath: [" + strconv.Quote(logpath) + "]"
	}
	return `state: ` + DefaultStatePath + `
defaults:
  maxretry: 5
  findtime: 10m
  bantime: 10m
  ignoreip: [127.0.0.0/8, "::1"]
jails:
  postfix-sasl:
    filter: postfix-sasl
    ` + backend + `
    journalmatch: [_SYSTEMD_UNIT=postfix.service, "_SYSTEMD_UNIT=postfix@*.service"]
    port: [smtp, 465, submission]
`
}

// settings is what both `defaults:` and a jail may set; nil means not set.
type settings struct {
	enabled, ignoreself                       *bool
	filter, backend, journalDir, block, proto *string
	banaction                                 *string
	failregex, ignoreregex, logpath, jmatch   []string
	maxretry, maxNewBans                      *int
	findtime, bantime                         *int64
	ignoreip                                  []netip.Prefix
	ports                                     []string
	subnet                                    *Subnet
	ipv6prefix                                *int
	incr                                      *increment // bantime_increment:
	permanentAfter                            *int
	forgetAfter                               *int64
	notify                                    []NotifyTarget
	set                                       map[string]bool
	lines                                     map[string]int
	bad                                       map[string]bool // keys in error
}

// Where returns the key path and line that set key for jail j: the jail's own setting, else
// the defaults', else (a built-in default) the jail's name. key is a setting name
// ("journal_directory") or a list entry ("logpath[1]"); an entry of a setting written as a
// single scalar is found at the setting's line.
func (c *Config) Where(j *Jail, key string) (keyPath string, line int) {
	base, _, _ := strings.Cut(key, "[")
	for _, prefix := range []string{"jails." + j.Name + ".", "defaults."} {
		if n, ok := c.Lines[prefix+base]; ok {
			if n2, ok := c.Lines[prefix+key]; ok {
				return prefix + key, n2
			}
			return prefix + key, n
		}
	}
	return "jails." + j.Name + "." + key, c.Lines["jails."+j.Name]
}

// ConfigError is an error at a line of the config file.
type ConfigError struct {
	File string
	Line int
	Key  string // key path, "jails.postfix-sasl.maxretry"; "" for the document
	Msg  string
}

func (e *ConfigError) Error() string { return located(e.File, e.Line, e.Key, e.Msg) }

// Warning is a finding at a line of the config that is not an error; same fields and format
// as ConfigError. Line 0 means the value is a built-in default or came from elsewhere.
type Warning ConfigError

func (w *Warning) String() string { return located(w.File, w.Line, w.Key, w.Msg) }

// located formats "file:line: key: msg", leaving out a zero line and an empty key.
func located(file string, line int, key, msg string) string {
	s := file
	if line > 0 {
		s += ":" + strconv.Itoa(line)
	}
	if key != "" {
		if !printable(key) {
			// A YAML key may hold a line break or a control character ("0\r\r0" folds to
			// "0\n0"): quoted, the message stays one line and shows what the key is.
			key = strconv.Quote(key)
		}
		s += ": " + key
	}
	return s + ": " + msg
}

// printable reports whether s holds no control character (nor an invalid one).
func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// ConfigErrors are all the errors LoadConfig found, in line order; Error joins them one a
// line. Callers count or list them with errors.As.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Env is what LoadConfig needs from outside this pure package.
type Env struct {
	// ReadFile reads the filter files that `filter:` names.
	ReadFile func(string) ([]byte, error)
	// CheckPorts reports whether the firewall can express a jail's port and protocol (service
	// names it cannot resolve, say); nil skips the check.
	CheckPorts func(ports []string, protocol string) error
	// ReadSecret reads the file that a notification's webhook_file names; nil leaves it unread.
	ReadSecret func(string) ([]byte, error)
}

type loader struct {
	file  string
	env   Env
	errs  ConfigErrors
	warns []*Warning
	lines map[string]int
	// filterDirs is the config's filter_dirs (nil: DefaultFilterDirs).
	filterDirs []string
}

func (l *loader) errf(n *yaml.Node, key, format string, args ...any) error {
	return &ConfigError{File: l.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// fail records err, a *ConfigError from errf, and reports whether there was one.
func (l *loader) fail(err error) bool {
	if err == nil {
		return false
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		ce = &ConfigError{File: l.file, Msg: err.Error()} // not expected: every error here comes from errf
	}
	l.errs = append(l.errs, ce)
	return true
}

func (l *loader) warnf(line int, key, format string, args ...any) {
	l.warns = append(l.warns, &Warning{File: l.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// warnRelative warns about a relative path: the unit runs in /, so "mail.log" means
// "/mail.log" under systemd whatever directory check or a test ran in.
func (l *loader) warnRelative(line int, key, p, extra string) {
	if p != "" && !path.IsAbs(p) {
		l.warnf(line, key, "relative path %q resolves against the working directory, which is / under systemd%s", p, extra)
	}
}

// LoadConfig reads a YAML config from r; file names it in error messages
// ("config.yaml:14: jails.postfix-sasl.maxretry: must be >= 1, got 0").
//
// It reports every error it can find, past a bad key to the next key and the next jail, as
// ConfigErrors in line order; YAML that does not parse, an empty document and a document that
// is not a mapping stop it at once, with other errors. With ConfigErrors it also returns the
// partial config (the jails that loaded without error, Lines and Warnings) for check to look
// at; every other caller must treat any error as fatal and ignore the config.
func LoadConfig(r io.Reader, file string, env Env) (*Config, error) {
	l := &loader{file: file, env: env, lines: map[string]int{}}
	var doc yaml.Node
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty config", file)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		cfg := &Config{State: DefaultStatePath, File: file, Lines: l.lines}
		return cfg, ConfigErrors{l.errf(root, "", "the config must be a mapping").(*ConfigError)}
	}
	if !hasTopKey(root) {
		// Some other file (--config /etc/shadow): say so without quoting a word of it.
		cfg := &Config{State: DefaultStatePath, File: file, Lines: l.lines}
		return cfg, ConfigErrors{l.errf(root, "", "not a fail2ban-scan config: none of its keys is %s", topKeys).(*ConfigError)}
	}
	cfg := &Config{State: DefaultStatePath, Fail2banSocket: DefaultFail2banSocket, File: file, Lines: l.lines,
		HistoryDays: DefaultHistoryDays, Report: ReportConfig{Sendmail: DefaultSendmail}, NotifyTimeout: DefaultNotifyTimeout}
	var defaults *settings
	var jailsNode, crowdsecKey, crowdsecNode *yaml.Node
	l.eachKey(root, "", func(key string, k, v *yaml.Node) error {
		switch key {
		case "state":
			if err := l.str(v, key, &cfg.State); err != nil {
				return err
			}
			if cfg.State == "" {
				return l.errf(v, key, "must not be empty")
			}
			l.warnRelative(v.Line, key, cfg.State, ", where ProtectSystem=strict makes it read-only")
			return nil
		case "logfile":
			if err := l.str(v, key, &cfg.LogFile); err != nil {
				return err
			}
			l.warnRelative(v.Line, key, cfg.LogFile, ", where ProtectSystem=strict makes it read-only")
			return nil
		case "fail2ban_socket":
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				cfg.Fail2banSocket = ""
				return nil
			}
			return l.str(v, key, &cfg.Fail2banSocket)
		case "history_days":
			return l.historyDays(v, &cfg.HistoryDays)
		case "report":
			return l.report(v, &cfg.Report)
		case "metrics_file":
			return l.metricsFile(v, &cfg.MetricsFile)
		case "notify_timeout":
			return l.notifyTimeout(v, &cfg.NotifyTimeout)
		case "filter_dirs":
			return l.filterDirsKey(v, &cfg.FilterDirs)
		case "defaults":
			defaults = l.settings(v, "defaults")
			return nil
		case "crowdsec":
			crowdsecKey, crowdsecNode = k, v
			return nil
		case "jails":
			if v.Kind != yaml.MappingNode {
				return l.errf(v, key, "must be a mapping of jail names")
			}
			jailsNode = v
			return nil
		}
		return l.errf(k, key, "unknown key (want %s)", topKeys)
	})
	if defaults == nil {
		defaults = &settings{}
	}
	if crowdsecNode != nil {
		cfg.Crowdsec = l.crowdsec(crowdsecKey, crowdsecNode, defaults)
	}
	if jailsNode == nil || len(jailsNode.Content) == 0 {
		if _, written := l.lines["jails"]; !written || jailsNode != nil {
			l.fail(l.errf(root, "jails", "no jails configured"))
		}
	} else {
		l.eachKey(jailsNode, "jails.", func(name string, k, v *yaml.Node) error {
			path := "jails." + name
			nameOK := validJailName(name)
			if !nameOK {
				l.fail(l.errf(k, path, "jail names are letters, digits, '-' and '_', at most %d characters (chain f2b-NAME)", maxChain-4))
			} else if name == FleetJail {
				nameOK = false
				l.fail(l.errf(k, path, "the name %s is reserved for the bans pulled from CrowdSec (chain f2b-%s): rename the jail", FleetJail, FleetJail))
			}
			before := len(l.errs)
			s := l.settings(v, path) // its errors too, even under a bad name
			if !nameOK {
				return nil
			}
			j := l.jail(name, path, k, defaults, s)
			if len(l.errs) == before {
				cfg.Jails = append(cfg.Jails, j)
			}
			return nil
		})
	}
	slices.SortStableFunc(l.warns, func(a, b *Warning) int { return cmp.Compare(a.Line, b.Line) })
	cfg.Warnings = l.warns
	if len(l.errs) > 0 {
		slices.SortStableFunc(l.errs, func(a, b *ConfigError) int { return cmp.Compare(a.Line, b.Line) })
		return cfg, l.errs
	}
	return cfg, nil
}

// topKeys are the keys of the config's top level, for messages.
var topKeys = func() string {
	n := len(topKeyNames)
	return strings.Join(topKeyNames[:n-1], ", ") + " or " + topKeyNames[n-1]
}()

// topKeyNames are the keys of the config's top level.
var topKeyNames = []string{"state", "logfile", "fail2ban_socket", "history_days", "report", "metrics_file", "notify_timeout", "filter_dirs", "crowdsec", "defaults", "jails"}

// hasTopKey reports whether the mapping root is empty or has a key of topKeyNames: whether it
// may be a config of ours, whose unknown keys can be quoted.
func hasTopKey(root *yaml.Node) bool {
	for i := 0; i < len(root.Content); i += 2 {
		if slices.Contains(topKeyNames, root.Content[i].Value) {
			return true
		}
	}
	return len(root.Content) == 0
}

func validJailName(name string) bool {
	if name == "" || len(name) > maxChain-4 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// eachKey calls fn for every key of the mapping n and records the key's line under
// prefix+key. An error of fn, a duplicate key or a key that is not a string is recorded and
// the next key taken; it reports whether n was a mapping.
func (l *loader) eachKey(n *yaml.Node, prefix string, fn func(key string, k, v *yaml.Node) error) bool {
	if n.Kind != yaml.MappingNode {
		l.fail(l.errf(n, strings.TrimSuffix(prefix, "."), "must be a mapping"))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.fail(l.errf(k, strings.TrimSuffix(prefix, "."), "keys must be plain strings"))
			continue
		}
		if seen[k.Value] {
			l.fail(l.errf(k, prefix+k.Value, "duplicate key"))
			continue
		}
		seen[k.Value] = true
		l.lines[prefix+k.Value] = k.Line
		l.fail(fn(k.Value, k, v))
	}
	return true
}

// settings reads the settings of `defaults:` or a jail at path, recording its errors and
// warnings; the keys in error are marked in s.bad ("" when n is not a mapping).
func (l *loader) settings(n *yaml.Node, path string) *settings {
	s := &settings{set: map[string]bool{}, lines: map[string]int{}, bad: map[string]bool{}}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return s
	}
	ok := l.eachKey(n, path+".", func(key string, k, v *yaml.Node) error {
		err := l.setting(s, path, key, k, v)
		if err != nil {
			s.bad[key] = true
		}
		return err
	})
	if !ok {
		s.bad[""] = true
	}
	return s
}

// setting reads one key of a settings mapping into s.
func (l *loader) setting(s *settings, path, key string, k, v *yaml.Node) error {
	p := path + "." + key
	s.set[key] = true
	s.lines[key] = k.Line
	switch key {
	case "enabled", "ignoreself":
		var b bool
		if err := v.Decode(&b); err != nil {
			return l.errf(v, p, "must be true or false, got %q", v.Value)
		}
		if key == "enabled" {
			s.enabled = &b
		} else {
			s.ignoreself = &b
		}
	case "filter":
		return l.strp(v, p, &s.filter)
	case "backend":
		if err := l.strp(v, p, &s.backend); err != nil {
			return err
		}
		if *s.backend != "file" && *s.backend != "journal" {
			return l.errf(v, p, "must be file or journal, got %q", *s.backend)
		}
	case "journal_directory":
		if err := l.strp(v, p, &s.journalDir); err != nil {
			return err
		}
		l.warnRelative(v.Line, p, *s.journalDir, "")
	case "blocktype":
		if err := l.strp(v, p, &s.block); err != nil {
			return err
		}
		up := strings.ToUpper(*s.block)
		if up != "REJECT" && up != "DROP" {
			return l.errf(v, p, "must be REJECT or DROP, got %q", *s.block)
		}
		s.block = &up
	case "banaction":
		if err := l.strp(v, p, &s.banaction); err != nil {
			return err
		}
		if !slices.Contains(BanActions, *s.banaction) {
			return l.errf(v, p, "must be %s or %s, got %q", strings.Join(BanActions[:len(BanActions)-1], ", "), BanActions[len(BanActions)-1], *s.banaction)
		}
	case "protocol":
		if err := l.strp(v, p, &s.proto); err != nil {
			return err
		}
		if *s.proto != "tcp" && *s.proto != "udp" && *s.proto != "all" {
			return l.errf(v, p, "must be tcp, udp or all, got %q", *s.proto)
		}
	case "failregex", "ignoreregex":
		list, err := l.strs(v, p)
		if err != nil {
			return err
		}
		for i, re := range list {
			if _, err := regexp.Compile(strings.ReplaceAll(re, "<HOST>", "(?P<host>x)")); err != nil {
				return l.errf(v, fmt.Sprintf("%s[%d]", p, i), "bad regex: %s", err)
			}
			if key == "failregex" && !strings.Contains(re, "<HOST>") {
				return l.errf(v, fmt.Sprintf("%s[%d]", p, i), "failregex %q has no <HOST>", re)
			}
		}
		if key == "failregex" {
			s.failregex = list
		} else {
			s.ignoreregex = list
		}
	case "logpath":
		list, err := l.strs(v, p)
		if err != nil {
			return err
		}
		for i, lp := range list {
			ip := fmt.Sprintf("%s[%d]", p, i)
			l.warnRelative(l.lines[ip], ip, lp, "")
		}
		s.logpath = list
	case "journalmatch":
		list, err := l.strs(v, p)
		if err != nil {
			return err
		}
		for i, m := range list {
			if m != "+" && !validJournalMatch(m) {
				return l.errf(v, fmt.Sprintf("%s[%d]", p, i), "want FIELD=value or +, got %q", m)
			}
		}
		s.jmatch = list
	case "maxretry":
		var n int
		if err := v.Decode(&n); err != nil {
			return l.errf(v, p, "must be an integer, got %q", v.Value)
		}
		if n < 1 {
			return l.errf(v, p, "must be >= 1, got %d", n)
		}
		s.maxretry = &n
	case "max_new_bans_per_run":
		var n int
		if err := v.Decode(&n); err != nil {
			return l.errf(v, p, "must be an integer, got %q", v.Value)
		}
		if n < 0 {
			return l.errf(v, p, "must be >= 0 (0: no limit), got %d", n)
		}
		s.maxNewBans = &n
	case "findtime":
		d, err := ParseDuration(v.Value)
		if errors.Is(err, errTooLong) {
			return l.errf(v, p, "%s", err)
		}
		if err != nil || v.Kind != yaml.ScalarNode {
			return l.errf(v, p, "bad duration %q (want seconds, or 30s, 10m, 1h, 1d, 1w)", v.Value)
		}
		if d <= 0 {
			return l.errf(v, p, "must be positive, got %q", v.Value)
		}
		s.findtime = &d
	case "bantime":
		d, err := ParseDuration(v.Value)
		if errors.Is(err, errTooLong) {
			return l.errf(v, p, "%s (-1 or permanent: a ban without end)", err)
		}
		if err != nil || v.Kind != yaml.ScalarNode {
			return l.errf(v, p, "bad duration %q (want seconds, 30s, 10m, 1h, 1d, 1w, or -1/permanent)", v.Value)
		}
		if d == 0 {
			return l.errf(v, p, "must not be 0")
		}
		s.bantime = &d
	case "ignoreip":
		list, err := l.strs(v, p)
		if err != nil {
			return err
		}
		for i, a := range list {
			pfx, err := ParsePrefix(a)
			if err != nil {
				return l.errf(v, fmt.Sprintf("%s[%d]", p, i), "%s", err)
			}
			s.ignoreip = append(s.ignoreip, pfx)
		}
	case "subnet", "ipv6_prefix":
		return l.prefixSetting(s, p, key, v)
	case "port":
		list, err := l.strs(v, p)
		if err != nil {
			return err
		}
		ports, err := ParsePorts(list)
		if err != nil {
			return l.errf(v, p, "%s", err)
		}
		s.ports = ports
	case "bantime_increment", "permanent_after", "forget_after":
		return l.escalationSetting(s, p, key, v)
	case "notify":
		list, err := l.notifyList(v, p)
		if err == nil && list == nil {
			s.bad[key] = true // its entries' errors are recorded
		}
		s.notify = list
		return err
	default:
		return l.errf(k, p, "unknown key")
	}
	return nil
}

// validJournalMatch reports whether m is FIELD=value with a journal field name and, when the
// value has glob characters, a well-formed path.Match pattern.
func validJournalMatch(m string) bool {
	field, value, ok := strings.Cut(m, "=")
	if !ok || field == "" {
		return false
	}
	if strings.ContainsAny(value, "*?[") {
		if _, err := path.Match(value, ""); err != nil {
			return false
		}
	}
	for _, c := range field {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (l *loader) str(v *yaml.Node, key string, dst *string) error {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		return l.errf(v, key, "must be a string")
	}
	*dst = v.Value
	return nil
}

func (l *loader) strp(v *yaml.Node, key string, dst **string) error {
	var s string
	if err := l.str(v, key, &s); err != nil {
		return err
	}
	*dst = &s
	return nil
}

// strs accepts a list of scalars or a single scalar.
func (l *loader) strs(v *yaml.Node, key string) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return []string{}, nil
		}
		l.lines[key+"[0]"] = v.Line
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for i, e := range v.Content {
			ik := fmt.Sprintf("%s[%d]", key, i)
			if e.Kind != yaml.ScalarNode {
				return nil, l.errf(e, ik, "must be a string")
			}
			l.lines[ik] = e.Line
			out = append(out, e.Value)
		}
		return out, nil
	}
	return nil, l.errf(v, key, "must be a list of strings")
}

// jail applies the defaults d and the jail's settings s, and checks what needs both; its
// errors are recorded, and the checks that would only repeat an error of d or s are skipped.
func (l *loader) jail(name, path string, k *yaml.Node, d, s *settings) *Jail {
	j := &Jail{
		Name: name, Enabled: true, IgnoreSelf: true, MaxNewBans: DefaultMaxNewBans, FilterSpec: name, Backend: "file",
		JournalMatch: DefaultJournalMatch(),
		MaxRetry:     5, FindTime: 600, BanTime: 600,
		BlockType: "REJECT", Ports: []string{"smtp", "465", "submission"}, Protocol: "tcp", BanAction: "iptables",
		IgnoreIP:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		IPv6Prefix: DefaultIPv6Prefix,
		Escalation: DefaultEscalation(),
	}
	for _, x := range []*settings{d, s} {
		setIf(&j.Enabled, x.enabled)
		setIf(&j.IgnoreSelf, x.ignoreself)
		setIf(&j.FilterSpec, x.filter)
		setIf(&j.Backend, x.backend)
		setIf(&j.JournalDirectory, x.journalDir)
		setIf(&j.BlockType, x.block)
		setIf(&j.BanAction, x.banaction)
		setIf(&j.Protocol, x.proto)
		setIf(&j.BanAction, x.banaction)
		setIf(&j.MaxRetry, x.maxretry)
		setIf(&j.MaxNewBans, x.maxNewBans)
		setIf(&j.FindTime, x.findtime)
		setIf(&j.BanTime, x.bantime)
		setIf(&j.Subnet, x.subnet)
		setIf(&j.IPv6Prefix, x.ipv6prefix)
		if x.set["failregex"] {
			j.FailRegex = x.failregex
		}
		if x.set["ignoreregex"] {
			j.IgnoreRegex = x.ignoreregex
		}
		if x.set["logpath"] {
			j.LogPath = x.logpath
		}
		if x.set["journalmatch"] {
			j.JournalMatch = x.jmatch
		}
		if x.set["ignoreip"] {
			j.IgnoreIP = x.ignoreip
		}
		if x.set["port"] {
			j.Ports = x.ports
		}
		applyEscalation(&j.Escalation, x)
		if x.set["notify"] {
			j.Notify = x.notify
		}
	}
	line := func(key string) *yaml.Node {
		if n, ok := s.lines[key]; ok {
			return &yaml.Node{Line: n}
		}
		return k
	}
	// A check runs only when the keys it reads are free of errors, so that one mistake
	// is reported once, not again as the missing value it left behind.
	bad := func(keys ...string) bool {
		for _, x := range []*settings{d, s} {
			if x.bad[""] {
				return true
			}
			for _, key := range keys {
				if x.bad[key] {
					return true
				}
			}
		}
		return false
	}
	l.warnEscalation(j, path, s)
	if !bad("backend", "logpath") && j.Backend == "file" && len(j.LogPath) == 0 {
		l.fail(l.errf(line("logpath"), path+".logpath", "backend file needs at least one logpath"))
	}
	if !bad("filter") && j.FilterSpec == "" {
		l.fail(l.errf(line("filter"), path+".filter", "must not be empty"))
	}
	if l.env.CheckPorts != nil && !bad("port", "protocol") {
		if err := l.env.CheckPorts(j.Ports, j.Protocol); err != nil {
			l.fail(l.errf(line("port"), path+".port", "%s", err))
		}
	}
	if j.FilterSpec != "" && !bad("filter", "failregex", "ignoreregex") {
		f, err := LoadFilterIn(j.FilterSpec, l.filterDirs, j.FailRegex, j.IgnoreRegex, l.env.ReadFile)
		if err != nil {
			key := "filter"
			if !s.set["filter"] && (s.set["failregex"] || s.set["ignoreregex"]) {
				key = "failregex"
			}
			l.fail(l.errf(line(key), path+"."+key, "%s", err))
		}
		j.Filter = f
		// As in fail2ban, a journal jail that sets no journalmatch (nor do the defaults)
		// reads what its fail2ban filter's journalmatch names: sshd.conf's
		// "_SYSTEMD_UNIT=sshd.service + _COMM=sshd", not postfix's units.
		if f != nil && j.Backend == "journal" && !d.set["journalmatch"] && !s.set["journalmatch"] {
			if m := filterJournalMatch(f.JournalMatch()); len(m) > 0 {
				for _, term := range m {
					if term != "+" && !validJournalMatch(term) {
						l.fail(l.errf(line("filter"), path+".filter", "the filter's journalmatch: want FIELD=value or +, got %q (set journalmatch: in the jail)", term))
						return j
					}
				}
				j.JournalMatch = m
			}
		}
	}
	return j
}

// filterJournalMatch returns the terms of a fail2ban filter's journalmatch, one expression a
// line ("_SYSTEMD_UNIT=sshd.service + _COMM=sshd"): the words of each, and "+" between two
// lines, which fail2ban ORs.
func filterJournalMatch(lines []string) []string {
	var terms []string
	for _, l := range lines {
		words := strings.Fields(l)
		if len(words) == 0 {
			continue
		}
		if len(terms) > 0 {
			terms = append(terms, "+")
		}
		terms = append(terms, words...)
	}
	return terms
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// MaxDuration is the longest duration ParseDuration accepts: 100 years, in seconds. A ban's
// end, its start plus bantime, then never overflows (starts are log times and --now, years
// 0 to 9999), and a mistyped bantime is an error rather than a number that wraps around to
// negative, which would mean permanent.
const MaxDuration = 36525 * 86400

// errTooLong is ParseDuration's error for a duration over MaxDuration.
var errTooLong = errors.New("more than 100 years")

// ParseDuration parses a duration in seconds: an integer ("600", "-1"), "permanent" (-1), or
// numbers with units s, m, h, d, w ("30s", "10m", "1h30m", "1d"). Negative means permanent
// and is returned as -1. More than MaxDuration is an error.
func ParseDuration(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "permanent" || s == "-1" {
		return -1, nil
	}
	tooLong := func() error { return fmt.Errorf("bad duration %q: %w", s, errTooLong) }
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return -1, nil
		}
		if n > MaxDuration {
			return 0, tooLong()
		}
		return n, nil
	}
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var total int64
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		var unit int64
		switch rest[i] {
		case 's':
			unit = 1
		case 'm':
			unit = 60
		case 'h':
			unit = 3600
		case 'd':
			unit = 86400
		case 'w':
			unit = 7 * 86400
		default:
			return 0, fmt.Errorf("bad duration %q: unknown unit %q", s, rest[i])
		}
		if n > (MaxDuration-total)/unit { // total <= MaxDuration: no overflow
			return 0, tooLong()
		}
		total += n * unit
		rest = rest[i+1:]
	}
	return total, nil
}

// ParsePrefix parses an ignoreip entry: an IP (v4 or v6) or a CIDR. IPv4 written as
// IPv4-mapped IPv6 is unmapped, as addresses are before matching (::ffff:198.18.0.0/111 is
// 198.18.0.0/15); IPv6 zones are refused.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q", s)
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("bad CIDR %q: an IPv4-mapped prefix needs a length of at least 96", s)
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad IP %q", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("bad IP %q: IPv6 zones are not allowed", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParsePorts checks port entries: service names, numbers 1-65535, lo:hi ranges, or "all"
// (alone) for every port, which returns nil. iptables' multiport takes at most 15 ports, a
// range counting two.
func ParsePorts(list []string) ([]string, error) {
	if len(list) == 1 && list[0] == "all" {
		return nil, nil
	}
	if len(list) == 0 {
		return nil, errors.New("no ports (write all for every port)")
	}
	var out []string
	slots := 0
	for _, e := range list {
		for _, p := range strings.Split(e, ",") {
			p = strings.TrimSpace(p)
			if p == "all" {
				return nil, errors.New("all must stand alone")
			}
			lo, hi, isRange := strings.Cut(p, ":")
			if err := checkPort(lo); err != nil {
				return nil, err
			}
			slots++
			if isRange {
				if err := checkPort(hi); err != nil {
					return nil, err
				}
				slots++
			}
			out = append(out, p)
		}
	}
	if slots > 15 {
		return nil, fmt.Errorf("%d ports; iptables multiport takes at most 15 (a range counts 2)", slots)
	}
	return out, nil
}

func checkPort(p string) error {
	if n, err := strconv.Atoi(p); err == nil {
		if n < 1 || n > 65535 {
			return fmt.Errorf("port %d out of range 1-65535", n)
		}
		return nil
	}
	if p == "" {
		return errors.New("empty port")
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("bad port %q (want a number, a service name or lo:hi)", p)
		}
	}
	return nil
}
