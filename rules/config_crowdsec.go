package rules

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// FleetJail is the name of the firewall jail of the bans pulled from a CrowdSec LAPI (chain
// f2b-fleet, sets f2b-fleet...): no jail of the config may take it.
const FleetJail = "fleet"

// DefaultScenarioPrefix starts the scenario of the decisions this tool pushes.
const DefaultScenarioPrefix = "fail2ban-scan"

// DefaultCrowdsecTimeout bounds a run's calls to the LAPI, all together (seconds).
const DefaultCrowdsecTimeout = 5

// CrowdsecConfig is the `crowdsec:` section: a CrowdSec Local API shared by a fleet of hosts.
type CrowdsecConfig struct {
	URL            string // base URL of the LAPI
	MachineID      string // the machine this host pushes as
	PasswordFile   string // the machine's password (a file other users cannot read)
	BouncerKeyFile string // the bouncer's API key, likewise
	// Password and BouncerKey are the files' contents; PasswordErr and BouncerKeyErr say why
	// a file cannot be used ("" when it can): the push or the pull then fails at each run,
	// while the local jails work on.
	Password, BouncerKey       string
	PasswordErr, BouncerKeyErr string
	Push, Pull                 bool
	// Origins are the origins, besides this tool's other hosts, whose ban decisions are
	// enforced: "cscli", "crowdsec", "CAPI", "lists".
	Origins        []string
	ScenarioPrefix string
	Timeout        int64 // seconds, all the run's LAPI calls together
	// The fleet's firewall jail: the defaults' banaction, blocktype and ignoreip unless the
	// section says; every port, every protocol, like CrowdSec's firewall bouncer.
	BanAction  string
	BlockType  string
	IgnoreIP   []netip.Prefix
	IgnoreSelf bool
}

