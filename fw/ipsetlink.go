package fw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// ipsetlink.go applies ipset restore lines (the plan's) over netlink, as
// "ipset -exist restore" would, without running ipset: ipset's parse of
// 100,000 "add" lines is half of its 0.5 s. The lines a plan holds are
// create, add, del, swap and destroy, as planSets writes them; any other
// stops the pass where it stands. Consecutive adds (or dels) to one set go in
// one message, as many entries as fit in 32 KB (IPSET_ATTR_ADT), and each
// message is sent and answered before the next, so that, as with ipset
// restore, the first error stops the rest.

// ipset's netlink protocol (linux/netfilter/ipset/ip_set.h).
const (
	nfnlSubsysIPSet = 6
	ipsetProtocol   = 7

	ipsetCmdCreate  = 2
	ipsetCmdDestroy = 3
	ipsetCmdSwap    = 6
	ipsetCmdAdd     = 9
	ipsetCmdDel     = 10
	ipsetCmdType    = 13

	ipsetAttrProtocol = 1
	ipsetAttrSetName  = 2
	ipsetAttrTypeName = 3 // and IPSET_ATTR_SETNAME2
	ipsetAttrRevision = 4
	ipsetAttrFamily   = 5
	ipsetAttrData     = 7
	ipsetAttrADT      = 8
	ipsetAttrLineNo   = 9

	ipsetAttrIP       = 1
	ipsetAttrCIDR     = 3
	ipsetAttrHashSize = 18
	ipsetAttrMaxElem  = 19
	ipsetAttrIPv4     = 1
	ipsetAttrIPv6     = 2

	nlaFNetByteorder = 0x4000
)

// ipsetRevisions are the newest revisions of the types we create that ipset
// 7.17 creates (hash:ip 6 and hash:net 7 have bucketsize): a set is created
// as ipset restore would create it, at the kernel's newest if it is older.
var ipsetRevisions = map[string]byte{"hash:ip": 6, "hash:net": 7}

// ipsetErrors are ipset's own error codes (IPSET_ERR_*), as ipset prints them.
var ipsetErrors = map[int]string{
	4097: "ipset protocol error",
	4098: "set type not supported",
	4099: "maximal number of sets reached",
	4100: "set cannot be destroyed: it is in use by a kernel component",
	4101: "the second set does not exist",
	4102: "the sets cannot be swapped: their type does not match",
	4103: "element exists",
	4104: "invalid CIDR",
	4105: "invalid netmask",
	4106: "invalid family",
	4107: "timeout cannot be used: set was created without timeout support",
	4108: "set is referenced by another set",
	4109: "invalid IPv4 address",
	4110: "invalid IPv6 address",
	4352: "hash is full, cannot add more elements",
}

// ipsetConn is a netlink socket to ipset.
type ipsetConn struct {
	fd   int
	seq  uint32
	revs map[string]byte // by "TYPE FAMILY": the revision to create
	buf  []byte          // for the answers
}

// applyIPSet applies ops, ipset restore lines, one message at a time. As
// with ipset restore, a line that is not one the writer knows stops the run
// there, after the messages before it.
func applyIPSet(ops []string) error {
	fd, err := nlSocket()
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	// Every message is answered as it is handled; a kernel that never answers is a fault.
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Sec: 60})
	c := &ipsetConn{fd: fd, revs: map[string]byte{}}
	return ipsetMessages(ops, func(m *ipsetMsg) error {
		if m.create != "" {
			rev, err := c.revision(m.create, m.family)
			if err != nil {
				return fmt.Errorf("ipset %.200q: %w", m.line, err)
			}
			m.b[m.revAt] = rev
		}
		if _, err := c.talk(m.b); err != nil {
			what := fmt.Sprintf("%.200q", m.line)
			if m.lines > 1 {
				what += fmt.Sprintf(" or one of the %d lines after it", m.lines-1)
			}
			return fmt.Errorf("ipset %s: %w", what, err)
		}
		return nil
	})
}

