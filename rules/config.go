// Package rules decides: it loads the config, compiles the filters that recognise failures,
// and applies the ban policy to the state. It is pure: no files, no clock, no logging.
package rules

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is a loaded, validated config.
type Config struct {
	State   string  // state file path
	LogFile string  // where log lines go besides stderr ("" none)
	Jails   []*Jail // in the order of the config file
	// HistoryDays is how many days of history the state keeps (>= 1).
	HistoryDays int
	Report      ReportConfig
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
	BlockType        string   // REJECT or DROP
	Ports            []string // names, numbers or lo:hi ranges; nil for every port
	Protocol         string   // tcp, udp or all
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
    journalmatch: [_SYSTEMD_UNIT=postfix.service]
    port: [smtp, 465, submission]
`
}

// settings is what both `defaults:` and a jail may set; nil means not set.
type settings struct {
	enabled                                   *bool
	filter, backend, journalDir, block, proto *string
	failregex, ignoreregex, logpath, jmatch   []string
	maxretry                                  *int
	findtime, bantime                         *int64
	ignoreip                                  []netip.Prefix
	ports                                     []string
	set                                       map[string]bool
	lines                                     map[string]int
}

// configError is an error at a line of the config file.
type configError struct {
	file string
	line int
	key  string
	msg  string
}

func (e *configError) Error() string {
	if e.key == "" {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.file, e.line, e.key, e.msg)
}

// Env is what LoadConfig needs from outside this pure package.
type Env struct {
	// ReadFile reads the filter files that `filter:` names.
	ReadFile func(string) ([]byte, error)
	// CheckPorts reports whether the firewall can express a jail's port and protocol (service
	// names it cannot resolve, say); nil skips the check.
	CheckPorts func(ports []string, protocol string) error
}

type loader struct {
	file string
	env  Env
}

func (l *loader) errf(n *yaml.Node, key, format string, args ...any) error {
	return &configError{file: l.file, line: n.Line, key: key, msg: fmt.Sprintf(format, args...)}
}

// LoadConfig reads a YAML config from r; file names it in error messages
// ("config.yaml:14: jails.postfix-sasl.maxretry: must be >= 1, got 0").
func LoadConfig(r io.Reader, file string, env Env) (*Config, error) {
	l := &loader{file: file, env: env}
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
		return nil, l.errf(root, "", "the config must be a mapping")
	}
	cfg := &Config{State: DefaultStatePath, HistoryDays: DefaultHistoryDays, Report: ReportConfig{Sendmail: DefaultSendmail}}
	var defaults *settings
	var jailsNode *yaml.Node
	err := l.eachKey(root, "", func(key string, k, v *yaml.Node) error {
		switch key {
		case "state":
			return l.str(v, key, &cfg.State)
		case "logfile":
			return l.str(v, key, &cfg.LogFile)
		case "history_days":
			return l.historyDays(v, &cfg.HistoryDays)
		case "report":
			return l.report(v, &cfg.Report)
		case "defaults":
			var err error
			defaults, err = l.settings(v, "defaults")
			return err
		case "jails":
			if v.Kind != yaml.MappingNode {
				return l.errf(v, key, "must be a mapping of jail names")
			}
			jailsNode = v
			return nil
		}
		return l.errf(k, key, "unknown key (want state, logfile, history_days, report, defaults or jails)")
	})
	if err != nil {
		return nil, err
	}
	if cfg.State == "" {
		return nil, l.errf(root, "state", "must not be empty")
	}
	if defaults == nil {
		defaults = &settings{}
	}
	if jailsNode == nil || len(jailsNode.Content) == 0 {
		return nil, l.errf(root, "jails", "no jails configured")
	}
	err = l.eachKey(jailsNode, "jails.", func(name string, k, v *yaml.Node) error {
		path := "jails." + name
		if !validJailName(name) {
			return l.errf(k, path, "jail names are letters, digits, '-' and '_', at most %d characters (chain f2b-NAME)", maxChain-4)
		}
		s, err := l.settings(v, path)
		if err != nil {
			return err
		}
		j, err := l.jail(name, path, k, defaults, s)
		if err != nil {
			return err
		}
		cfg.Jails = append(cfg.Jails, j)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cfg, nil
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

// eachKey calls fn for every key of the mapping n, refusing duplicates.
func (l *loader) eachKey(n *yaml.Node, prefix string, fn func(key string, k, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return l.errf(n, strings.TrimSuffix(prefix, "."), "must be a mapping")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return l.errf(k, strings.TrimSuffix(prefix, "."), "keys must be plain strings")
		}
		if seen[k.Value] {
			return l.errf(k, prefix+k.Value, "duplicate key")
		}
		seen[k.Value] = true
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) settings(n *yaml.Node, path string) (*settings, error) {
	s := &settings{set: map[string]bool{}, lines: map[string]int{}}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return s, nil
	}
	err := l.eachKey(n, path+".", func(key string, k, v *yaml.Node) error {
		p := path + "." + key
		s.set[key] = true
		s.lines[key] = k.Line
		switch key {
		case "enabled":
			var b bool
			if err := v.Decode(&b); err != nil {
				return l.errf(v, p, "must be true or false, got %q", v.Value)
			}
			s.enabled = &b
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
			return l.strp(v, p, &s.journalDir)
		case "blocktype":
			if err := l.strp(v, p, &s.block); err != nil {
				return err
			}
			up := strings.ToUpper(*s.block)
			if up != "REJECT" && up != "DROP" {
				return l.errf(v, p, "must be REJECT or DROP, got %q", *s.block)
			}
			s.block = &up
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
		case "findtime":
			d, err := ParseDuration(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode {
				return l.errf(v, p, "bad duration %q (want seconds, or 30s, 10m, 1h, 1d, 1w)", v.Value)
			}
			if d <= 0 {
				return l.errf(v, p, "must be positive, got %q", v.Value)
			}
			s.findtime = &d
		case "bantime":
			d, err := ParseDuration(v.Value)
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
		default:
			return l.errf(k, p, "unknown key")
		}
		return nil
	})
	return s, err
}

func validJournalMatch(m string) bool {
	field, _, ok := strings.Cut(m, "=")
	if !ok || field == "" {
		return false
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
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for i, e := range v.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, l.errf(e, fmt.Sprintf("%s[%d]", key, i), "must be a string")
			}
			out = append(out, e.Value)
		}
		return out, nil
	}
	return nil, l.errf(v, key, "must be a list of strings")
}

func (l *loader) jail(name, path string, k *yaml.Node, d, s *settings) (*Jail, error) {
	j := &Jail{
		Name: name, Enabled: true, FilterSpec: name, Backend: "file",
		JournalMatch: []string{"_SYSTEMD_UNIT=postfix.service"},
		MaxRetry:     5, FindTime: 600, BanTime: 600,
		BlockType: "REJECT", Ports: []string{"smtp", "465", "submission"}, Protocol: "tcp",
		IgnoreIP: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	}
	for _, x := range []*settings{d, s} {
		setIf(&j.Enabled, x.enabled)
		setIf(&j.FilterSpec, x.filter)
		setIf(&j.Backend, x.backend)
		setIf(&j.JournalDirectory, x.journalDir)
		setIf(&j.BlockType, x.block)
		setIf(&j.Protocol, x.proto)
		setIf(&j.MaxRetry, x.maxretry)
		setIf(&j.FindTime, x.findtime)
		setIf(&j.BanTime, x.bantime)
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
	}
	line := func(key string) *yaml.Node {
		if n, ok := s.lines[key]; ok {
			return &yaml.Node{Line: n}
		}
		return k
	}
	if j.Backend == "file" && len(j.LogPath) == 0 {
		return nil, l.errf(line("logpath"), path+".logpath", "backend file needs at least one logpath")
	}
	if j.FilterSpec == "" {
		return nil, l.errf(line("filter"), path+".filter", "must not be empty")
	}
	if l.env.CheckPorts != nil {
		if err := l.env.CheckPorts(j.Ports, j.Protocol); err != nil {
			return nil, l.errf(line("port"), path+".port", "%s", err)
		}
	}
	f, err := LoadFilter(j.FilterSpec, j.FailRegex, j.IgnoreRegex, l.env.ReadFile)
	if err != nil {
		key := "filter"
		if !s.set["filter"] && (s.set["failregex"] || s.set["ignoreregex"]) {
			key = "failregex"
		}
		return nil, l.errf(line(key), path+"."+key, "%s", err)
	}
	j.Filter = f
	return j, nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// ParseDuration parses a duration in seconds: an integer ("600", "-1"), "permanent" (-1), or
// numbers with units s, m, h, d, w ("30s", "10m", "1h30m", "1d"). Negative means permanent
// and is returned as -1.
func ParseDuration(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "permanent" || s == "-1" {
		return -1, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return -1, nil
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
		if n > (1<<62)/unit {
			return 0, fmt.Errorf("bad duration %q: too large", s)
		}
		total += n * unit
		rest = rest[i+1:]
	}
	return total, nil
}

// ParsePrefix parses an ignoreip entry: an IP (v4 or v6) or a CIDR.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad IP %q", s)
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
