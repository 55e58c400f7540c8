// Package f2bimport moves a fail2ban installation to fail2ban-scan: it reads fail2ban's jail
// configuration as fail2ban does and writes the equivalent config.yaml, and reads the active
// bans of fail2ban's SQLite database into the state.
package f2bimport

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/fail2ban-scan/fail2ban-scan/rules"
)

// Options are what Convert needs besides fail2ban's config.
type Options struct {
	Dir       string // fail2ban's config directory (filter.d is read from it), for messages too
	StatePath string // the state: line ("" the default)
}

// Result is a converted configuration.
type Result struct {
	YAML string
	// Jails maps the name of each fail2ban jail carried over to its name in YAML.
	Jails map[string]string
	// Skipped are the enabled fail2ban jails that were not carried over, each with why.
	Skipped []string
}

// builtinFilters are fail2ban filter names that fail2ban-scan has built in under the same
// name; anything else becomes a fail2ban:NAME[options] reference to fail2ban's filter.d.
var builtinFilters = map[string]bool{
	"postfix": true, "postfix-sasl": true, "sshd": true, "dovecot": true,
	"roundcube-auth": true, "nginx-http-auth": true,
}

// silent are options that only feed other options (paths, action parameters): they are
// never reported as not carried over.
var silent = map[string]bool{
	"mode": true, "chain": true, "destemail": true, "sender": true, "mta": true,
	"fail2ban_agent": true, "banaction_allports": true, "maxmatches": true, "__name__": true,
	"logencoding": true, "blocktype": true,
}

// reasons say why an option is not carried over.
var reasons = map[string]string{
	"action":             "fail2ban-scan always bans in its own iptables chain f2b-JAIL (blocktype REJECT or DROP); notifications are notify:",
	"banaction":          "fail2ban-scan always bans in its own iptables chain f2b-JAIL (blocktype REJECT or DROP)",
	"usedns":             "fail2ban-scan does no DNS look-ups: <HOST> is always an address",
	"ignorecommand":      "no ignore command",
	"bantime.formula":    "no formula: bantime_increment has factor and multipliers",
	"failregex":          "fail2ban's Python regexes are not carried over; add RE2 patterns under failregex: by hand",
	"ignoreregex":        "fail2ban's Python regexes are not carried over; add RE2 patterns under ignoreregex: by hand",
	"datepattern":        "time stamps are read by the built-in parsers (syslog and RFC 3339)",
	"logtimezone":        "syslog time stamps are read in the process's local time",
	"maxlines":           "lines are matched one at a time",
	"prefregex":          "a jail's prefregex has no equivalent",
	"ignorecache":        "no ignore cache",
	"bantime.multiplier": "see bantime.multipliers",
}

// handled are the options Convert carries over.
var handled = map[string]bool{
	"enabled": true, "filter": true, "logpath": true, "backend": true, "journalmatch": true,
	"port": true, "protocol": true, "maxretry": true, "findtime": true, "bantime": true,
	"ignoreip": true, "ignoreself": true, "bantime.increment": true, "bantime.factor": true,
	"bantime.maxtime": true, "bantime.multipliers": true, "bantime.overalljails": true,
	"bantime.rndtime": true,
}

