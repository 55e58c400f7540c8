package fw

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// nftlink.go applies a plan's nft commands as one nftables transaction over
// netlink, as "nft -f" would, without running nft: nft parses 100,000
// addresses in about 0.25 s of its 0.45 s, and that parse is the one part of
// a first scan's apply left to cut. The commands stay the plan (dry-run
// prints them, errors name them); each is translated to its messages, all
// of them in one batch written into one buffer and sent with one sendmsg:
// the kernel commits all or none. The writer understands exactly the
// commands nftDiff and lift write, and refuses any other.
//
// The messages are those nft 1.0.6 sends for the same commands (nft
// --debug=netlink shows them), so that "nft list table" prints the table as
// if nft had made it: nftDiff compares that listing with nftRules.

// nf_tables' constants (linux/netfilter/nfnetlink.h, linux/netfilter/nf_tables.h).
const (
	nfnlMsgBatchBegin = 0x10
	nfnlMsgBatchEnd   = 0x11
	nfnlSubsysNFT     = 10
	nfprotoInet       = 1
	nfprotoIPv4       = 2
	nfprotoIPv6       = 10

	nftMsgNewTable   = 0
	nftMsgDelTable   = 2
	nftMsgNewChain   = 3
	nftMsgDelChain   = 5
	nftMsgNewRule    = 6
	nftMsgDelRule    = 8
	nftMsgNewSet     = 9
	nftMsgDelSet     = 11
	nftMsgNewSetElem = 12
	nftMsgDelSetElem = 14

	nftaTableName = 1

	nftaChainTable  = 1
	nftaChainName   = 3
	nftaChainHook   = 4
	nftaChainPolicy = 5
	nftaChainType   = 7
	nftaHookNum     = 1
	nftaHookPrio    = 2

	nftaRuleTable = 1
	nftaRuleChain = 2
	nftaRuleExprs = 4
	nftaListElem  = 1
	nftaExprName  = 1
	nftaExprData  = 2

	nftaSetTable   = 1
	nftaSetName    = 2
	nftaSetFlags   = 3
	nftaSetKeyType = 4
	nftaSetKeyLen  = 5
	nftaSetDesc    = 9
	nftaSetID      = 10
	nftaSetDescSz  = 1

	nftSetAnonymous = 0x1
	nftSetConstant  = 0x2
	nftSetInterval  = 0x4

	nftaElemListTable  = 1
	nftaElemListSet    = 2
	nftaElemListElems  = 3
	nftaElemListSetID  = 4
	nftaElemKey        = 1
	nftaElemFlags      = 3
	nftElemIntervalEnd = 0x1
	nftaDataValue      = 1
	nftaDataVerdict    = 2
	nftaVerdictCode    = 1

	// nft's datatypes, as set key types: ipv4_addr, ipv6_addr, inet_proto, inet_service.
	nftTypeIPv4   = 7
	nftTypeIPv6   = 8
	nftTypeProto  = 12
	nftTypeServic = 13

	nftReg1        = 1
	nftRegVerdict  = 0
	nftMetaNFProto = 15
	nftMetaL4Proto = 16
	nftCmpEq       = 0
	nftCmpLte      = 3
	nftCmpGte      = 5
	nftPayloadNet  = 1
	nftPayloadTH   = 2
	nfDrop         = 0
	nfAccept       = 1
	nfInetLocalIn  = 1

	elemChunk = 32 << 10 // bytes of elements per message: an attribute's length is 16 bits
)

// value writes a nested NFTA_DATA_VALUE of data as attribute typ.
func (w *nlWriter) value(typ uint16, data []byte) {
	at := w.nest(typ)
	w.attr(nftaDataValue, data...)
	w.end(at, true)
}

// expr writes one expression of a rule: its name and its data's attributes.
func (w *nlWriter) expr(name string, data func()) {
	at := w.nest(nftaListElem)
	w.str(nftaExprName, name)
	d := w.nest(nftaExprData)
	data()
	w.end(d, true)
	w.end(at, true)
}

// nftBatch is one transaction being written: its messages, the op each
// comes from (for errors), the sets it declares.
type nftBatch struct {
	nlWriter
	seq    uint32
	ops    []string          // ops[seq-1]: the command the message of seq comes from
	op     string            // the command being translated
	sets   map[string]nftSet // the sets the batch declares (by name), over those of cur
	cur    *nftLive
	nextID uint32
}

