package rules

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tokyo := time.FixedZone("", 9*3600)
	at := func(s string) time.Time { // a local time in Berlin
		v, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	now := at("2026-08-15 22:40:00")
	tests := []struct {
		name    string
		line    string
		now     time.Time
		want    time.Time
		wantErr string
	}{
		{"syslog", "Aug 15 22:34:53 mail postfix/smtpd[1]: x", now, at("2026-08-15 22:34:53"), ""},
		{"syslog padded day", "Mar  7 02:09:33 mail x", now, at("2026-03-07 02:09:33"), ""},
		{"syslog one-digit day", "Mar 7 02:09:33 mail x", now, at("2026-03-07 02:09:33"), ""},
		{"syslog day padded both sides", "Mar  7  02:09:33 mail x", now, at("2026-03-07 02:09:33"), ""},
		{"syslog lower-case month", "aug 15 22:34:53 x", now, at("2026-08-15 22:34:53"), ""},
		{"syslog fraction", "Aug 15 22:34:53.250 x", now, at("2026-08-15 22:34:53.25"), ""},
		{"syslog whole line", "Aug 15 22:34:53", now, at("2026-08-15 22:34:53"), ""},
		{"syslog tab after", "Aug 15 22:34:53\tx", now, at("2026-08-15 22:34:53"), ""},
		{"less than a day ahead is this year", "Aug 16 22:39:59 x", now, at("2026-08-16 22:39:59"), ""},
		{"exactly a day ahead is this year", "Aug 16 22:40:00 x", now, at("2026-08-16 22:40:00"), ""},
		{"more than a day ahead is last year", "Aug 16 22:40:01 x", now, at("2025-08-16 22:40:01"), ""},
		{"December read in January", "Dec 31 23:59:59 x", at("2026-01-01 00:30:00"), at("2025-12-31 23:59:59"), ""},
		{"January read on New Year's Eve (clock ahead)", "Jan  1 00:05:00 x", at("2025-12-31 23:50:00"), at("2026-01-01 00:05:00"), ""},
		{"Feb 29 in a leap year", "Feb 29 12:00:00 x", at("2028-03-01 10:00:00"), at("2028-02-29 12:00:00"), ""},
		{"Feb 29 skips to the last leap year", "Feb 29 12:00:00 x", at("2026-03-01 10:00:00"), at("2024-02-29 12:00:00"), ""},
		{"Feb 29 a day early in a leap year", "Feb 29 12:00:00 x", at("2028-02-28 13:00:00"), at("2028-02-29 12:00:00"), ""},
		{"leap second", "Dec 31 23:59:60 x", at("2026-01-01 10:00:00"), at("2026-01-01 00:00:00"), ""},
		{"rfc3339 offset", "2026-08-15T22:34:53.085+09:00 host x", now, time.Date(2026, 8, 15, 22, 34, 53, 85e6, tokyo), ""},
		{"rfc3339 Z", "2026-08-15T13:34:53Z x", now, time.Date(2026, 8, 15, 13, 34, 53, 0, time.UTC), ""},
		{"rfc3339 negative offset", "2026-08-15T08:34:53-05:00 x", now, time.Date(2026, 8, 15, 8, 34, 53, 0, time.FixedZone("", -5*3600)), ""},
		{"iso compact offset", "2026-08-15T22:34:53+0900 x", now, time.Date(2026, 8, 15, 22, 34, 53, 0, tokyo), ""},
		{"iso hour offset", "2026-08-15T22:34:53+09 x", now, time.Date(2026, 8, 15, 22, 34, 53, 0, tokyo), ""},
		{"iso no zone is local", "2026-08-15T22:34:53 x", now, at("2026-08-15 22:34:53"), ""},
		{"rfc 5424", "<38>1 2019-07-08T17:40:16.954167-04:00 host sshd 57915 - - x", now, time.Date(2019, 7, 8, 17, 40, 16, 954167000, time.FixedZone("", -4*3600)), ""},
		{"rfc 5424 zulu", "<0>1 2026-08-15T22:34:53Z h d - - - x", now, time.Date(2026, 8, 15, 22, 34, 53, 0, time.UTC), ""},
		{"rfc 5424 without a zone", "<38>1 2026-08-15T22:34:53 host sshd 1 - - x", now, time.Time{}, "no timestamp"},
		{"rfc 5424 priority too high", "<192>1 2026-08-15T22:34:53Z host sshd 1 - - x", now, time.Time{}, "no timestamp"},
		{"rfc 5424 nil stamp", "<38>1 - host sshd 1 - - x", now, time.Time{}, "no timestamp"},
		{"iso space", "2026-08-15 22:34:53,085 fail2ban-scan.filter [950]: INFO", now, at("2026-08-15 22:34:53.085"), ""},
		{"iso nanoseconds and more", "2026-08-15T22:34:53.1234567891Z", now, time.Date(2026, 8, 15, 22, 34, 53, 123456789, time.UTC), ""},
		{"iso taken as written even in the future", "2030-01-01T00:00:00Z x", now, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"iso Feb 29 in a leap year", "2028-02-29T00:00:00Z", now, time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), ""},

		{"empty", "", now, time.Time{}, `no timestamp at start of line ""`},
		{"text", "hello world", now, time.Time{}, `no timestamp at start of line "hello world"`},
		{"long text is cut", strings.Repeat("x", 100), now, time.Time{}, `"` + strings.Repeat("x", 40) + `"...`},
		{"unknown month", "Foo 15 22:34:53 x", now, time.Time{}, "no timestamp"},
		{"day 0", "Aug  0 22:34:53 x", now, time.Time{}, "no timestamp"},
		{"Apr 31", "Apr 31 22:34:53 x", now, time.Time{}, "no timestamp"},
		{"Feb 30", "Feb 30 22:34:53 x", now, time.Time{}, "no timestamp"},
		{"hour 24", "Aug 15 24:00:00 x", now, time.Time{}, "no timestamp"},
		{"minute 60", "Aug 15 23:60:00 x", now, time.Time{}, "no timestamp"},
		{"second 61", "Aug 15 23:59:61 x", now, time.Time{}, "no timestamp"},
		{"three-digit day", "Aug 155 22:34:53 x", now, time.Time{}, "no timestamp"},
		{"one-digit hour", "Aug 15 2:34:53 x", now, time.Time{}, "no timestamp"},
		{"glued text", "Aug 15 22:34:53x", now, time.Time{}, "no timestamp"},
		{"truncated", "Aug 15 22:34", now, time.Time{}, "no timestamp"},
		{"iso month 13", "2026-13-01T00:00:00Z", now, time.Time{}, "no timestamp"},
		{"iso Feb 29 in a common year", "2026-02-29T00:00:00Z", now, time.Time{}, `timestamp "2026-02-29T00:00:00Z": day out of range`},
		{"iso Apr 31", "2026-04-31T00:00:00", now, time.Time{}, "day out of range"},
		{"iso glued text", "2026-08-15T22:34:53Zx", now, time.Time{}, "no timestamp"},
		{"iso bad offset", "2026-08-15T22:34:53+25:00 x", now, time.Time{}, "no timestamp"},
		{"iso year 0", "0000-08-15T22:34:53Z", now, time.Time{}, "no timestamp"},
		{"iso 5-digit year", "20260-08-15T22:34:53Z", now, time.Time{}, "no timestamp"},
		{"date only", "2026-08-15 mail", now, time.Time{}, "no timestamp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTime([]byte(tc.line), tc.now, berlin)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseTime(%q) = %v, %v; want error containing %q", tc.line, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", tc.line, err)
			}
			if !got.Equal(tc.want) {
				t.Fatalf("ParseTime(%q) = %v, want %v", tc.line, got, tc.want)
			}
			if _, off := got.Zone(); tc.want.Location() != berlin {
				if _, wantOff := tc.want.Zone(); off != wantOff {
					t.Errorf("zone offset %d, want %d (taken as written)", off, wantOff)
				}
			}
		})
	}
}

