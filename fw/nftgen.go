package fw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// nftGen returns the generation of this network namespace's nftables
// ruleset: a counter the kernel moves on by one with every committed
// transaction (a batch of ours, an "nft add element" by hand,
// iptables-nft's restores, any table's), and never otherwise. It is one
// netlink request (NFT_MSG_GETGEN), no process.
func nftGen() (uint32, error) {
	const (
		nftMsgNewGen = 15
		nftMsgGetGen = 16
		nftaGenID    = 1
	)
	fd, err := nlSocket()
	if err != nil {
		return 0, fmt.Errorf("nftables generation: %w", err)
	}
	defer syscall.Close(fd)
	var w nlWriter // nfgenmsg: family AF_UNSPEC, version 0, resource id 0
	w.end(w.msg(nfnlSubsysNFT<<8|nftMsgGetGen, nlmFRequest, 1, 0, 0), false)
	if err := syscall.Sendto(fd, w.b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("nftables generation: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := syscall.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("nftables generation: %w", err)
	}
	msgs, err := nlSplit(buf[:n])
	if err != nil || len(msgs) == 0 {
		return 0, errors.New("nftables generation: short answer")
	}
	msg := msgs[0]
	if code, _, ok := nlAck(msg); ok {
		if code != 0 {
			return 0, fmt.Errorf("nftables generation: %w", syscall.Errno(code))
		}
		return 0, errors.New("nftables generation: no answer")
	}
	if typ := binary.NativeEndian.Uint16(msg[4:]); typ != nfnlSubsysNFT<<8|nftMsgNewGen {
		return 0, fmt.Errorf("nftables generation: answer of type %d", typ)
	}
	for attrs := msg[min(20, len(msg)):]; len(attrs) >= 4; {
		l := int(binary.NativeEndian.Uint16(attrs[0:]))
		if l < 4 || l > len(attrs) {
			break
		}
		if binary.NativeEndian.Uint16(attrs[2:])&0x3fff == nftaGenID && l >= 8 {
			return binary.BigEndian.Uint32(attrs[4:]), nil
		}
		attrs = attrs[min((l+3)&^3, len(attrs)):]
	}
	return 0, errors.New("nftables generation: no NFTA_GEN_ID in the answer")
}
