// Package fw makes the iptables and ip6tables filter tables match the active bans: one chain per jail, jumped to from the top of INPUT.
//
// Layout, for jail J in table filter of each family:
//
//	-N f2b-J
//	-A f2b-J -s 192.0.2.7/32 -j REJECT --reject-with icmp-port-unreachable   (one per ban, or -j DROP)
//	-A f2b-J -s 203.0.113.0/24 -j REJECT --reject-with icmp-port-unreachable (a banned prefix)
//	-A f2b-J -j RETURN
//	-A INPUT -p tcp -m multiport --dports 25,465,587 -j f2b-J                (first rules of INPUT)
//
// Ports: names are resolved to numbers here (iptables-save prints numbers),
// "a:b" is a range, and no ports (or "all") means no port match at all. Protocol
// tcp or udp gives one jump with -p; protocol all gives one jump per protocol,
// tcp and udp (multiport needs -p), or a single jump without -p when every port
// is matched.
//
// The work is split in two: a pure diff of the live table (one iptables-save
// per family) against the wanted jails yields a [Plan], printable for
// --dry-run; applying it is one iptables-restore --noflush -w transaction per
// family.
package fw

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
)

// Jail is the firewall's view of one enabled jail.
type Jail struct {
	Name      string   // the chain is ChainName(Name); see ValidateName
	Ports     []string // as configured: names, numbers, "a:b"; nil or ["all"] = every port
	Protocol  string   // tcp | udp | all; "" = tcp
	BlockType string   // REJECT | DROP (any case); "" = REJECT
	Action    string   // the backend: "iptables" (or ""), "ipset", "nftables"
	// Bans are the active bans, IPv4 and IPv6 mixed: an address is a /32 or /128, a banned
	// subnet a shorter prefix (4in6 counts as IPv4; host bits are ignored). Duplicates are
	// fine, and so is a ban inside another: only the widest rule is written, so the rules of
	// a prefix's members go when the prefix is banned.
	Bans []netip.Prefix
	// Sum, when not "", stands for the bans, the same in every run for the same bans, and
	// LoadBans returns them while Bans is nil: a backend that can prove the firewall still
	// holds what it applied for the same Sum need not load them (nftables, see nftcache.go).
	Sum      string
	LoadBans func() []netip.Prefix
	// Base, when not "", is the Sum of the bans before this run added Added and lifted Lifted
	// (and made no other change): a backend that can prove it holds the bans of Base need
	// only add and delete those (nftables, see nftcache.go).
	Base          string
	Added, Lifted []netip.Prefix
}

// loaded returns jails with the bans of those that have LoadBans and no Bans loaded (a copy
// when there are any).
func loaded(jails []Jail) []Jail {
	out := jails
	for i, j := range jails {
		if j.Bans == nil && j.LoadBans != nil {
			if &out[0] == &jails[0] {
				out = slices.Clone(jails)
			}
			out[i].Bans = j.LoadBans()
		}
	}
	return out
}

// ChainPrefix starts the name of every chain this package manages.
const ChainPrefix = "f2b-"

// maxChainName is the longest chain name iptables accepts
// (XT_EXTENSION_MAXNAMELEN - 1).
const maxChainName = 28

// ChainName returns the chain of jail: "f2b-" + jail.
func ChainName(jail string) string { return ChainPrefix + jail }

// ValidateName reports whether jail can name a chain: 1 to 24 characters
// (the chain, with its "f2b-" prefix, is at most 28), letters, digits, '.',
// '_' and '-' only, so that it is safe in an iptables-restore script.
func ValidateName(jail string) error {
	if jail == "" {
		return fmt.Errorf("jail name is empty")
	}
	if n := len(ChainName(jail)); n > maxChainName {
		return fmt.Errorf("jail name %q is too long: chain %q has %d characters, iptables allows %d",
			jail, ChainName(jail), n, maxChainName)
	}
	for _, r := range jail {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("jail name %q: character %q not allowed in a chain name (use letters, digits, '.', '_', '-')", jail, r)
		}
	}
	return nil
}

// ValidatePorts reports whether ports and protocol (as in Jail) make a valid
// jump rule: known service names or numbers 1-65535, ranges "a:b" with a <= b,
// at most 15 ports (a range counts as two, the multiport limit), and protocol
// tcp, udp, all or "".
func ValidatePorts(ports []string, protocol string) error {
	_, err := jumpSpecs(Jail{Name: "x", Ports: ports, Protocol: protocol})
	return err
}