// Convert writes the config.yaml equivalent to the enabled jails of c.
func Convert(c *Config, opt Options) (*Result, error) {
	res := &Result{Jails: map[string]string{}}
	var b strings.Builder
	fmt.Fprintf(&b, "# fail2ban-scan config made by fail2ban-scan import-fail2ban from %s\n", opt.Dir)
	b.WriteString("# files read, in order:\n")
	for _, f := range c.Files {
		fmt.Fprintf(&b, "#   %s\n", f)
	}
	b.WriteString("# Comments starting with \"not carried over\" are fail2ban settings without an equivalent.\n")
	for _, k := range sortedKeys(c.defaults) {
		if handled[k] || silent[k] || !userFile(c.SetBy("DEFAULT", k)) {
			continue
		}
		if _, known := reasons[k]; !known && !strings.HasPrefix(k, "bantime.") {
			continue // a helper value of the user's ([DEFAULT] holds many)
		}
		v, _, _ := c.Get("DEFAULT", k)
		fmt.Fprintf(&b, "# not carried over: [DEFAULT] %s = %s (%s)\n", k, oneLine(v), reasonFor(k))
	}
	state := opt.StatePath
	if state == "" {
		state = rules.DefaultStatePath
	}
	fmt.Fprintf(&b, "state: %s\n", q(state))

	// defaults: what fail2ban's [DEFAULT] says, so that jails repeat only what differs.
	def := newJailOut("DEFAULT")
	def.settings(c, "DEFAULT", nil)
	b.WriteString("defaults:\n")
	for _, l := range def.lines {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("jails:\n")
	used := map[string]bool{}
	for _, name := range c.Sections() {
		if strings.HasPrefix(name, "KNOWN/") || name == "Definition" || name == "Init" {
			continue
		}
		en, _, err := c.Get(name, "enabled")
		if err != nil || !isTrue(en) {
			continue
		}
		j := newJailOut(name)
		skip := j.convert(c, name, def, opt)
		if skip != "" {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %s", name, skip))
			fmt.Fprintf(&b, "  # [%s] not carried over: %s\n", name, skip)
			continue
		}
		ours := jailName(name)
		for used[ours] {
			ours = ours[:min(len(ours), 21)] + "_" + strconv.Itoa(len(used)%100)
		}
		used[ours] = true
		res.Jails[name] = ours
		fmt.Fprintf(&b, "  %s:\n", q(ours))
		if ours != name {
			fmt.Fprintf(&b, "    # fail2ban's [%s], renamed: jail names are letters, digits, - and _, at most 24 characters\n", oneLine(name))
		}
		for _, l := range j.lines {
			b.WriteString("    " + l + "\n")
		}
	}
	if len(res.Jails) == 0 {
		b.WriteString("  {}\n")
	}
	res.YAML = b.String()
	return res, nil
}

// userFile reports whether a setting from file p is the user's: not fail2ban's stock
// jail.conf or paths-*.conf.
func userFile(p string) bool {
	base := filepath.Base(p)
	return p != "" && base != "jail.conf" && !(strings.HasPrefix(base, "paths-") && strings.HasSuffix(base, ".conf"))
}

func reasonFor(k string) string {
	if r, ok := reasons[k]; ok {
		return r
	}
	return "no equivalent"
}

// jailOut is the YAML lines of one jail (or of defaults:), and what it resolved.
type jailOut struct {
	name   string
	lines  []string
	values map[string]string // key -> the YAML value written (or that would be), for comparing with defaults
}

func newJailOut(name string) *jailOut { return &jailOut{name: name, values: map[string]string{}} }

func (j *jailOut) add(format string, args ...any) {
	j.lines = append(j.lines, fmt.Sprintf(format, args...))
}

func (j *jailOut) note(key, value, why string) {
	j.add("# not carried over: %s = %s (%s)", key, oneLine(value), why)
}

// set writes key: value unless def (the defaults) has the same value.
func (j *jailOut) set(def *jailOut, key, value string) {
	j.values[key] = value
	if def != nil && def.values[key] == value {
		return
	}
	j.add("%s: %s", key, value)
}

// settings converts the options that both [DEFAULT] and a jail carry: maxretry, findtime,
// bantime, ignoreip, ignoreself, bantime.*. def is nil for [DEFAULT] itself.
func (j *jailOut) settings(c *Config, sec string, def *jailOut) {
	get := func(k string) (string, bool) {
		v, ok, err := c.Get(sec, k)
		if def != nil {
			// Set in [DEFAULT] and not changed by the jail: defaults: has it, or its note.
			if dv, dok, derr := c.Get("DEFAULT", k); ok == dok && v == dv && (err == nil) == (derr == nil) {
				return "", false
			}
		}
		if err != nil {
			j.note(k, mustRaw(c, sec, k), err.Error())
			return "", false
		}
		return strings.TrimSpace(v), ok
	}
	if v, ok := get("maxretry"); ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 1 {
			j.set(def, "maxretry", strconv.Itoa(n))
		} else {
			j.note("maxretry", v, "not an integer >= 1")
		}
	}
	for _, k := range []string{"findtime", "bantime"} {
		if v, ok := get(k); ok {
			d, err := parseF2bDuration(v)
			switch {
			case err != nil:
				j.note(k, v, err.Error())
			case d == 0 || (k == "findtime" && d < 0):
				j.note(k, v, "must be positive here")
			default:
				j.set(def, k, formatDuration(d))
			}
		}
	}
	if v, ok := get("ignoreip"); ok {
		var keep []string
		for _, e := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
			if _, err := rules.ParsePrefix(e); err == nil {
				keep = append(keep, q(e))
			} else {
				j.note("ignoreip", e, "host names are not carried over: no DNS; write its addresses")
			}
		}
		if len(keep) > 0 {
			j.set(def, "ignoreip", "["+strings.Join(keep, ", ")+"]")
		}
	}
	if v, ok := get("ignoreself"); ok {
		j.set(def, "ignoreself", strconv.FormatBool(isTrue(v)))
	}
	j.increment(c, sec, def, get)
}