// crowdsec decodes the `crowdsec:` section; d is `defaults:`, whose banaction, blocktype,
// ignoreip and ignoreself the fleet takes unless the section sets its own. Errors of a missing
// key name the line of key, `crowdsec:`.
func (l *loader) crowdsec(key, n *yaml.Node, d *settings) *CrowdsecConfig {
	c := &CrowdsecConfig{Push: true, Pull: true, ScenarioPrefix: DefaultScenarioPrefix, Timeout: DefaultCrowdsecTimeout,
		BanAction: "iptables", BlockType: "REJECT", IgnoreSelf: true,
		IgnoreIP: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	setIf(&c.BanAction, d.banaction)
	setIf(&c.BlockType, d.block)
	setIf(&c.IgnoreSelf, d.ignoreself)
	if d.set["ignoreip"] {
		c.IgnoreIP = d.ignoreip
	}
	nodes := map[string]*yaml.Node{}
	before := len(l.errs)
	l.eachKey(n, "crowdsec.", func(key string, k, v *yaml.Node) error {
		p := "crowdsec." + key
		nodes[key] = v
		switch key {
		case "url":
			if err := l.str(v, p, &c.URL); err != nil {
				return err
			}
			u, err := url.Parse(c.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return l.errf(v, p, "want an http:// or https:// URL, got %q", c.URL)
			}
			if h := u.Hostname(); u.Scheme == "http" && h != "localhost" && !isLoopback(h) {
				l.warnf(v.Line, p, "http:// to another host: the machine's password, its token and the bouncer key cross the network in clear text (use https://)")
			}
		case "machine_id":
			if err := l.str(v, p, &c.MachineID); err != nil {
				return err
			}
			if c.MachineID == "" || strings.ContainsAny(c.MachineID, "@ \t\n") {
				return l.errf(v, p, "must be a name without '@' nor spaces, got %q", c.MachineID)
			}
		case "password_file", "bouncer_key_file":
			var s string
			if err := l.str(v, p, &s); err != nil {
				return err
			}
			if s == "" {
				return l.errf(v, p, "must not be empty")
			}
			if key == "password_file" {
				c.PasswordFile = s
			} else {
				c.BouncerKeyFile = s
			}
		case "push", "pull":
			var b bool
			if err := v.Decode(&b); err != nil || v.Kind != yaml.ScalarNode {
				return l.errf(v, p, "must be true or false, got %q", v.Value)
			}
			if key == "push" {
				c.Push = b
			} else {
				c.Pull = b
			}
		case "origins":
			list, err := l.strs(v, p)
			if err != nil {
				return err
			}
			for i, o := range list {
				if o == "" {
					return l.errf(v, fmt.Sprintf("%s[%d]", p, i), "must not be empty")
				}
			}
			c.Origins = list
		case "scenario_prefix":
			if err := l.str(v, p, &c.ScenarioPrefix); err != nil {
				return err
			}
			if c.ScenarioPrefix == "" || strings.ContainsAny(c.ScenarioPrefix, "@ \t\n") {
				return l.errf(v, p, "must be a name without '@' nor spaces, got %q", c.ScenarioPrefix)
			}
		case "timeout":
			t, err := l.positiveDuration(v, p)
			if err != nil {
				return err
			}
			c.Timeout = t
		case "banaction":
			if err := l.str(v, p, &c.BanAction); err != nil {
				return err
			}
			if !slices.Contains(BanActions, c.BanAction) {
				return l.errf(v, p, "must be %s or %s, got %q", strings.Join(BanActions[:len(BanActions)-1], ", "), BanActions[len(BanActions)-1], c.BanAction)
			}
		case "blocktype":
			if err := l.str(v, p, &c.BlockType); err != nil {
				return err
			}
			c.BlockType = strings.ToUpper(c.BlockType)
			if c.BlockType != "REJECT" && c.BlockType != "DROP" {
				return l.errf(v, p, "must be REJECT or DROP, got %q", v.Value)
			}
		default:
			return l.errf(k, p, "unknown key (want url, machine_id, password_file, bouncer_key_file, push, pull, origins, scenario_prefix, timeout, banaction or blocktype)")
		}
		return nil
	})
	if len(l.errs) > before {
		return c
	}
	if c.URL == "" {
		l.fail(l.errf(key, "crowdsec.url", "the LAPI's URL is required"))
	}
	if !c.Push && !c.Pull {
		l.warnf(key.Line, "crowdsec", "push and pull are both false: the LAPI is not used")
	}
	if c.MachineID == "" && (c.Push || c.Pull) {
		// Pull needs it too: the scenario of this host's own decisions names the machine, and
		// without it the pull could not leave them out.
		l.fail(l.errf(key, "crowdsec.machine_id", "required: the machine this host pushes as (cscli machines add), which also names its own decisions on pull"))
	}
	if c.Push {
		if c.PasswordFile == "" {
			l.fail(l.errf(key, "crowdsec.password_file", "push needs password_file, the machine's password"))
		} else {
			c.Password, c.PasswordErr = l.readSecret(nodes["password_file"], "crowdsec.password_file", c.PasswordFile)
		}
	}
	if c.Pull {
		if c.BouncerKeyFile == "" {
			l.fail(l.errf(key, "crowdsec.bouncer_key_file", "pull needs bouncer_key_file, the bouncer's API key (cscli bouncers add)"))
		} else {
			c.BouncerKey, c.BouncerKeyErr = l.readSecret(nodes["bouncer_key_file"], "crowdsec.bouncer_key_file", c.BouncerKeyFile)
		}
	}
	return c
}

// isLoopback reports whether host is a loopback address.
func isLoopback(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// readSecret reads a secret file through Env.ReadSecret (which refuses one other users can
// read). A file that cannot be used is a warning, as for webhook_file: the local jails must
// work on; the LAPI calls that need it fail at each run, saying why.
func (l *loader) readSecret(v *yaml.Node, p, file string) (secret, why string) {
	if l.env.ReadSecret == nil {
		return "", p + " is not read here"
	}
	data, err := l.env.ReadSecret(file)
	switch {
	case err != nil:
		why = err.Error()
	case strings.TrimSpace(string(data)) == "":
		why = file + " is empty"
	case strings.ContainsAny(strings.TrimSpace(string(data)), "\r\n"):
		why = file + " has more than one line"
	default:
		return strings.TrimSpace(string(data)), ""
	}
	l.warnf(v.Line, p, "%s; the LAPI is not used for this until it is fixed", why)
	return "", why
}