// Firewall is what the command needs from this package. *IPTables is the
// implementation; the interface lets callers that run without root record
// what they would have asked for.
type Firewall interface {
	// Reconcile makes both families' filter tables hold exactly jails:
	// missing chains, bans, RETURNs and jumps are added, stray ones removed,
	// jumps moved to the top of INPUT, and the chains and jumps of the
	// names in managed that are not in jails (disabled jails, or jails left
	// only in the state) are deleted. An INPUT rule is ours when it jumps
	// to the chain of a jail in jails or managed with exactly the shape we
	// write ("-j C", "-p tcp -j C", "-p tcp -m multiport --dports LIST -j C",
	// or udp, whatever LIST); no other rule or chain is touched, so managed
	// must list every jail this tool may have set up, and nothing else. A
	// chain that another rule still jumps to (an admin's
	// "-p tcp -m tcp --dport 143 -j C") is flushed, not deleted. With dryRun
	// it only reads.
	//
	// Invalid jails (see ValidateName, ValidatePorts; BlockType REJECT or
	// DROP) are an error before anything runs, with a nil plan. Otherwise
	// the plan is returned even with an error: each family is read and
	// applied on its own, so an IPv6 failure does not stop IPv4. A family
	// whose other iptables backend (legacy, when iptables is nf_tables, or
	// the reverse) holds the chain of a jail in jails or managed is not
	// applied: that is an error naming both backends and the chains.
	Reconcile(ctx context.Context, jails []Jail, managed []string, dryRun bool) (*Plan, error)
	// Flush removes the jumps and chains of the named jails in both
	// families, as Reconcile with no jails would.
	Flush(ctx context.Context, jails []string) (*Plan, error)
}

// Plan is what one Reconcile or Flush changes, per family, as
// iptables-restore command lines, and then, when ipset is used or our sets
// exist, as ipset restore lines; String renders it for --dry-run.
type Plan struct {
	Families []FamilyPlan // IPv4 then IPv6
}

// FamilyPlan is the change to one family's filter table.
type FamilyPlan struct {
	Family  Family
	Skipped string   // when not empty, the table was not read nor changed, and why
	Failed  string   // when not empty, reading or changing the table failed: Ops were not applied
	Ops     []string // iptables-restore lines, in order: "-N f2b-x", "-I INPUT 1 -p tcp ... -j f2b-x"; or ipset restore or nft lines
}

// Count is the number of changes in Ops: one per line, and one per element
// of an nftables command that adds or deletes many.
func (f *FamilyPlan) Count() int {
	n := 0
	for _, op := range f.Ops {
		n += elemCount(op)
	}
	return n
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	if p == nil {
		return true
	}
	for _, f := range p.Families {
		if len(f.Ops) > 0 {
			return false
		}
	}
	return true
}

// String renders the plan, one family per header line and one command per
// indented line:
//
//	iptables: 2 changes
//	  -I f2b-postfix-sasl 1 -s 192.0.2.7/32 -j REJECT --reject-with icmp-port-unreachable
//	  -D f2b-postfix-sasl -s 198.51.100.1/32 -j REJECT --reject-with icmp-port-unreachable
//	ip6tables: no changes
func (p *Plan) String() string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	for _, f := range p.Families {
		switch {
		case f.Skipped != "":
			fmt.Fprintf(&b, "%s: skipped: %s\n", f.Family, f.Skipped)
		case f.Failed != "" && len(f.Ops) == 0:
			fmt.Fprintf(&b, "%s: failed: %s\n", f.Family, f.Failed)
		case len(f.Ops) == 0:
			fmt.Fprintf(&b, "%s: no changes\n", f.Family)
		default:
			fmt.Fprintf(&b, "%s: %s", f.Family, Changes(f.Count()))
			if f.Failed != "" {
				fmt.Fprintf(&b, ", not applied: %s", f.Failed)
			}
			b.WriteByte('\n')
			for _, op := range f.Ops {
				eachElemOp(op, func(op string) {
					b.WriteString("  ")
					b.WriteString(op)
					b.WriteByte('\n')
				})
			}
		}
	}
	return b.String()
}

// Changes renders a count of changes: "1 change", "3 changes".
func Changes(n int) string {
	if n == 1 {
		return "1 change"
	}
	return fmt.Sprintf("%d changes", n)
}

// Family is what one FamilyPlan changes: an address family of iptables, IPv4
// (iptables) or IPv6 (ip6tables), or the nftables table of both (NFT).
type Family int

const (
	IPv4 Family = iota
	IPv6
	// IPSet is not a family: its FamilyPlan holds the ipset restore lines
	// of the ipset jails, both families' sets, after IPv4 and IPv6 in a
	// Plan (but those that create and fill sets run first).
	IPSet
	NFT // the table inet fail2ban-scan: see NFTables
)

// String returns the family's command name: "iptables", "ip6tables", "ipset" or "nftables".
func (f Family) String() string {
	switch f {
	case IPv6:
		return "ip6tables"
	case IPSet:
		return "ipset"
	case NFT:
		return "nftables"
	}
	return "iptables"
}

// linesReader reads lines, each followed by a newline, without joining them: the input of
// iptables-restore, 100,000 lines of it.
type linesReader struct {
	lines []string
	off   int // into lines[0]; len(lines[0]) when its newline is next
}

func (r *linesReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(r.lines) > 0 {
		if l := r.lines[0]; r.off < len(l) {
			c := copy(p[n:], l[r.off:])
			n += c
			r.off += c
			continue
		}
		p[n] = '\n'
		n++
		r.lines, r.off = r.lines[1:], 0
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}