// ipsetMsg is one message: its bytes (seq to be set), the first line it
// comes from and how many, and for a create the type and family whose
// revision goes at revAt.
type ipsetMsg struct {
	b      []byte
	line   string
	lines  int
	create string
	family byte
	revAt  int
}

// ipsetMessages translates ops to messages and calls send with each in turn,
// until it fails. The messages share one buffer.
func ipsetMessages(ops []string, send func(*ipsetMsg) error) error {
	var w nlWriter
	var m ipsetMsg
	start := func(cmd uint16, line string) int {
		w.b = w.b[:0]
		at := w.msg(nfnlSubsysIPSet<<8|cmd, nlmFRequest|nlmFAck, 0, syscall.AF_INET, 0)
		w.attr(ipsetAttrProtocol, ipsetProtocol)
		m = ipsetMsg{line: line, lines: 1}
		return at
	}
	done := func(at int) error {
		w.end(at, false)
		m.b = w.b
		return send(&m)
	}
	var adt struct {
		at, list int
		cmd      uint16
		set      string
	}
	closeADT := func() error {
		if adt.cmd == 0 {
			return nil
		}
		adt.cmd = 0
		w.end(adt.list, true)
		return done(adt.at)
	}
	for _, op := range ops {
		f := strings.Fields(op)
		if len(f) < 2 {
			return fmt.Errorf("ipset line %q: %w", op, errNoNetlink)
		}
		if f[0] == "add" || f[0] == "del" {
			if len(f) != 3 {
				return fmt.Errorf("ipset line %q: %w", op, errNoNetlink)
			}
			cmd := uint16(ipsetCmdAdd)
			if f[0] == "del" {
				cmd = ipsetCmdDel
			}
			p, err := parseEntry(f[2])
			if err != nil {
				return fmt.Errorf("ipset line %q: %w", op, err)
			}
			if adt.cmd != cmd || adt.set != f[1] || len(w.b)-adt.list > elemChunk {
				if err := closeADT(); err != nil {
					return err
				}
				adt.at = start(cmd, op)
				w.str(ipsetAttrSetName, f[1])
				w.attr(ipsetAttrLineNo, 0, 0, 0, 0) // the kernel wants one with a list of entries
				adt.list, adt.cmd, adt.set = w.nest(ipsetAttrADT), cmd, f[1]
			} else {
				m.lines++
			}
			ipsetEntry(&w, p, strings.Contains(f[2], "/"))
			continue
		}
		if err := closeADT(); err != nil {
			return err
		}
		var err error
		switch {
		case f[0] == "destroy" && len(f) == 2:
			at := start(ipsetCmdDestroy, op)
			w.str(ipsetAttrSetName, f[1])
			err = done(at)
		case f[0] == "swap" && len(f) == 3:
			at := start(ipsetCmdSwap, op)
			w.str(ipsetAttrSetName, f[1])
			w.str(ipsetAttrTypeName, f[2]) // IPSET_ATTR_SETNAME2
			err = done(at)
		case f[0] == "create" && len(f) == 9 && f[3] == "family" && f[5] == "hashsize" && f[7] == "maxelem" && ipsetRevisions[f[2]] != 0:
			fam := byte(nfprotoIPv4)
			switch f[4] {
			case "inet":
			case "inet6":
				fam = nfprotoIPv6
			default:
				return fmt.Errorf("ipset line %q: %w", op, errNoNetlink)
			}
			hashSize, err1 := strconv.ParseUint(f[6], 10, 32)
			maxElem, err2 := strconv.ParseUint(f[8], 10, 32)
			if err := errors.Join(err1, err2); err != nil {
				return fmt.Errorf("ipset line %q: %w", op, err)
			}
			at := start(ipsetCmdCreate, op)
			w.str(ipsetAttrSetName, f[1])
			w.str(ipsetAttrTypeName, f[2])
			m.create, m.family, m.revAt = f[2], fam, len(w.b)+4
			w.attr(ipsetAttrRevision, ipsetRevisions[f[2]])
			w.attr(ipsetAttrFamily, fam)
			d := w.nest(ipsetAttrData)
			w.u32(ipsetAttrHashSize|nlaFNetByteorder, uint32(hashSize))
			w.u32(ipsetAttrMaxElem|nlaFNetByteorder, uint32(maxElem))
			w.end(d, true)
			err = done(at)
		default:
			return fmt.Errorf("ipset line %q: %w", op, errNoNetlink)
		}
		if err != nil {
			return err
		}
	}
	return closeADT()
}