// nftSet is what the writer needs to know of a set: its key and whether it
// holds intervals, and the ID it has in the batch that declares it (0: none).
type nftSet struct {
	v6, interval bool
	id           uint32
}

func (t *nftBatch) msg(typ uint16, flags uint16) int {
	t.seq++
	t.ops = append(t.ops, t.op)
	return t.nlWriter.msg(nfnlSubsysNFT<<8|typ, nlmFRequest|nlmFAck|flags, t.seq, nfprotoInet, 0)
}

// nftBatchOf translates ops (nft commands of nftDiff or lift, on the table of
// jails as cur listed it) to one batch.
func nftBatchOf(ops []string, cur *nftLive, jails []Jail) (*nftBatch, error) {
	t := &nftBatch{sets: map[string]nftSet{}, cur: cur}
	size := 256
	for _, op := range ops {
		size += 64 + len(op) + len(op)/4 // an address's 16 bytes for its 10-15 of text and ", "
	}
	t.b = make([]byte, 0, size)
	t.nlWriter.msg(nfnlMsgBatchBegin, nlmFRequest, 0, 0, nfnlSubsysNFT)
	t.end(0, false)
	chains := map[string]Jail{}
	for _, j := range jails {
		chains[ChainName(j.Name)] = j
	}
	for _, op := range ops {
		t.op = op
		if err := t.add(op, chains); err != nil {
			return nil, fmt.Errorf("nftables command %.200q: %w", op, err)
		}
	}
	at := t.nlWriter.msg(nfnlMsgBatchEnd, nlmFRequest, t.seq+1, 0, nfnlSubsysNFT)
	t.end(at, false)
	return t, nil
}

var errNoNetlink = errors.New("not a command the netlink writer knows")

// add writes the messages of op.
func (t *nftBatch) add(op string, chains map[string]Jail) error {
	verb, rest, _ := strings.Cut(op, " "+nftTableRef)
	if !strings.HasPrefix(rest, " ") && rest != "" {
		return errNoNetlink
	}
	rest = strings.TrimPrefix(rest, " ")
	name, body, _ := strings.Cut(rest, " ")
	switch verb {
	case "add table", "delete table":
		if rest != "" {
			return errNoNetlink
		}
		typ, flags := uint16(nftMsgNewTable), uint16(nlmFCreate)
		if verb == "delete table" {
			typ, flags = nftMsgDelTable, 0
		}
		at := t.msg(typ, flags)
		t.str(nftaTableName, NFTTable)
		t.end(at, false)
	case "flush chain", "delete chain":
		if body != "" {
			return errNoNetlink
		}
		typ := uint16(nftMsgDelRule)
		if verb == "delete chain" {
			typ = nftMsgDelChain
		}
		at := t.msg(typ, 0)
		if typ == nftMsgDelRule { // every rule of the chain
			t.str(nftaRuleTable, NFTTable)
			t.str(nftaRuleChain, name)
		} else {
			t.str(nftaChainTable, NFTTable)
			t.str(nftaChainName, name)
		}
		t.end(at, false)
	case "delete set":
		if body != "" {
			return errNoNetlink
		}
		at := t.msg(nftMsgDelSet, 0)
		t.str(nftaSetTable, NFTTable)
		t.str(nftaSetName, name)
		t.end(at, false)
		delete(t.sets, name)
	case "add set":
		decl, ok := strings.CutPrefix(body, "{ ")
		decl, ok2 := strings.CutSuffix(decl, "; }")
		if !ok || !ok2 {
			return errNoNetlink
		}
		var s nftSet
		var size uint64
		for d := range strings.SplitSeq(decl, "; ") {
			switch {
			case d == "type ipv4_addr":
			case d == "type ipv6_addr":
				s.v6 = true
			case d == "flags interval":
				s.interval = true
			case strings.HasPrefix(d, "size "):
				n, err := strconv.ParseUint(d[len("size "):], 10, 32)
				if err != nil {
					return err
				}
				size = n
			default:
				return errNoNetlink
			}
		}
		typ, klen := uint32(nftTypeIPv4), 4
		if s.v6 {
			typ, klen = nftTypeIPv6, 16
		}
		var flags uint32
		if s.interval {
			flags = nftSetInterval
		}
		s.id = t.set(name, flags, typ, klen, uint32(size))
		t.sets[name] = s
	case "add element", "delete element":
		elems, ok := strings.CutPrefix(body, "{ ")
		elems, ok2 := strings.CutSuffix(elems, " }")
		if !ok || !ok2 {
			return errNoNetlink
		}
		s, ok := t.sets[name]
		if !ok {
			live := t.cur.sets[name]
			if live == nil {
				return fmt.Errorf("no set %s", name)
			}
			s = nftSet{v6: slices.Contains(live.decl, "type ipv6_addr"), interval: slices.Contains(live.decl, "flags interval")}
		}
		typ := uint16(nftMsgNewSetElem)
		if verb == "delete element" {
			typ = nftMsgDelSetElem
		}
		return t.elems(typ, name, s, elems)
	case "add chain":
		if body != "{ "+nftHook+" }" {
			return errNoNetlink
		}
		at := t.msg(nftMsgNewChain, nlmFCreate)
		t.str(nftaChainTable, NFTTable)
		t.str(nftaChainName, name)
		h := t.nest(nftaChainHook)
		t.u32(nftaHookNum, nfInetLocalIn)
		t.u32(nftaHookPrio, uint32(0xffffffff)) // filter - 1
		t.end(h, true)
		t.u32(nftaChainPolicy, nfAccept)
		t.str(nftaChainType, "filter")
		t.end(at, false)
	case "add rule":
		j, ok := chains[name]
		if !ok {
			return errNoNetlink
		}
		fam := slices.Index(nftRules(j), body)
		if fam < 0 {
			return errNoNetlink
		}
		return t.rule(j, Family(fam), name)
	default:
		return errNoNetlink
	}
	return nil
}

