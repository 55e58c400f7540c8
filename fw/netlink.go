package fw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// netlink.go writes and reads the netlink messages of the nftables and ipset
// writers (nftlink.go, ipsetlink.go).

// Netlink's constants (linux/netlink.h).
const (
	nlmFRequest = 0x1
	nlmFAck     = 0x4
	nlmFAppend  = 0x800
	nlmFCreate  = 0x400
	nlaFNested  = 0x8000

	solNetlink      = 270
	netlinkCapAck   = 10
	netlinkExtAck   = 11
	nlmsgerrAttrMsg = 1
	nlmFAckTLVs     = 0x200
)

// nlSocket opens a netfilter netlink socket whose errors do not echo the
// message they answer (a message may hold 32 KB of elements) but say what
// was wrong, when the kernel says it.
func nlSocket() (int, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_NETFILTER)
	if err != nil {
		return -1, fmt.Errorf("netlink socket: %w", err)
	}
	syscall.SetsockoptInt(fd, solNetlink, netlinkCapAck, 1)
	syscall.SetsockoptInt(fd, solNetlink, netlinkExtAck, 1)
	return fd, nil
}

// nlWriter writes netlink messages and attributes into one buffer.
type nlWriter struct {
	b []byte
}

// msg starts a netfilter message of type typ (nfnetlink's header after netlink's) and
// returns its offset (for end).
func (w *nlWriter) msg(typ, flags uint16, seq uint32, family byte, resID uint16) int {
	at := len(w.b)
	w.b = binary.NativeEndian.AppendUint32(w.b, 0)
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
	w.b = binary.NativeEndian.AppendUint16(w.b, flags)
	w.b = binary.NativeEndian.AppendUint32(w.b, seq)
	w.b = binary.NativeEndian.AppendUint32(w.b, 0)
	w.b = append(w.b, family, 0)
	w.b = binary.BigEndian.AppendUint16(w.b, resID)
	return at
}

// end sets the length of the message or nested attribute that starts at at.
func (w *nlWriter) end(at int, attr bool) {
	if attr {
		binary.NativeEndian.PutUint16(w.b[at:], uint16(len(w.b)-at))
		return
	}
	binary.NativeEndian.PutUint32(w.b[at:], uint32(len(w.b)-at))
}

func (w *nlWriter) attr(typ uint16, data ...byte) {
	w.b = binary.NativeEndian.AppendUint16(w.b, uint16(4+len(data)))
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
	w.b = append(w.b, data...)
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *nlWriter) str(typ uint16, s string) { w.attr(typ, append([]byte(s), 0)...) }

func (w *nlWriter) u32(typ uint16, v uint32) {
	w.b = binary.NativeEndian.AppendUint16(w.b, 8)
	w.b = binary.NativeEndian.AppendUint16(w.b, typ)
	w.b = binary.BigEndian.AppendUint32(w.b, v)
}

// nest starts a nested attribute; end(at, true) closes it.
func (w *nlWriter) nest(typ uint16) int {
	at := len(w.b)
	w.b = binary.NativeEndian.AppendUint16(w.b, 0)
	w.b = binary.NativeEndian.AppendUint16(w.b, typ|nlaFNested)
	return at
}

// nlSplit cuts what one receive read into its messages.
func nlSplit(buf []byte) ([][]byte, error) {
	var msgs [][]byte
	for len(buf) >= 16 {
		l := int(binary.NativeEndian.Uint32(buf))
		if l < 16 || l > len(buf) {
			return nil, errors.New("netlink: a truncated answer")
		}
		msgs = append(msgs, buf[:l])
		buf = buf[min((l+3)&^3, len(buf)):]
	}
	return msgs, nil
}

// nlAck reads an answer m: when it is an NLMSG_ERROR (ok), the errno it
// carries (0: an ack) and the kernel's reason if it gave one (an extended ack).
func nlAck(m []byte) (code int, reason string, ok bool) {
	if binary.NativeEndian.Uint16(m[4:]) != syscall.NLMSG_ERROR || len(m) < 20 {
		return 0, "", false
	}
	code = -int(int32(binary.NativeEndian.Uint32(m[16:])))
	if code != 0 && binary.NativeEndian.Uint16(m[6:])&nlmFAckTLVs != 0 && len(m) >= 36 {
		reason = extAckMsg(m[36:]) // after the error and the request's header (NETLINK_CAP_ACK)
	}
	return code, reason, true
}

// extAckMsg is the text of an extended ack's NLMSGERR_ATTR_MSG, if any.
func extAckMsg(attrs []byte) string {
	for len(attrs) >= 4 {
		l := int(binary.NativeEndian.Uint16(attrs))
		if l < 4 || l > len(attrs) {
			return ""
		}
		if binary.NativeEndian.Uint16(attrs[2:]) == nlmsgerrAttrMsg {
			return strings.TrimRight(string(attrs[4:l]), "\x00")
		}
		attrs = attrs[(l+3)&^3:]
	}
	return ""
}
