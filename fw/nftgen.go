package fw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// nftGen returns the generation of this network namespace's nftables
// ruleset: a counter the kernel moves on by one with every committed
// transaction (an "nft -f" of ours, an "nft add element" by hand,
// iptables-nft's restores, any table's), and never otherwise. It is one
// netlink request (NFT_MSG_GETGEN), no process.
func nftGen() (uint32, error) {
	const (
		nfnlSubsysNFTables = 10
		nftMsgNewGen       = 15
		nftMsgGetGen       = 16
		nftaGenID          = 1
	)
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_NETFILTER)
	if err != nil {
		return 0, fmt.Errorf("nftables generation: netlink socket: %w", err)
	}
	defer syscall.Close(fd)
	kernel := &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}
	// nlmsghdr (16 bytes) and nfgenmsg (family AF_UNSPEC, version 0, resource id 0).
	req := make([]byte, 20)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], nfnlSubsysNFTables<<8|nftMsgGetGen)
	binary.NativeEndian.PutUint16(req[6:], syscall.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:], 1)
	if err := syscall.Sendto(fd, req, 0, kernel); err != nil {
		return 0, fmt.Errorf("nftables generation: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := syscall.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("nftables generation: %w", err)
	}
	msg := buf[:n]
	if len(msg) < 16 {
		return 0, errors.New("nftables generation: short answer")
	}
	switch typ := binary.NativeEndian.Uint16(msg[4:]); typ {
	case syscall.NLMSG_ERROR:
		if len(msg) >= 20 {
			if code := int32(binary.NativeEndian.Uint32(msg[16:])); code < 0 {
				return 0, fmt.Errorf("nftables generation: %w", syscall.Errno(-code))
			}
		}
		return 0, errors.New("nftables generation: no answer")
	case nfnlSubsysNFTables<<8 | nftMsgNewGen:
	default:
		return 0, fmt.Errorf("nftables generation: answer of type %d", typ)
	}
	end := min(int(binary.NativeEndian.Uint32(msg[0:])), len(msg))
	for attrs := msg[20:end]; len(attrs) >= 4; {
		l := int(binary.NativeEndian.Uint16(attrs[0:]))
		if l < 4 || l > len(attrs) {
			break
		}
		if binary.NativeEndian.Uint16(attrs[2:])&0x3fff == nftaGenID && l >= 8 {
			return binary.BigEndian.Uint32(attrs[4:]), nil
		}
		attrs = attrs[(l+3)&^3:]
	}
	return 0, errors.New("nftables generation: no NFTA_GEN_ID in the answer")
}
