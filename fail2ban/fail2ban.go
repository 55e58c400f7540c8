// Package fail2ban talks to a running fail2ban.
//
// Both fail2ban and fail2ban-scan name a jail's iptables chain f2b-<jail>, so
// the two run side by side only with distinct jail names. How the commands
// use this package:
//
//   - check calls [RunningJails] with the socket (default [DefaultSocket]) and
//     [Clashes] with the enabled jails of the config; for each clash it prints
//     an error naming the jail and fail2ban's socket, and exits 2.
//   - scan does the same before reading any log: a clashing jail is not
//     scanned and its chain is not managed (left out of fw's wanted jails, so
//     fail2ban-scan neither fills nor removes fail2ban's chain); it logs an
//     error per clash and the run exits 1. The other jails run as usual.
//   - running=false (no socket, or a stale one after a crash) means no clash.
//     An error from RunningJails is a runtime error (exit 1): a fail2ban that
//     does not answer may still own its chains.
//
// The client speaks fail2ban's own socket protocol (fail2ban 1.0.2
// client/csocket.py): a pickled ['status'] request followed by the
// <F2B_END_COMMAND> marker, answered by a pickled
// (0, [("Number of jail", N), ("Jail list", "a, b")]) and the same marker. Only
// the pickle opcodes of those shapes are decoded (see pickle.go); anything
// else is an error, never executed.
package fail2ban

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DefaultSocket is where fail2ban (Debian's fail2ban.conf) listens.
const DefaultSocket = "/var/run/fail2ban/fail2ban.sock"

// Timeout bounds one RunningJails call, connect to reply, so that a hung
// fail2ban cannot hold the minute run.
const Timeout = 2 * time.Second

// The protocol's markers (fail2ban/protocol.py CSPROTO).
var (
	endMarker   = []byte("<F2B_END_COMMAND>")
	closeMarker = []byte("<F2B_CLOSE_COMMAND>")
)

// RunningJails asks the fail2ban listening on socket for its jails, sorted.
//
// When socket does not exist, or nothing listens on it (connection refused:
// a socket file left by a fail2ban that was killed), fail2ban is not running:
// it returns nil, false, nil. When fail2ban answers, it returns its jails
// (possibly none) and running=true. Otherwise it returns an error naming
// socket, with running=true when something accepted the connection. The whole
// call takes at most [Timeout], or less if ctx ends first; then the error
// wraps ctx's error (context.DeadlineExceeded).
func RunningJails(ctx context.Context, socket string) (jails []string, running bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("ask fail2ban at %s for its jails: %w", socket, inTime(ctx, err))
	}
	defer conn.Close()
	jails, err = status(ctx, conn)
	if err != nil {
		return nil, true, fmt.Errorf("ask fail2ban at %s for its jails: %w", socket, inTime(ctx, err))
	}
	return jails, true, nil
}

// inTime returns ctx's error, saying so, when ctx has ended (the likely
// cause of err), or err.
func inTime(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("no answer in time: %w: %w", ctx.Err(), err)
	}
	return err
}

// status runs the status command on conn and returns the jail list.
func status(ctx context.Context, conn net.Conn) ([]string, error) {
	// Only ctx ends the exchange, so that when a read or write fails for it,
	// ctx.Err() is already set.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	req := append(encodeStrings("status"), endMarker...)
	if _, err := conn.Write(req); err != nil {
		return nil, fmt.Errorf("send status: %w", err)
	}
	reply, err := readReply(conn)
	if err != nil {
		return nil, err
	}
	// Say goodbye as fail2ban-client does, so that the server does not log a
	// lost connection; the answer is already in hand, so an error is moot.
	conn.Write(append(closeMarker, endMarker...))

	v, err := decode(reply)
	if err != nil {
		return nil, fmt.Errorf("read status reply: %w", err)
	}
	return parseStatus(v)
}

// readReply reads up to the end marker, as csocket.py's receive does, and
// returns what came before it.
func readReply(r io.Reader) ([]byte, error) {
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if bytes.HasSuffix(buf, endMarker) {
			return buf[:len(buf)-len(endMarker)], nil
		}
		if len(buf) > maxReply {
			return nil, fmt.Errorf("read status reply: no end marker in %d bytes", len(buf))
		}
		if err == io.EOF {
			return nil, fmt.Errorf("read status reply: connection closed after %d bytes, before the end marker", len(buf))
		}
		if err != nil {
			return nil, fmt.Errorf("read status reply: %w", err)
		}
	}
}

// parseStatus returns the jails of a decoded status reply:
// (0, [("Number of jail", N), ("Jail list", "a, b")]), the list in the
// order and form of fail2ban 1.0.2 server/server.py status(): sorted names
// joined by ", ".
func parseStatus(v any) ([]string, error) {
	if s, ok := v.(string); ok { // a protocol error: "ERROR: ..."
		return nil, fmt.Errorf("status answered %q", s)
	}
	t, ok := v.(pyTuple)
	if !ok || len(t) != 2 {
		return nil, fmt.Errorf("status reply is not a (code, result) pair: %s", describe(v))
	}
	if code, ok := t[0].(int64); !ok || code != 0 {
		return nil, fmt.Errorf("status failed: code %s, result %s", describe(t[0]), describe(t[1]))
	}
	l, ok := t[1].(*pyList)
	if !ok {
		return nil, fmt.Errorf("status result is not a list: %s", describe(t[1]))
	}
	var (
		list      string
		haveList  bool
		count     int64 = -1
		haveCount bool
	)
	for _, it := range l.items {
		kv, ok := it.(pyTuple)
		if !ok || len(kv) != 2 {
			return nil, fmt.Errorf("status result item is not a (name, value) pair: %s", describe(it))
		}
		switch kv[0] {
		case "Jail list":
			list, haveList = kv[1].(string)
		case "Number of jail":
			count, haveCount = kv[1].(int64)
		}
	}
	if !haveList {
		return nil, errors.New(`status result has no "Jail list" string`)
	}
	var jails []string
	if list != "" {
		jails = strings.Split(list, ", ")
	}
	if haveCount && count != int64(len(jails)) {
		// A name holding ", " would be split in two: refuse to guess.
		return nil, fmt.Errorf("jail list %q does not split into the %d jails fail2ban counts", list, count)
	}
	slices.Sort(jails)
	return jails, nil
}

// describe names a decoded value's kind for an error message, without
// walking into it (a list may hold itself).
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		return fmt.Sprintf("%q", v)
	case int64, bool:
		return fmt.Sprint(v)
	case pyTuple:
		return fmt.Sprintf("a tuple of %d", len(v))
	case *pyList:
		return fmt.Sprintf("a list of %d", len(v.items))
	}
	return fmt.Sprintf("%T", v)
}

// Clashes returns the names in both ours and theirs, sorted, each once: the
// fail2ban-scan jails whose chain f2b-<name> a running fail2ban owns.
func Clashes(ours, theirs []string) []string {
	var out []string
	for _, n := range ours {
		if slices.Contains(theirs, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