// set writes the declaration of a set of table and returns its ID in the batch.
func (t *nftBatch) set(name string, flags, keyType uint32, keyLen int, size uint32) uint32 {
	t.nextID++
	at := t.msg(nftMsgNewSet, nlmFCreate)
	t.str(nftaSetTable, NFTTable)
	t.str(nftaSetName, name)
	t.u32(nftaSetFlags, flags)
	t.u32(nftaSetKeyType, keyType)
	t.u32(nftaSetKeyLen, uint32(keyLen))
	t.u32(nftaSetID, t.nextID)
	if size > 0 {
		d := t.nest(nftaSetDesc)
		t.u32(nftaSetDescSz, size)
		t.end(d, true)
	}
	t.end(at, false)
	return t.nextID
}

// elems writes the elements of list (as nft commands write them: addresses,
// prefixes, ranges, ", " between) to set name, in messages of elemChunk
// bytes. An interval set holds a prefix or a range as its first address and,
// flagged as an end, the address after its last (none after the last address
// of all).
func (t *nftBatch) elems(typ uint16, name string, s nftSet, list string) error {
	at, els := -1, 0
	closeMsg := func() {
		t.end(els, true)
		t.end(at, false)
		at = -1
	}
	for e := range strings.SplitSeq(list, ", ") {
		lo, hi, err := elemRange(e)
		if err != nil {
			return err
		}
		if lo.Is6() != s.v6 {
			return fmt.Errorf("element %s: not of the set's family", e)
		}
		if !s.interval && lo != hi {
			return fmt.Errorf("element %s: a range in a set without intervals", e)
		}
		if at < 0 {
			flags := uint16(0)
			if typ == nftMsgNewSetElem {
				flags = nlmFCreate
			}
			at = t.msg(typ, flags)
			t.str(nftaElemListTable, NFTTable)
			t.str(nftaElemListSet, name)
			if s.id != 0 {
				t.u32(nftaElemListSetID, s.id)
			}
			els = t.nest(nftaElemListElems)
		}
		t.elem(addrBytes(lo), false)
		if s.interval {
			if next := hi.Next(); next.IsValid() {
				t.elem(addrBytes(next), true)
			}
		}
		if len(t.b)-els > elemChunk {
			closeMsg()
		}
	}
	if at >= 0 {
		closeMsg()
	}
	return nil
}

func (t *nftBatch) elem(key []byte, end bool) {
	at := t.nest(nftaListElem)
	if end {
		t.u32(nftaElemFlags, nftElemIntervalEnd)
	}
	t.value(nftaElemKey, key)
	t.end(at, true)
}

