package rules

import (
	"bytes"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Session matches the lines of one run in order. For most filters it is Filter.Match; the
// sshd built-in also remembers each connection (fail2ban's F-MLFID, sshd's "host sshd[pid]")
// over the lines of the run, as fail2ban 1.0.2 does:
//   - a failure line without an address ("Disconnecting: Too many authentication failures",
//     "User x not allowed because account is locked", in mode ddos kex_exchange_identification
//     and "Read from socket failed", in mode extra "Unable to negotiate a ...") is a failure of
//     the address an earlier line of the connection gave ("Connection from ADDR port N", pam_unix's
//     rhost=, ...), or, when none did yet, of the address a later line of it gives ("Connection
//     closed by ADDR", "Received disconnect from ADDR: 11: ...");
//   - lines that are no failure alone (pam_unix's "authentication failure", a failed public key
//     of an existing user, "Accepted ...") become one when the connection tried more than one
//     user name (fail2ban's users);
//   - "Accepted", "Connection closed", "Received disconnect" and the like end the connection.
//
// Only lines with a pid ("sshd[1234]:") are remembered: without one, two connections could not
// be told apart. The memory holds the last maxConnections connections; older ones are
// dropped, so hostile input cannot grow it. It lasts one run: the lines of a connection that a
// run boundary (a minute) splits are matched as if alone. A Session is not safe for concurrent
// use.
type Session struct {
	f   *Filter
	mem *connMemory
}

// NewSession returns a matcher for the lines of one run, read in order.
func (f *Filter) NewSession() *Session {
	s := &Session{f: f}
	if f.sshd != nil {
		s.mem = &connMemory{rules: f.sshd, conns: map[string]*connState{}, max: maxConnections}
	}
	return s
}

// Match is Filter.Match with the memory described at Session. A failure that only the memory
// makes one (no failregex of Patterns matches the line alone) has pattern -1.
func (s *Session) Match(line []byte) (res MatchResult, host netip.Addr, pattern int) {
	res, host, pattern = s.f.Match(line)
	if s.mem == nil || res == Ignored {
		return res, host, pattern
	}
	key, content, ok := s.f.connection(line)
	if !ok {
		return res, host, pattern
	}
	ev, ok := s.mem.rules.classify(content, res == Match, host)
	if !ok {
		return res, host, pattern
	}
	a, fail := s.mem.merge(key, ev)
	switch {
	case !fail:
		return Miss, netip.Addr{}, -1
	case res == Match:
		return res, host, pattern
	}
	return Match, a, -1
}

// maxConnections bounds a Session's memory.
const maxConnections = 10000

// connection returns the connection key of a line ("host sshd[pid]", fail2ban's F-MLFID
// without the stamp) and the prefregex's content. ok is false when the prefregex does not
// match or the prefix has no "[pid]".
func (f *Filter) connection(line []byte) (key, content []byte, ok bool) {
	if f.pref == nil || !f.toEnd {
		return nil, nil, false
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	_, n := scanStamp(line)
	rest := line[n:]
	start := 0
	if l, ok := f.pref.matchFast(rest); ok {
		start = l.end
	} else {
		loc, ok := f.pref.match(rest, true)
		if !ok {
			return nil, nil, false
		}
		start = loc[2*f.pref.content]
	}
	pre := rest[:start]
	for i := 0; i < len(pre); i++ {
		if pre[i] != '[' {
			continue
		}
		j := i + 1
		for j < len(pre) && pre[j] >= '0' && pre[j] <= '9' {
			j++
		}
		if j > i+1 && j < len(pre) && pre[j] == ']' {
			return bytes.TrimLeft(pre[:j+1], " \t"), rest[start:], true
		}
	}
	return nil, nil, false
}

// sshdEvent is what one line tells about its connection (fail2ban's groups).
type sshdEvent struct {
	host   netip.Addr // invalid: the line has none
	user   string     // "": none
	nofail bool       // F-NOFAIL: no failure alone
	forget bool       // F-MLFFORGET: the connection ends
	gained bool       // F-MLFGAINED: a login succeeded
}

// sshdHelper is a regex of fail2ban's sshd.conf that the line-alone filter leaves out (see
// sshdConf), tried on the content in fail2ban's order. host and user are submatch numbers (0:
// none).
type sshdHelper struct {
	re                     *regexp.Regexp
	leads                  [][]byte // content starts with one of these, or re cannot match
	host                   int
	users                  []int // the first that took part names the user
	nofail, forget, gained bool
}

// sshdMemoryRules are the helpers of one mode.
type sshdMemoryRules struct {
	helpers []sshdHelper
}

const (
	memHost   = `(` + ip4RE + `|` + ip6RE + `)`
	memSuff   = `(?: port \d+)?(?: \[preauth\])?\s*$` // sshd's own tail after a trailing address
	memAlg    = `(?:\w+ ){0,2}\w+`
	memAuthng = `(?: (?:invalid|authenticating) user \S+)?`
)

// newSSHDMemory returns the helpers for mode and publickey (see sshdConf). The addresses
// are anchored so that sshd's own text follows them: the user names here are \S+ or come
// after the address, so a client's name cannot stand where the address is read.
func newSSHDMemory(mode, publickey string) *sshdMemoryRules {
	ddos := mode == "ddos" || mode == "aggressive"
	extra := mode == "extra" || mode == "aggressive"
	var h []sshdHelper
	add := func(re string, host, user int, nofail, forget, gained bool) {
		users := []int{user}
		if user == 0 {
			users = nil
		}
		var leads [][]byte
		if l := anchoredLiteral(re); l != nil {
			leads = [][]byte{l}
		} else if strings.HasPrefix(re, `^(?:Connection (?:closed|reset)|Disconnected) `) {
			leads = [][]byte{[]byte("Connection "), []byte("Disconnected ")}
		} else {
			panic("sshd memory helper without a leading literal: " + re)
		}
		h = append(h, sshdHelper{regexp.MustCompile(re), leads, host, users, nofail, forget, gained})
	}
	// cmnfailre, in order.
	if publickey == "nofail" {
		add(`^Failed publickey for (\S+) from `+memHost+`(?: port \d+)?(?: ssh\d*)?: `, 2, 1, true, false, false)
	}
	add(`^pam_unix\(sshd:auth\):\s+authentication failure;(?:\s+(?:(?:logname|e?uid|tty)=\S*)){0,4}\s+ruser=(\S*)\s+rhost=`+memHost+`(?:\s+user=(\S*))?\s*$`, 2, 1, true, false, false)
	h[len(h)-1].users = []int{3, 1} // user= when given, else ruser= (fail2ban's F-ALT_USER)
	add(`^User (\S+) not allowed because account is locked`, 0, 1, false, false, false)
	add(`^Disconnecting: Too many authentication failures(?: for (\S+))?(?: \[preauth\])?\s*$`, 0, 1, false, false, false)
	add(`^Received disconnect from `+memHost+`(?: port \d+)?:\s*11:`, 1, 0, true, true, false)
	switch {
	case ddos:
		add(`^(?:Connection (?:closed|reset)|Disconnected) (?:by|from)`+memAuthng+` `+memHost+`(?: port \d+)?\s*$`, 1, 0, true, true, false)
	case !extra:
		add(`^(?:Connection (?:closed|reset)|Disconnected) (?:by|from)`+memAuthng+` `+memHost+memSuff, 1, 0, true, true, false)
	}
	add(`^Accepted \w+ for (\S+) from `+memHost+`(?:\s|$)`, 2, 1, true, true, true)
	if ddos {
		add(`^kex_exchange_identification: (?:read: )?(?:[Cc]lient sent invalid protocol identifier|[Cc]onnection (?:closed by remote host|reset by peer))`, 0, 0, false, false, false)
		add(`^SSH: Server;Ltype: (?:Authname|Version|Kex);Remote: `+memHost+`-\d+;[A-Z]\w+:`, 1, 0, true, false, false)
		add(`^Read from socket failed: Connection reset by peer`, 0, 0, false, true, false)
	}
	if extra {
		add(`^Unable to negotiate a `+memAlg, 0, 0, false, false, false)
		add(`^no matching `+memAlg+` found:`, 0, 0, false, false, false)
	}
	add(`^Connection from `+memHost+` port \d+`, 1, 0, true, false, false)
	return &sshdMemoryRules{helpers: h}
}

// classify reads what content tells about its connection. matched and host are the line-alone
// result: such a line is a failure of host (and ends the connection when sshd says so).
func (r *sshdMemoryRules) classify(content []byte, matched bool, host netip.Addr) (sshdEvent, bool) {
	if matched {
		forget := false
		for _, p := range [][]byte{[]byte("Received disconnect"), []byte("Disconnecting"), []byte("Connection closed"), []byte("Connection reset"), []byte("Disconnected")} {
			forget = forget || bytes.HasPrefix(content, p)
		}
		return sshdEvent{host: host, forget: forget}, true
	}
	for _, h := range r.helpers {
		if !slices.ContainsFunc(h.leads, func(l []byte) bool { return bytes.HasPrefix(content, l) }) {
			continue
		}
		m := h.re.FindSubmatchIndex(content)
		if m == nil {
			continue
		}
		ev := sshdEvent{nofail: h.nofail, forget: h.forget, gained: h.gained}
		if h.host > 0 {
			a, ok := parseHost(content[m[2*h.host]:m[2*h.host+1]])
			if !ok {
				return sshdEvent{}, false
			}
			ev.host = a
		}
		for _, g := range h.users {
			if m[2*g] >= 0 && m[2*g] < m[2*g+1] {
				ev.user = string(content[m[2*g]:m[2*g+1]])
				break
			}
		}
		return ev, true
	}
	return sshdEvent{}, false
}

// connState is fail2ban's cached failure of one connection (mlfidCache).
type connState struct {
	host    netip.Addr
	users   []string // at most maxUsers
	pending bool     // a failure without an address waits for one
	nofail  bool     // the last line was no failure
	seq     uint64
}

const maxUsers = 8

type connMemory struct {
	rules *sshdMemoryRules
	conns map[string]*connState
	order []connKey // insertion order, for dropping the oldest
	seq   uint64
	max   int
}

type connKey struct {
	key string
	seq uint64
}

// merge applies ev to the connection key as fail2ban's Filter._mergeFailure and findFailure
// do, and reports whether the line is a failure, and of which address.
func (m *connMemory) merge(key []byte, ev sshdEvent) (netip.Addr, bool) {
	nofail := ev.nofail || ev.gained
	c := m.conns[string(key)]
	switch {
	case c != nil:
		addUser(c, ev.user)
		c.nofail = nofail
		if ev.host.IsValid() {
			c.host = ev.host
		}
		if ev.forget {
			delete(m.conns, string(key))
		}
	case ev.forget:
		c = &connState{host: ev.host, nofail: nofail}
		addUser(c, ev.user)
	default:
		c = &connState{host: ev.host, nofail: nofail}
		addUser(c, ev.user)
		m.insert(string(key), c)
	}
	if c.pending || len(c.users) > 1 {
		c.pending = false
		c.nofail = false
	}
	if c.nofail {
		return netip.Addr{}, false
	}
	if !c.host.IsValid() {
		c.pending = true
		return netip.Addr{}, false
	}
	return c.host, true
}

func addUser(c *connState, u string) {
	if u == "" || len(c.users) >= maxUsers {
		return
	}
	for _, v := range c.users {
		if v == u {
			return
		}
	}
	c.users = append(c.users, u)
}

// insert adds a connection, dropping the oldest when the memory is full.
func (m *connMemory) insert(key string, c *connState) {
	for len(m.conns) >= m.max && len(m.order) > 0 {
		old := m.order[0]
		m.order = m.order[1:]
		if o := m.conns[old.key]; o != nil && o.seq == old.seq {
			delete(m.conns, old.key)
		}
	}
	if len(m.order) >= 2*m.max { // forgotten connections left in order
		live := m.order[:0]
		for _, k := range m.order {
			if o := m.conns[k.key]; o != nil && o.seq == k.seq {
				live = append(live, k)
			}
		}
		m.order = append([]connKey(nil), live...)
	}
	m.seq++
	c.seq = m.seq
	m.conns[key] = c
	m.order = append(m.order, connKey{key, c.seq})
}

// MatchHost is Filter.MatchHost with the memory described at Session.
func (s *Session) MatchHost(line []byte) (MatchResult, string, int) {
	if s.mem == nil {
		return s.f.MatchHost(line)
	}
	res, a, p := s.Match(line)
	if !a.IsValid() {
		return res, "", p
	}
	return res, a.String(), p
}