// increment converts bantime.increment and its companions to bantime_increment:.
func (j *jailOut) increment(c *Config, sec string, def *jailOut, get func(string) (string, bool)) {
	var parts []string
	if v, ok := get("bantime.increment"); ok {
		parts = append(parts, "enabled: "+strconv.FormatBool(isTrue(v)))
	}
	factor := 1.0
	if v, ok := get("bantime.factor"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			j.note("bantime.factor", v, "not a number > 0")
		} else {
			factor = f
			if f != 1 {
				j.note("bantime.factor", v, "fail2ban's factor scales every ban (bantime × 2^n × factor); here the n-th ban lasts bantime × factor^(n-1) with factor 2, which equals fail2ban's factor 1")
			}
		}
	}
	if v, ok := get("bantime.multipliers"); ok && v != "" {
		var ms []string
		bad := false
		for _, m := range strings.Fields(v) {
			f, err := strconv.ParseFloat(m, 64)
			if err != nil || f <= 0 {
				bad = true
				break
			}
			ms = append(ms, strconv.FormatFloat(f, 'g', -1, 64))
		}
		if bad || len(ms) == 0 {
			j.note("bantime.multipliers", v, "not numbers > 0")
		} else {
			parts = append(parts, "multipliers: ["+strings.Join(ms, ", ")+"]")
			if factor != 1 {
				j.note("bantime.factor", strconv.FormatFloat(factor, 'g', -1, 64), "fail2ban multiplies the multipliers by the factor; here they stand alone")
			}
		}
	}
	for _, k := range []string{"maxtime", "rndtime"} {
		if v, ok := get("bantime." + k); ok && v != "" {
			d, err := parseF2bDuration(v)
			if err != nil || d < 0 || (k == "maxtime" && d == 0) {
				j.note("bantime."+k, v, "not a positive duration")
				continue
			}
			parts = append(parts, k+": "+formatDuration(d))
		}
	}
	if v, ok := get("bantime.overalljails"); ok {
		parts = append(parts, "overalljails: "+strconv.FormatBool(isTrue(v)))
	}
	if len(parts) > 0 {
		j.set(def, "bantime_increment", "{"+strings.Join(parts, ", ")+"}")
	}
}

// convert converts the jail sec; skip says why it is not carried over ("" when it is).
func (j *jailOut) convert(c *Config, sec string, def *jailOut, opt Options) (skip string) {
	filterSpec, _, err := c.Get(sec, "filter")
	if err != nil {
		return fmt.Sprintf("filter: %s", err)
	}
	filterSpec = strings.TrimSpace(filterSpec)
	fname, fopts := splitFilter(filterSpec)
	if fname == "recidive" {
		return "recidive bans the IPs that fail2ban banned often, from fail2ban's own log; here use permanent_after: N (with forget_after:) or bantime_increment: {enabled: true, maxtime: 1w, overalljails: true} in the jails themselves (see Repeat offenders)"
	}
	if fname == "" {
		return "no filter"
	}
	spec := filterSpec
	switch {
	case builtinFilters[fname] && (fopts == "" || normalisedOpts(fopts) == "mode=normal"):
		spec = fname
	case builtinFilters[fname]:
	default:
		spec = "fail2ban:" + filterSpec
	}
	j.add("filter: %s", qBlock(spec))

	backend := "auto"
	if v, ok, err := c.Get(sec, "backend"); err != nil {
		j.note("backend", mustRaw(c, sec, "backend"), err.Error())
	} else if ok {
		backend = strings.TrimSpace(v)
	}
	bname, bopts := splitFilter(backend)
	switch bname {
	case "auto", "polling", "pyinotify", "gamin", "":
		j.add("backend: file")
		lp, _, err := c.Get(sec, "logpath")
		if err != nil {
			return fmt.Sprintf("logpath: %s", err)
		}
		var paths []string
		for _, l := range strings.Split(lp, "\n") {
			l = strings.TrimSpace(l)
			for _, suffix := range []string{" tail", " head"} {
				l = strings.TrimSpace(strings.TrimSuffix(l, suffix))
			}
			if l != "" {
				paths = append(paths, q(l))
			}
		}
		if len(paths) == 0 {
			return "no logpath"
		}
		j.add("logpath: [%s]", strings.Join(paths, ", "))
	case "systemd":
		j.add("backend: journal")
		if bopts != "" {
			j.note("backend", backend, "journal options are not carried over; journal_directory: reads another journal")
		}
		if m := journalMatch(c, sec, fname, opt.Dir); len(m) > 0 {
			j.add("journalmatch: [%s]", strings.Join(m, ", "))
		} else {
			j.add("# journalmatch: fail2ban's filter %s names none; set it (FIELD=value), or every entry is read", oneLine(fname))
		}
	default:
		return fmt.Sprintf("backend %s has no equivalent (file or journal)", oneLine(backend))
	}

	if v, ok, err := c.Get(sec, "port"); err == nil && ok {
		j.add("port: %s", ports(j, v))
	}
	if v, ok, err := c.Get(sec, "protocol"); err == nil && ok {
		switch p := strings.TrimSpace(v); p {
		case "tcp":
		case "udp", "all":
			j.add("protocol: %s", p)
		default:
			j.note("protocol", p, "tcp, udp or all")
		}
	}
	j.settings(c, sec, def)
	for _, k := range c.Own(sec) {
		if handled[k] || silent[k] || strings.HasSuffix(k, "_log") || strings.HasSuffix(k, "_backend") || strings.HasPrefix(k, "action_") {
			continue
		}
		v, _, err := c.Get(sec, k)
		if err != nil {
			v = mustRaw(c, sec, k)
		}
		j.note(k, v, reasonFor(k))
	}
	return ""
}