// addrBytes is a's 4 or 16 bytes.
func addrBytes(a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return b[:]
	}
	b := a.As16()
	return b[:]
}

// elemRange returns the first and last address of an element as nft
// commands write it: an address, a prefix or a range.
func elemRange(e string) (lo, hi netip.Addr, err error) {
	if a, b, ok := strings.Cut(e, "-"); ok {
		lo, err = netip.ParseAddr(a)
		if err == nil {
			hi, err = netip.ParseAddr(b)
		}
		if err == nil && (lo.Is4() != hi.Is4() || hi.Less(lo)) {
			err = fmt.Errorf("range %s: not a range", e)
		}
		return lo, hi, err
	}
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return lo, hi, err
		}
		p = p.Masked()
		return p.Addr(), lastAddr(p), nil
	}
	lo, err = netip.ParseAddr(e)
	return lo, lo, err
}

// rule writes the rule nftRules(j)[fam] of chain, with the expressions nft
// 1.0.6 makes of it, after the anonymous sets it uses.
func (t *nftBatch) rule(j Jail, fam Family, chain string) error {
	proto := strings.ToLower(j.Protocol)
	if proto == "" {
		proto = "tcp"
	}
	protoNum := map[string]byte{"tcp": 6, "udp": 17}
	type port struct{ lo, hi uint16 }
	var ports []port
	var protoSet, portSet uint32 // anonymous sets' IDs
	if !allPorts(j.Ports) {
		p := proto
		if p == "all" {
			p = "tcp"
		}
		list, err := portList(j.Ports, p)
		if err != nil {
			return err
		}
		interval := false
		for s := range strings.SplitSeq(list, ",") {
			a, b, isRange := strings.Cut(s, ":")
			lo, _ := strconv.Atoi(a)
			hi := lo
			if isRange {
				hi, _ = strconv.Atoi(b)
				interval = true
			}
			ports = append(ports, port{uint16(lo), uint16(hi)})
		}
		if proto == "all" {
			protoSet = t.anonSet(nftTypeProto, 1, false, [][]byte{{6}, {17}}, nil)
		}
		if len(ports) > 1 {
			var keys [][]byte
			var ends []bool
			if interval && !slices.ContainsFunc(ports, func(p port) bool { return p.lo == 0 }) {
				keys, ends = [][]byte{{0, 0}}, []bool{true} // as nft writes an interval set: from 0
			}
			for _, p := range ports {
				keys = append(keys, binary.BigEndian.AppendUint16(nil, p.lo))
				ends = append(ends, false)
				if interval && p.hi < 0xffff {
					keys = append(keys, binary.BigEndian.AppendUint16(nil, p.hi+1))
					ends = append(ends, true)
				}
			}
			portSet = t.anonSet(nftTypeServic, 2, interval, keys, ends)
		}
	}
	name := setNames(j.Name)[fam]
	set, declared := t.sets[name]
	at := t.msg(nftMsgNewRule, nlmFCreate|nlmFAppend)
	t.str(nftaRuleTable, NFTTable)
	t.str(nftaRuleChain, chain)
	exprs := t.nest(nftaRuleExprs)
	meta := func(key uint32) {
		t.expr("meta", func() { t.u32(2, key); t.u32(1, nftReg1) }) // NFTA_META_KEY is 2, _DREG 1
	}
	cmp := func(op uint32, data []byte) {
		t.expr("cmp", func() { t.u32(1, nftReg1); t.u32(2, op); t.value(3, data) })
	}
	payload := func(base, offset, n uint32) {
		t.expr("payload", func() { t.u32(1, nftReg1); t.u32(2, base); t.u32(3, offset); t.u32(4, n) })
	}
	lookup := func(set string, id uint32) {
		t.expr("lookup", func() {
			t.str(1, set)
			t.u32(2, nftReg1)
			if id != 0 {
				t.u32(4, id)
			}
		})
	}
	switch {
	case protoSet != 0:
		meta(nftMetaL4Proto)
		lookup("__set%d", protoSet)
	case proto != "all":
		meta(nftMetaL4Proto)
		cmp(nftCmpEq, []byte{protoNum[proto]})
	}
	if len(ports) > 0 {
		payload(nftPayloadTH, 2, 2)
		switch p := ports[0]; {
		case portSet != 0:
			lookup("__set%d", portSet)
		case p.lo == p.hi:
			cmp(nftCmpEq, binary.BigEndian.AppendUint16(nil, p.lo))
		default:
			cmp(nftCmpGte, binary.BigEndian.AppendUint16(nil, p.lo))
			cmp(nftCmpLte, binary.BigEndian.AppendUint16(nil, p.hi))
		}
	}
	if fam == IPv4 {
		meta(nftMetaNFProto)
		cmp(nftCmpEq, []byte{nfprotoIPv4})
		payload(nftPayloadNet, 12, 4)
	} else {
		meta(nftMetaNFProto)
		cmp(nftCmpEq, []byte{nfprotoIPv6})
		payload(nftPayloadNet, 8, 16)
	}
	if declared {
		lookup(name, set.id)
	} else {
		lookup(name, 0)
	}
	if strings.EqualFold(j.BlockType, "DROP") {
		t.expr("immediate", func() {
			t.u32(1, nftRegVerdict)
			d := t.nest(2)
			v := t.nest(nftaDataVerdict)
			t.u32(nftaVerdictCode, nfDrop)
			t.end(v, true)
			t.end(d, true)
		})
	} else {
		code := byte(3) // ICMP_PORT_UNREACH
		if fam == IPv6 {
			code = 4 // ICMPV6_PORT_UNREACH
		}
		t.expr("reject", func() { t.u32(1, 0); t.attr(2, code) }) // NFT_REJECT_ICMP_UNREACH
	}
	t.end(exprs, true)
	t.end(at, false)
	return nil
}