// TestParseTimeYearRule checks the year rule over every day of a leap cycle: the result is
// never more than 24 h after now, and a year later would be.
func TestParseTimeYearRule(t *testing.T) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{"Jan  1 00:00:00", "Feb 28 23:59:59", "Feb 29 12:00:00", "Mar  1 00:00:00", "Jun 30 12:00:00", "Dec 31 23:59:59", "Mar  8 02:30:00"}
	for now := time.Date(2027, 1, 1, 0, 0, 0, 0, loc); now.Year() < 2029; now = now.Add(13 * time.Hour) {
		limit := now.Add(24 * time.Hour)
		for _, l := range lines {
			got, err := ParseTime([]byte(l), now, loc)
			if err != nil {
				t.Fatalf("now %v: ParseTime(%q): %v", now, l, err)
			}
			if got.After(limit) {
				t.Fatalf("now %v: ParseTime(%q) = %v, more than 24h ahead", now, l, got)
			}
			if got.Format("Jan _2 15:04:05") != l && l != "Mar  8 02:30:00" { // that one is in a DST gap
				t.Fatalf("now %v: ParseTime(%q) = %v, fields changed", now, l, got)
			}
			for y := got.Year() + 1; y <= now.Year()+1; y++ {
				if next := time.Date(y, got.Month(), got.Day(), got.Hour(), got.Minute(), got.Second(), 0, loc); next.Day() == got.Day() && !next.After(limit) {
					t.Fatalf("now %v: ParseTime(%q) = %v, but %v is also not after now+24h", now, l, got, next)
				}
			}
		}
	}
}

func TestParseTimeNilLocation(t *testing.T) {
	now := time.Date(2026, 8, 15, 12, 0, 0, 0, time.Local)
	got, err := ParseTime([]byte("Aug 15 10:00:00 x"), now, nil)
	if err != nil || !got.Equal(time.Date(2026, 8, 15, 10, 0, 0, 0, time.Local)) {
		t.Fatalf("ParseTime with nil loc = %v, %v; want local time", got, err)
	}
}

func TestScanStampNoAlloc(t *testing.T) {
	lines := [][]byte{[]byte("Aug 15 22:34:53 mail x"), []byte("2026-08-15T22:34:53.085+09:00 x"), []byte("nothing")}
	for _, l := range lines {
		if a := testing.AllocsPerRun(100, func() { scanStamp(l) }); a != 0 {
			t.Errorf("scanStamp(%q) allocates %v times", l, a)
		}
	}
}

func BenchmarkParseTime(b *testing.B) {
	now := time.Date(2026, 8, 15, 12, 0, 0, 0, time.UTC)
	b.Run("syslog", func(b *testing.B) {
		line := []byte("Aug 15 10:00:00 mail postfix/smtpd[1]: x")
		b.ReportAllocs()
		for b.Loop() {
			ParseTime(line, now, time.UTC)
		}
	})
	b.Run("rfc3339", func(b *testing.B) {
		line := []byte("2026-08-15T22:34:53.085+09:00 mail postfix/smtpd[1]: x")
		b.ReportAllocs()
		for b.Loop() {
			ParseTime(line, now, time.UTC)
		}
	})
}