// ports converts fail2ban's port list (names, numbers, lo:hi, comma-separated).
func ports(j *jailOut, v string) string {
	list := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(list) == 1 && (list[0] == "0:65535" || list[0] == "1:65535") || len(list) == 0 {
		return "all"
	}
	if _, err := rules.ParsePorts(list); err != nil {
		j.note("port", v, err.Error()+"; every port is banned instead")
		return "all"
	}
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = q(p)
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// journalMatch returns the jail's journalmatch, else its filter's ([Init] journalmatch of
// filter.d/NAME.conf and .local); for postfix, fail2ban-scan's own (postfix@ instances too).
func journalMatch(c *Config, sec, filter, dir string) []string {
	v, ok, err := c.Get(sec, "journalmatch")
	if (!ok || err != nil) && filter == "postfix" {
		return quoteAll(rules.DefaultJournalMatch())
	}
	if !ok || err != nil {
		fc, err := readMerged([]string{filepath.Join(dir, "filter.d", filter+".conf")})
		if err != nil {
			return nil
		}
		found := false
		for _, sec := range []string{"Init", "Definition"} {
			if v, ok, err = fc.Get(sec, "journalmatch"); ok && err == nil {
				found = true
				break
			}
		}
		if !found {
			return nil
		}
	}
	return quoteAll(strings.Fields(v))
}

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = q(s)
	}
	return out
}

// splitFilter splits "name[options]" into name and options (without the brackets).
func splitFilter(s string) (name, opts string) {
	i := strings.IndexByte(s, '[')
	if i < 0 || !strings.HasSuffix(s, "]") {
		return strings.TrimSpace(s), ""
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1 : len(s)-1])
}

// normalisedOpts removes spaces and quotes from filter options, for comparison.
func normalisedOpts(s string) string {
	return strings.NewReplacer(" ", "", "\"", "", "'", "").Replace(s)
}

// jailName makes name a valid fail2ban-scan jail name: letters, digits, - and _, at most 24.
func jailName(name string) string {
	out := []byte(name)
	for i, c := range out {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			out[i] = '_'
		}
	}
	if len(out) > 24 {
		out = out[:24]
	}
	if len(out) == 0 {
		return "jail"
	}
	return string(out)
}

// isTrue is fail2ban's bool: true, yes, on, 1 (any case).
func isTrue(s string) bool {
	return slices.Contains([]string{"true", "yes", "on", "1"}, strings.ToLower(strings.TrimSpace(s)))
}

func mustRaw(c *Config, sec, k string) string {
	v, _ := c.Raw(sec, k)
	return v
}

// q quotes s as a YAML scalar where it needs quoting, in block and flow context alike
// (where "::1" and "a,b" must be quoted).
func q(s string) string {
	out, err := yaml.Marshal(s)
	plain := strings.TrimSuffix(string(out), "\n")
	if err != nil || strings.ContainsAny(s, ":,[]{}#\n") && !strings.HasPrefix(plain, "\"") && !strings.HasPrefix(plain, "'") {
		return strconv.Quote(s)
	}
	return plain
}

// qBlock quotes s as a YAML scalar in block context (a mapping's value on its own line).
func qBlock(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil || strings.Contains(s, "\n") {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// oneLine makes s fit on a comment line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
