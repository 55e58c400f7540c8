package state

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/fail2ban-scan/fail2ban-scan/internal/ipv4"
)

// check validates a decoded jail (named name) and makes its maps non-nil; the keys of the maps
// in checked were checked already. Every error names
// the key, as jails.NAME.bans."KEY": what is wrong.
func (j *Jail) check(name string, checked map[any]bool) error {
	j.init()
	switch {
	case j.TotalFailed < 0:
		return fmt.Errorf("jails.%s.total_failed: negative (%d)", name, j.TotalFailed)
	case j.TotalBanned < 0:
		return fmt.Errorf("jails.%s.total_banned: negative (%d)", name, j.TotalBanned)
	case j.TotalUnbanned < 0:
		return fmt.Errorf("jails.%s.total_unbanned: negative (%d)", name, j.TotalUnbanned)
	case j.TotalLines < 0:
		return fmt.Errorf("jails.%s.total_lines: negative (%d)", name, j.TotalLines)
	case j.TotalReadErrors < 0:
		return fmt.Errorf("jails.%s.total_read_errors: negative (%d)", name, j.TotalReadErrors)
	case j.Unmatched < 0:
		return fmt.Errorf("jails.%s.unmatched: negative (%d)", name, j.Unmatched)
	case j.QuietSince < 0:
		return fmt.Errorf("jails.%s.quiet_since: negative (%d)", name, j.QuietSince)
	}
	for ip, ts := range j.Failures {
		if err := checkKey(checked[&j.Failures], ip); err != nil {
			return fmt.Errorf("jails.%s.failures.%q: %w", name, ip, err)
		}
		if !slices.IsSorted(ts) {
			return fmt.Errorf("jails.%s.failures.%q: timestamps not ascending", name, ip)
		}
		if len(ts) > 0 && ts[0] < 0 {
			return fmt.Errorf("jails.%s.failures.%q: negative timestamp %d", name, ip, ts[0])
		}
		if len(ts) > 0 && ts[len(ts)-1] >= maxTime {
			return fmt.Errorf("jails.%s.failures.%q: timestamp %d out of range", name, ip, ts[len(ts)-1])
		}
	}
	for ip, b := range j.Bans {
		if err := checkKey(checked[&j.Bans], ip); err != nil {
			return fmt.Errorf("jails.%s.bans.%q: %w", name, ip, err)
		}
		switch {
		case b.Start < 0:
			return fmt.Errorf("jails.%s.bans.%q: negative start %d", name, ip, b.Start)
		case b.End < -1:
			return fmt.Errorf("jails.%s.bans.%q: end %d (want -1 for permanent, or a time)", name, ip, b.End)
		case b.End >= 0 && b.End < b.Start:
			return fmt.Errorf("jails.%s.bans.%q: end %d before start %d", name, ip, b.End, b.Start)
		case b.Count < 0:
			return fmt.Errorf("jails.%s.bans.%q: negative count %d", name, ip, b.Count)
		}
	}
	for ip, r := range j.BanHistory {
		if err := checkKey(checked[&j.BanHistory], ip); err != nil {
			return fmt.Errorf("jails.%s.ban_history.%q: %w", name, ip, err)
		}
		if r.Count < 1 {
			return fmt.Errorf("jails.%s.ban_history.%q: count must be >= 1, got %d", name, ip, r.Count)
		}
	}
	for file, ps := range j.Files {
		for i, p := range ps {
			switch {
			case p.Offset < 0:
				return fmt.Errorf("jails.%s.files.%q[%d]: negative offset %d", name, file, i, p.Offset)
			case p.FPLen < 0:
				return fmt.Errorf("jails.%s.files.%q[%d]: negative fingerprint length %d", name, file, i, p.FPLen)
			case p.FPLen > 0 && !isSHA256Hex(p.FP):
				return fmt.Errorf("jails.%s.files.%q[%d]: fingerprint %q is not a hex SHA-256", name, file, i, p.FP)
			}
		}
	}
	return nil
}

// maxTime bounds the failures' times: below it, a time is at most 8 digits in base 36, and
// what Save writes reads back (year 33658).
const maxTime = 1e12

// checkKey is checkIPKey(key), or nil when the map's keys were checked as they were decoded.
func checkKey(checked bool, key string) error {
	if checked {
		return nil
	}
	return checkIPKey(key)
}

// checkIPKey reports what is wrong with a key of a jail's bans or failures, or nil. A key is an
// address or a prefix (a CIDR with no bits set after its length), as netip writes them:
// IPv4 not mapped into IPv6, no IPv6 zone.
func checkIPKey(key string) error {
	if _, ok := ipv4.Parse(key); ok {
		return nil // what netip writes for an IPv4 address: no need to parse and print it again
	}
	if strings.Contains(key, "/") {
		p, err := netip.ParsePrefix(key)
		switch {
		case err != nil:
			return errors.New("not an address or prefix")
		case p.Addr().Is4In6():
			return errors.New("IPv4-mapped IPv6 prefix")
		case p != p.Masked():
			return fmt.Errorf("prefix with bits set after its length (want %s)", p.Masked())
		case p.String() != key:
			return fmt.Errorf("prefix not written as %s", p)
		}
		return nil
	}
	a, err := netip.ParseAddr(key)
	switch {
	case err != nil:
		return errors.New("not an address")
	case a.Zone() != "":
		return errors.New("address with an IPv6 zone")
	case a.Is4In6():
		return fmt.Errorf("IPv4-mapped IPv6 address (want %s)", a.Unmap())
	case a.String() != key:
		return fmt.Errorf("address not written as %s", a)
	}
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
