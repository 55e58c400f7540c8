package rules

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Subnet is a jail's `subnet:` setting: once MinIPs distinct bans of one IPv4 /IPv4 (or IPv6
// /IPv6) prefix are active at once, the prefix is banned as one rule. MinIPs 0 means off.
type Subnet struct {
	IPv4   int // prefix length for IPv4, 8..32
	IPv6   int // prefix length for IPv6, 16..128
	MinIPs int // distinct banned members that ban the prefix, >= 2; 0: off
}

// Defaults of the keys `subnet:` leaves out, and of `ipv6_prefix:`.
const (
	DefaultSubnetIPv4   = 24
	DefaultSubnetIPv6   = 64
	DefaultSubnetMinIPs = 5
	DefaultIPv6Prefix   = 128
)

// prefixSetting reads `subnet:` or `ipv6_prefix:` of a settings mapping at p into s.
func (l *loader) prefixSetting(s *settings, p, key string, v *yaml.Node) error {
	if key == "ipv6_prefix" {
		n, err := l.intIn(v, p, 16, 128)
		if err != nil {
			return err
		}
		s.ipv6prefix = &n
		return nil
	}
	sub := Subnet{} // `subnet:` with no value (null) turns an inherited subnet off
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		s.subnet = &sub
		return nil
	}
	sub = Subnet{IPv4: DefaultSubnetIPv4, IPv6: DefaultSubnetIPv6, MinIPs: DefaultSubnetMinIPs}
	var first error
	ok := l.eachKey(v, p+".", func(key string, k, v *yaml.Node) error {
		var err error
		switch key {
		case "ipv4":
			sub.IPv4, err = l.intIn(v, p+"."+key, 8, 32)
		case "ipv6":
			sub.IPv6, err = l.intIn(v, p+"."+key, 16, 128)
		case "min_ips":
			sub.MinIPs, err = l.intIn(v, p+"."+key, 2, 1<<20)
		default:
			err = l.errf(k, p+"."+key, "unknown key (want ipv4, ipv6 or min_ips)")
		}
		if first == nil {
			first = err
		}
		return err // recorded by eachKey
	})
	if !ok || first != nil {
		s.bad["subnet"] = true // already recorded: nothing more to report
		return nil
	}
	s.subnet = &sub
	return nil
}

// intIn decodes an integer from lo to hi.
func (l *loader) intIn(v *yaml.Node, p string, lo, hi int) (int, error) {
	var n int
	if v.Kind != yaml.ScalarNode || v.Decode(&n) != nil {
		return 0, l.errf(v, p, "must be an integer, got %q", v.Value)
	}
	if n < lo || n > hi {
		if hi == 1<<20 {
			return 0, l.errf(v, p, "must be >= %d, got %d", lo, n)
		}
		return 0, l.errf(v, p, "must be from %d to %d, got %d", lo, hi, n)
	}
	return n, nil
}

// String renders s as in the config, for messages.
func (s Subnet) String() string {
	if s.MinIPs == 0 {
		return "off"
	}
	return fmt.Sprintf("{ipv4: %d, ipv6: %d, min_ips: %d}", s.IPv4, s.IPv6, s.MinIPs)
}
