package main

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/fail2ban-scan/fail2ban-scan/internal/netnstest"
)

// returner is an attacker who fails every `every` seconds until it is banned, and comes back
// `pause` seconds after each ban ends (pauses[i] after its i-th ban, the last one repeating),
// to the next jail of its targets.
type returner struct {
	ip      string
	every   int64
	pauses  []int64
	targets []string // jail names, taken in turn after each ban
	ti      int      // the current target
	next    int64    // time of its next failure; 0: stopped (banned for ever)
	bans    int      // bans seen so far
	seen    [2]int64 // the last ban seen (start, end)
}

// TestReplayEscalation replays attackers who return after each ban to two jails with repeat
// offender rules, runs scan after every simulated minute, and checks status and the live
// chains against the model; the bans it decides are then checked against values worked out
// by hand:
//
//   - sasl: bantime 20m, factor 2, permanent_after 3, forget_after 2h
//   - sub: bantime 10m, multipliers [1, 3, 5], maxtime 35m, overalljails, forget_after 90m
func TestReplayEscalation(t *testing.T) {
	netnstest.Isolate(t)
	dir := t.TempDir()
	logs := map[string]string{"sasl": filepath.Join(dir, "mail.log"), "sub": filepath.Join(dir, "sub.log")}
	cfgPath := filepath.Join(dir, "config.yaml")
	write(t, cfgPath, fmt.Sprintf(`state: %s
defaults:
  filter: postfix-sasl
  maxretry: 3
  findtime: 10m
jails:
  sasl:
    logpath: [%s]
    bantime: 20m
    bantime_increment: {enabled: true, factor: 2}
    permanent_after: 3
    forget_after: 2h
  sub:
    logpath: [%s]
    bantime: 10m
    bantime_increment:
      enabled: true
      multipliers: [1, 3, 5]
      maxtime: 35m
      overalljails: true
    forget_after: 90m
`, filepath.Join(dir, "state.json"), logs["sasl"], logs["sub"]))
	sasl := newModel(3, 600, 1200)
	sasl.esc = modelEsc{increment: true, factor: 2, maxtime: 7 * 86400, permanentAfter: 3, forgetAfter: 7200}
	sub := newModel(3, 600, 600)
	sub.esc = modelEsc{increment: true, multipliers: []float64{1, 3, 5}, maxtime: 2100, overall: true, forgetAfter: 5400}
	sub.peers = []*model{sasl}
	models := map[string]*model{"sasl": sasl, "sub": sub}
	writers := map[string]*logWriter{"sasl": {t: t, dir: dir, path: logs["sasl"]}, "sub": {t: t, dir: dir, path: logs["sub"]}}

	start := time.Date(2026, 8, 15, 21, 0, 0, 0, time.UTC).Unix()
	attackers := []*returner{
		{ip: "192.0.2.7", every: 60, pauses: []int64{120}, targets: []string{"sasl"}},
		{ip: "198.51.100.23", every: 60, pauses: []int64{130 * 60, 120}, targets: []string{"sasl"}},
		{ip: "2001:db8:7::5", every: 45, pauses: []int64{60}, targets: []string{"sub"}},
		{ip: "203.0.113.77", every: 50, pauses: []int64{60}, targets: []string{"sasl", "sub"}},
	}
	for i, a := range attackers {
		a.next = start + int64(i*7)
	}
	const minutes = 240
	// Unbanned, and back 30 s later: 192.0.2.7 (banned for ever at its 3rd ban, history
	// forgotten since), and 203.0.113.77 (banned for ever too, history still remembered).
	unbans := map[int]*returner{220: attackers[0], 230: attackers[3]}
	for minute := 0; minute < minutes; minute++ {
		from := start + int64(minute)*60
		now := from + 60
		lines := map[string][]string{}
		events := map[string][]event{}
		for s := from; s < now; s++ {
			for _, a := range attackers {
				if a.next != s {
					continue
				}
				jail := a.targets[a.ti]
				lines[jail] = append(lines[jail], syslogLine(time.Unix(s, 0), fmt.Sprintf("postfix/smtpd[%d]: warning: unknown[%s]: SASL LOGIN authentication failed: UGFzc3dvcmQ6", 900+minute, a.ip)))
				events[jail] = append(events[jail], event{a.ip, s})
				a.next += a.every
			}
		}
		if minute%30 == 15 {
			writers["sasl"].rotate("delaycompress", time.Unix(from, 0))
		}
		for _, jail := range []string{"sasl", "sub"} {
			writers[jail].write(lines[jail])
		}
		code, _, stderr := runCLI(t, "--config", cfgPath, "--now", fmt.Sprint(now), "--log-level", "notice", "scan")
		if code != 0 {
			t.Fatalf("minute %d: scan exit %d\n%s", minute, code, stderr)
		}
		sasl.run(events["sasl"], now) // in the config's order, as the scan runs them
		sub.run(events["sub"], now)
		if a := unbans[minute]; a != nil {
			if code, _, stderr := runCLI(t, "--config", cfgPath, "--now", fmt.Sprint(now), "unban", a.ip); code != 0 {
				t.Fatalf("minute %d: unban exit %d\n%s", minute, code, stderr)
			}
			sasl.unban(a.ip, now)
			sub.unban(a.ip, now)
			a.next = now + 30
		}
		checkJails(t, minute, cfgPath, now, models)
		checkChain(t, minute, "f2b-sasl", sasl.bannedIPs())
		checkChain(t, minute, "f2b-sub", sub.bannedIPs())
		// The attackers see their bans and come back after them.
		for _, a := range attackers {
			b, ok := models[a.targets[a.ti]].bans[a.ip]
			if !ok || b == a.seen {
				continue
			}
			a.seen = b
			a.bans++
			if b[1] < 0 {
				a.next = 0 // until an unban
				continue
			}
			a.next = b[1] + a.pauses[min(a.bans, len(a.pauses))-1]
			a.ti = (a.ti + 1) % len(a.targets)
		}
	}

	// The bans the model decided, against values worked out by hand: length in seconds
	// (-1 permanent) and n.
	type ban struct{ length, n int64 }
	lengths := func(m *model, ip string) []ban {
		var out []ban
		for _, b := range m.banLogs[ip] {
			out = append(out, ban{b[1], b[2]})
		}
		return out
	}
	for _, tt := range []struct {
		what string
		m    *model
		ip   string
		want []ban
	}{
		// The returning attacker: 20m, 40m, then permanent; permanent through
		// forget_after (its last ban, at about minute 75, is forgotten at about minute 195)
		// until the unban at minute 220, which also forgets its history: 20m again.
		{"returning attacker", sasl, "192.0.2.7", []ban{{1200, 1}, {2400, 2}, {-1, 3}, {1200, 1}}},
		// Away for 130 minutes after its first ban (at 2 min; then 154 min > 2 min +
		// forget_after 2h): forgotten, the 1st ban again, then the 2nd and the permanent 3rd.
		{"forget_after forgets", sasl, "198.51.100.23", []ban{{1200, 1}, {1200, 1}, {2400, 2}, {-1, 3}}},
		// 10m × 1, × 3, × 5 = 50m capped at 35m, then the last multiplier again, capped: a
		// ban every 37.5 minutes from 1m44s on, 8 in 240 minutes.
		{"multipliers and maxtime", sub, "2001:db8:7::5", []ban{{600, 1}, {1800, 2}, {2100, 3}, {2100, 4}, {2100, 5}, {2100, 6}, {2100, 7}, {2100, 8}}},
		// Alternating jails: sasl counts only its own bans (20m, 40m, permanent); sub counts
		// sasl's too: its 1st is the IP's 2nd (10m × 3), its 2nd the 4th (10m × 5 capped).
		// The unban at minute 230 forgets its history (remembered until minute 258): the
		// 1st ban again.
		{"overalljails, sasl", sasl, "203.0.113.77", []ban{{1200, 1}, {2400, 2}, {-1, 3}, {1200, 1}}},
		{"overalljails, sub", sub, "203.0.113.77", []ban{{1800, 2}, {2100, 4}}},
	} {
		if got := lengths(tt.m, tt.ip); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: bans of %s (length, n) = %v, want %v", tt.what, tt.ip, got, tt.want)
		}
	}
}
