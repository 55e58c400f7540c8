package rules

import (
	"testing"
	"time"
)

// TestParseTimeWebStamps: the stamps of nginx's error log, roundcube's own log and TAI64N
// (dovecot through multilog). Expected values worked out by hand.
func TestParseTimeWebStamps(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 8, 15, 22, 40, 0, 0, berlin)
	tests := []struct {
		name, line string
		want       time.Time
		wantLen    int // of the stamp, as Match cuts it
		wantErr    bool
	}{
		{"nginx", `2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found`, time.Date(2012, 4, 9, 11, 53, 29, 0, berlin), 19, false},
		{"nginx mixed separators", "2012/04-09 11:53:29 [error]", time.Time{}, 0, true},
		{"nginx month 13", "2012/13/09 11:53:29 [error]", time.Time{}, 0, true},
		{"roundcube with zone", "[22-Jan-2013 22:28:21 +0200]: FAILED login", time.Date(2013, 1, 22, 20, 28, 21, 0, time.UTC), 28, false},
		{"roundcube west", "[30-Dec-2014 13:02:34 -0500]: IMAP Error", time.Date(2014, 12, 30, 18, 2, 34, 0, time.UTC), 28, false},
		{"roundcube without zone", "[17-Jan-2016 11:09:06]: x", time.Date(2016, 1, 17, 11, 9, 6, 0, berlin), 22, false},
		{"roundcube no bracket", "[17-Jan-2016 11:09:06 +0200: x", time.Time{}, 0, true},
		{"roundcube bad month", "[17-Foo-2016 11:09:06 +0200]: x", time.Time{}, 0, true},
		{"roundcube Feb 30", "[30-Feb-2016 11:09:06]: x", time.Time{}, 0, true},
		{"empty brackets", "[]: x", time.Time{}, 0, true},
		// 0x4c91b044 = 1284616260 = 2010-09-16 05:51:00 UTC; 0x077a9e94 = 125476500 ns.
		{"tai64n", "@400000004c91b044077a9e94 imap-login: Info: x", time.Unix(1284616260, 125476500), 25, false},
		{"tai64n upper case", "@400000004C91B044077A9E94", time.Unix(1284616260, 125476500), 25, false},
		{"tai64n short", "@400000004c91b044077a9e9 x", time.Time{}, 0, true},
		{"tai64n before 1970", "@3fffffffffffffff00000000 x", time.Time{}, 0, true},
		{"tai64n nanoseconds too big", "@400000004c91b0443b9aca00 x", time.Time{}, 0, true},
		{"tai64n glued", "@400000004c91b044077a9e94x", time.Time{}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime([]byte(tt.line), now, berlin)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseTime(%q) = %v, want an error", tt.line, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", tt.line, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseTime(%q) = %v, want %v", tt.line, got, tt.want)
			}
			if _, n := scanStamp([]byte(tt.line)); n != tt.wantLen {
				t.Errorf("stamp length %d, want %d", n, tt.wantLen)
			}
		})
	}
}
