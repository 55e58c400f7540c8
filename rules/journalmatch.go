package rules

// DefaultJournalMatch returns the journalmatch of a jail that does not set one: postfix as
// one unit (postfix.service) and as instances (postfix@-.service, Debian 12's unit when postfix
// logs only to the journal, and any postfix@NAME.service of a multi-instance setup). fail2ban
// 1.1.0's filter.d/postfix.conf has "_SYSTEMD_UNIT=postfix.service _SYSTEMD_UNIT=postfix@-.service"
// (gh-3692); the glob also covers the other instances.
func DefaultJournalMatch() []string {
	return []string{"_SYSTEMD_UNIT=postfix.service", "_SYSTEMD_UNIT=postfix@*.service"}
}