// ipsetEntry writes the entry of p, with its prefix length when cidr.
func ipsetEntry(w *nlWriter, p netip.Prefix, cidr bool) {
	d := w.nest(ipsetAttrData)
	ip := w.nest(ipsetAttrIP)
	if p.Addr().Is4() {
		a := p.Addr().As4()
		w.attr(ipsetAttrIPv4|nlaFNetByteorder, a[:]...)
	} else {
		a := p.Addr().As16()
		w.attr(ipsetAttrIPv6|nlaFNetByteorder, a[:]...)
	}
	w.end(ip, true)
	if cidr {
		w.attr(ipsetAttrCIDR, byte(p.Bits()))
	}
	w.end(d, true)
}

// talk sends one message and returns the answer's attributes (after the
// nfgenmsg) of a message that is not an ack; an error when the kernel
// refused it.
func (c *ipsetConn) talk(b []byte) ([]byte, error) {
	c.seq++
	binary.NativeEndian.PutUint32(b[8:], c.seq)
	if err := syscall.Sendto(c.fd, b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("netlink send: %w", err)
	}
	if c.buf == nil {
		c.buf = make([]byte, 8192)
	}
	buf := c.buf
	var data []byte
	for {
		n, _, err := syscall.Recvfrom(c.fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := nlSplit(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if binary.NativeEndian.Uint32(m[8:]) != c.seq {
				continue
			}
			code, reason, ok := nlAck(m)
			switch {
			case !ok:
				data = append([]byte(nil), m[min(20, len(m)):]...) // the answer before the ack
				continue
			case code == 0:
				return data, nil
			case ipsetErrors[code] != "":
				return nil, errors.New(ipsetErrors[code])
			case code > 4096:
				return nil, fmt.Errorf("ipset error %d", code)
			}
			err := error(syscall.Errno(code))
			if code == int(syscall.ENOENT) {
				err = fmt.Errorf("%w (the set does not exist)", err)
			}
			if reason != "" {
				err = fmt.Errorf("%w (%s)", err, reason)
			}
			return nil, err
		}
	}
}

// revision is the revision a set of typ and family is created with: ours
// (ipsetRevisions), or the kernel's newest when that is older.
func (c *ipsetConn) revision(typ string, family byte) (byte, error) {
	key := typ + " " + strconv.Itoa(int(family))
	if r, ok := c.revs[key]; ok {
		return r, nil
	}
	var w nlWriter
	at := w.msg(nfnlSubsysIPSet<<8|ipsetCmdType, nlmFRequest|nlmFAck, 0, syscall.AF_INET, 0)
	w.attr(ipsetAttrProtocol, ipsetProtocol)
	w.str(ipsetAttrTypeName, typ)
	w.attr(ipsetAttrFamily, family)
	w.end(at, false)
	data, err := c.talk(w.b)
	if err != nil {
		return 0, fmt.Errorf("the kernel's revisions of %s: %w", typ, err)
	}
	rev := ipsetRevisions[typ]
	found := false
	for attrs := data; len(attrs) >= 4; {
		l := int(binary.NativeEndian.Uint16(attrs))
		if l < 4 || l > len(attrs) {
			break
		}
		if binary.NativeEndian.Uint16(attrs[2:])&0x3fff == ipsetAttrRevision && l >= 5 {
			rev, found = min(rev, attrs[4]), true
		}
		attrs = attrs[(l+3)&^3:]
	}
	if !found {
		return 0, fmt.Errorf("the kernel does not say which revisions of %s it has", typ)
	}
	c.revs[key] = rev
	return rev, nil
}
