package f2bimport

import (
	"database/sql"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure Go: the binary stays static (CGO_ENABLED=0)

	"github.com/fail2ban-scan/fail2ban-scan/rules"
	"github.com/fail2ban-scan/fail2ban-scan/state"
)

// Ban is one active ban of fail2ban's database.
type Ban struct {
	Jail      string // fail2ban's jail name
	IP        string // as fail2ban stored it
	TimeOfBan int64  // unix seconds
	BanTime   int64  // seconds; negative: permanent
	BanCount  int    // fail2ban's count of the IP's bans
}

// End is the unix second the ban ends at, or -1 for a permanent ban.
func (b Ban) End() int64 {
	if b.BanTime < 0 {
		return -1
	}
	return b.TimeOfBan + b.BanTime
}

// ReadBans returns the bans of fail2ban's database at path (fail2ban 0.11 and 1.0: table
// bans(jail, ip, timeofban, bantime, bancount, data)) that are active at now: for each jail and
// IP its latest ban, kept when it is permanent (bantime < 0) or timeofban + bantime > now.
// The database is opened read-only; a running fail2ban may go on using it.
func ReadBans(path string, now int64) ([]Ban, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("fail2ban database: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("fail2ban database %s: not a regular file", path)
	}
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: path,
		RawQuery: "mode=ro&_pragma=busy_timeout(5000)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open fail2ban database %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT jail, ip, timeofban, bantime, bancount FROM bans ORDER BY timeofban`)
	if err != nil {
		return nil, fmt.Errorf("read fail2ban database %s: %w", path, err)
	}
	defer rows.Close()
	latest := map[[2]string]Ban{}
	for rows.Next() {
		var b Ban
		var ip sql.NullString
		if err := rows.Scan(&b.Jail, &ip, &b.TimeOfBan, &b.BanTime, &b.BanCount); err != nil {
			return nil, fmt.Errorf("read fail2ban database %s: %w", path, err)
		}
		b.IP = ip.String
		k := [2]string{b.Jail, b.IP}
		if old, ok := latest[k]; !ok || b.TimeOfBan >= old.TimeOfBan {
			latest[k] = b
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read fail2ban database %s: %w", path, err)
	}
	var out []Ban
	for _, b := range latest {
		if b.BanTime < 0 || b.TimeOfBan+b.BanTime > now {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Jail != out[j].Jail {
			return out[i].Jail < out[j].Jail
		}
		return rules.CompareKeys(out[i].IP, out[j].IP) < 0
	})
	return out, nil
}

// Outcome is what Merge did with one ban.
type Outcome struct {
	Ban
	To     string // our jail ("" when skipped)
	Key    string // the state's key of the address
	Action string // "imported", "already banned", or why it was skipped
}

func (o Outcome) String() string {
	end := "permanent"
	if e := o.End(); e >= 0 {
		end = "until " + unixText(e)
	}
	to := o.To
	if to == "" {
		to = "-"
	}
	return fmt.Sprintf("[%s -> %s] %s: %s (banned %s, %s, ban %d)", o.Jail, to, o.IP, o.Action, unixText(o.TimeOfBan), end, o.BanCount)
}

// Merge adds bans to st under the jails that jails maps fail2ban's names to, keeping each
// ban's start, end and count; a ban of a jail not in jails, or of an address fail2ban-scan
// cannot read, is skipped, and an address already banned in that jail is left as it is.
// Each imported ban counts in the jail's TotalBanned and sets its ban history.
func Merge(st *state.State, bans []Ban, jails map[string]string) []Outcome {
	var out []Outcome
	for _, b := range bans {
		o := Outcome{Ban: b}
		ours, ok := jails[b.Jail]
		if !ok {
			o.Action = "skipped: jail not in the new config"
			out = append(out, o)
			continue
		}
		p, err := parseIP(b.IP)
		if err != nil {
			o.Action = "skipped: " + err.Error()
			out = append(out, o)
			continue
		}
		o.To, o.Key = ours, rules.FormatKey(p)
		js := st.Jail(ours)
		if _, ok := js.Bans[o.Key]; ok {
			o.Action = "already banned"
			out = append(out, o)
			continue
		}
		count := max(b.BanCount, 1)
		js.Bans[o.Key] = state.Ban{Start: b.TimeOfBan, End: b.End(), Count: count}
		js.TotalBanned++
		if h := js.BanHistory[o.Key]; h.Count < count || h.Last < b.TimeOfBan {
			js.BanHistory[o.Key] = state.BanRecord{Count: max(h.Count, count), Last: max(h.Last, b.TimeOfBan)}
		}
		o.Action = "imported"
		out = append(out, o)
	}
	return out
}

// parseIP reads an address or prefix as fail2ban stores it.
func parseIP(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an address or prefix: %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("not an address: %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unixText writes a unix time as the state's users read it, in local time.
func unixText(sec int64) string { return time.Unix(sec, 0).Format("2006-01-02 15:04:05") }