// anonSet writes a constant anonymous set of keys (an interval set when
// interval, ends flagging the keys that end an interval) and returns its ID.
func (t *nftBatch) anonSet(keyType uint32, keyLen int, interval bool, keys [][]byte, ends []bool) uint32 {
	flags := uint32(nftSetAnonymous | nftSetConstant)
	if interval {
		flags |= nftSetInterval
	}
	id := t.set("__set%d", flags, keyType, keyLen, uint32(len(keys)))
	at := t.msg(nftMsgNewSetElem, nlmFCreate)
	t.str(nftaElemListTable, NFTTable)
	t.str(nftaElemListSet, "__set%d")
	t.u32(nftaElemListSetID, id)
	els := t.nest(nftaElemListElems)
	for i, k := range keys {
		t.elem(k, ends != nil && ends[i])
	}
	t.end(els, true)
	t.end(at, false)
	return id
}

// send runs the batch: one sendmsg, after which the kernel has answered
// every message (it handles a batch in the sender's call). An error names
// the command of the first message refused.
func (t *nftBatch) send() error {
	fd, err := nlSocket()
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	// The batch is one message to the kernel: the socket's send buffer must hold it.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUFFORCE, len(t.b)+4096); err != nil {
		if len(t.b)+4096 > 200<<10 {
			return fmt.Errorf("netlink send buffer of %d bytes: %w", len(t.b), err)
		}
	}
	// Every message's answer (36 bytes, and an error's reason) waits in the receive buffer
	// until the write returns: room for all of them.
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, max(len(t.ops)*512, 256<<10))
	if err := syscall.Sendto(fd, t.b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send of %d bytes: %w", len(t.b), err)
	}
	acks := 0
	buf := make([]byte, 64<<10)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, syscall.MSG_DONTWAIT)
		if err == syscall.EAGAIN || err == syscall.EWOULDBLOCK {
			break
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := nlSplit(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			code, reason, ok := nlAck(m)
			if !ok {
				continue
			}
			if code == 0 {
				acks++
				continue
			}
			what := "the transaction"
			if seq := binary.NativeEndian.Uint32(m[8:]); seq >= 1 && int(seq) <= len(t.ops) {
				what = fmt.Sprintf("%.200q", t.ops[seq-1])
			}
			if reason != "" {
				return fmt.Errorf("%s: %w (%s)", what, syscall.Errno(code), reason)
			}
			return fmt.Errorf("%s: %w", what, syscall.Errno(code))
		}
	}
	if acks != len(t.ops) {
		return fmt.Errorf("netlink: %d of %d messages answered", acks, len(t.ops))
	}
	return nil
}

// applyNFT applies ops, nft commands on the table as cur lists it for jails,
// as one transaction.
func applyNFT(ctx context.Context, ops []string, cur *nftLive, jails []Jail) error {
	t, err := nftBatchOf(ops, cur, jails)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return t.send()
}
