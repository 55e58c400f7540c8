package rules

import (
	"fmt"
	"math"

	"gopkg.in/yaml.v3"
)

// Escalation is how a jail treats repeat offenders: longer bans for each new ban of an IP
// (bantime_increment:), a permanent ban at the N-th (permanent_after:), and how long a past
// ban is remembered (forget_after:).
type Escalation struct {
	Increment      bool      // bantime_increment.enabled: the fields below up to RndTime apply
	Factor         float64   // > 0: the n-th ban lasts bantime * Factor^(n-1)
	Multipliers    []float64 // each > 0; when set, the n-th ban lasts bantime * Multipliers[min(n, len)-1]
	MaxTime        int64     // seconds > 0: no ban (bar a permanent one) lasts longer, rndtime aside
	OverallJails   bool      // count the bans of the IP in every jail, not only this one
	RndTime        int64     // seconds >= 0: a pseudo-random 0..RndTime added to each ban
	PermanentAfter int       // the N-th ban and later are permanent (0: never)
	ForgetAfter    int64     // seconds > 0: a ban history whose last ban is older is forgotten
}

// Defaults of the escalation settings.
const (
	DefaultFactor      = 2
	DefaultMaxTime     = 7 * 86400
	DefaultForgetAfter = 30 * 86400
)

// DefaultEscalation is the escalation of a jail that sets none: every ban lasts bantime, no
// ban is made permanent, and past bans are remembered for 30 days.
func DefaultEscalation() Escalation {
	return Escalation{Factor: DefaultFactor, MaxTime: DefaultMaxTime, ForgetAfter: DefaultForgetAfter}
}

// increment is `bantime_increment:` as written in `defaults:` or a jail; nil means not set.
// A jail's keys override the defaults' one by one.
type increment struct {
	enabled, overall *bool
	factor           *float64
	maxtime, rndtime *int64
	multipliers      []float64
	multipliersSet   bool
}

// escalationSetting reads one of the keys bantime_increment, permanent_after and forget_after
// of a settings mapping into s; p is the key's path.
func (l *loader) escalationSetting(s *settings, p, key string, v *yaml.Node) error {
	switch key {
	case "permanent_after":
		var n int
		if err := v.Decode(&n); err != nil || v.Kind != yaml.ScalarNode {
			return l.errf(v, p, "must be an integer, got %q", v.Value)
		}
		if n < 0 {
			return l.errf(v, p, "must be >= 0 (0: never), got %d", n)
		}
		s.permanentAfter = &n
	case "forget_after":
		d, err := l.positiveDuration(v, p)
		if err != nil {
			return err
		}
		s.forgetAfter = &d
	default: // bantime_increment
		inc := &increment{}
		var b bool
		if v.Kind == yaml.ScalarNode && v.Decode(&b) == nil {
			inc.enabled = &b // shorthand: bantime_increment: true
			s.incr = inc
			return nil
		}
		ok := true
		l.eachKey(v, p+".", func(key string, k, v *yaml.Node) error {
			err := l.incrementKey(inc, p+"."+key, key, k, v)
			if err != nil {
				ok = false
			}
			return err
		})
		if !ok || v.Kind != yaml.MappingNode {
			// eachKey recorded the errors; mark the key bad without reporting it again.
			s.bad[key] = true
			return nil
		}
		s.incr = inc
	}
	return nil
}

// incrementKey reads one key of a `bantime_increment:` mapping.
func (l *loader) incrementKey(inc *increment, p, key string, k, v *yaml.Node) error {
	switch key {
	case "enabled", "overalljails":
		var b bool
		if err := v.Decode(&b); err != nil || v.Kind != yaml.ScalarNode {
			return l.errf(v, p, "must be true or false, got %q", v.Value)
		}
		if key == "enabled" {
			inc.enabled = &b
		} else {
			inc.overall = &b
		}
	case "factor":
		f, err := l.positiveNumber(v, p)
		if err != nil {
			return err
		}
		inc.factor = &f
	case "multipliers":
		if v.Kind != yaml.SequenceNode {
			return l.errf(v, p, "must be a list of positive numbers")
		}
		list := []float64{}
		for i, e := range v.Content {
			ip := fmt.Sprintf("%s[%d]", p, i)
			l.lines[ip] = e.Line
			f, err := l.positiveNumber(e, ip)
			if err != nil {
				return err
			}
			list = append(list, f)
		}
		inc.multipliers, inc.multipliersSet = list, true
	case "maxtime":
		d, err := l.positiveDuration(v, p)
		if err != nil {
			return err
		}
		inc.maxtime = &d
	case "rndtime":
		d, err := ParseDuration(v.Value)
		if err != nil || v.Kind != yaml.ScalarNode {
			return l.errf(v, p, "bad duration %q (want seconds, or 30s, 10m, 1h, 1d, 1w)", v.Value)
		}
		if d < 0 || v.Value == "permanent" {
			return l.errf(v, p, "must be >= 0, got %q", v.Value)
		}
		inc.rndtime = &d
	default:
		return l.errf(k, p, "unknown key (want enabled, factor, multipliers, maxtime, overalljails or rndtime)")
	}
	return nil
}

// positiveNumber decodes a finite number > 0, integer or not.
func (l *loader) positiveNumber(v *yaml.Node, p string) (float64, error) {
	var f float64
	if err := v.Decode(&f); err != nil || v.Kind != yaml.ScalarNode {
		return 0, l.errf(v, p, "must be a number, got %q", v.Value)
	}
	if !(f > 0) || math.IsInf(f, 0) {
		return 0, l.errf(v, p, "must be a positive number, got %q", v.Value)
	}
	return f, nil
}

// positiveDuration decodes a duration > 0 (not permanent).
func (l *loader) positiveDuration(v *yaml.Node, p string) (int64, error) {
	d, err := ParseDuration(v.Value)
	if err != nil || v.Kind != yaml.ScalarNode {
		return 0, l.errf(v, p, "bad duration %q (want seconds, or 30s, 10m, 1h, 1d, 1w)", v.Value)
	}
	if d <= 0 {
		return 0, l.errf(v, p, "must be positive, got %q", v.Value)
	}
	return d, nil
}

// applyEscalation sets e from the settings x, which override what e holds key by key.
func applyEscalation(e *Escalation, x *settings) {
	setIf(&e.PermanentAfter, x.permanentAfter)
	setIf(&e.ForgetAfter, x.forgetAfter)
	if inc := x.incr; inc != nil {
		setIf(&e.Increment, inc.enabled)
		setIf(&e.OverallJails, inc.overall)
		setIf(&e.Factor, inc.factor)
		setIf(&e.MaxTime, inc.maxtime)
		setIf(&e.RndTime, inc.rndtime)
		if inc.multipliersSet {
			e.Multipliers = inc.multipliers
		}
	}
}

// warnEscalation warns about a jail's bantime_increment settings that do nothing because
// nothing enables them.
func (l *loader) warnEscalation(j *Jail, path string, s *settings) {
	if j.Escalation.Increment {
		return
	}
	// Only the jail's own mapping: settings in defaults: enabled by some jails are common.
	if s.incr != nil && s.incr.enabled == nil {
		key := path + ".bantime_increment"
		l.warnf(l.lines[key], key, "enabled is not true here nor in defaults: this jail does not lengthen bans")
	}
}
