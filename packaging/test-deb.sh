#!/usr/bin/env bash
# Builds the .deb, installs it, checks what a user would check, purges it and checks that
# nothing of it is left but the state directory. Needs root, go, git, make, dpkg; logrotate and
# systemd-analyze when installed. For CI and throwaway machines: it refuses to run where
# fail2ban-scan is already installed or configured, rather than purge someone's setup.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-deb: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
if dpkg-query -W fail2ban-scan >/dev/null 2>&1 || [ -e /etc/fail2ban-scan ] || [ -e /var/lib/fail2ban-scan ]; then
	fail "fail2ban-scan is installed or configured here (/etc/fail2ban-scan, /var/lib/fail2ban-scan); not touching it"
fi

(cd packaging && go vet ./... && go test ./...)

start=$(date +%s%N)
deb=$(make -s deb | tail -n 1)
echo "test-deb: make deb: $(( ($(date +%s%N) - start) / 1000000 )) ms, $deb, $(stat -c %s "$deb") bytes"
[ -f "$deb" ] || fail "make deb printed $deb, not a file"

dpkg -i "$deb"
trap 'dpkg --purge fail2ban-scan >/dev/null 2>&1 || true' EXIT

fail2ban-scan --version
# A missing /var/log/mail.log is no config error: check must pass on the shipped config.
fail2ban-scan --config /etc/fail2ban-scan/config.yaml check
cmp /etc/fail2ban-scan/config.yaml /usr/share/doc/fail2ban-scan/examples/config.yaml
systemd-analyze verify /lib/systemd/system/fail2ban-scan.service /lib/systemd/system/fail2ban-scan.timer \
	/lib/systemd/system/fail2ban-scan-report.service /lib/systemd/system/fail2ban-scan-report.timer
if command -v logrotate >/dev/null; then
	# Output captured first: grep -q stops reading at the first match, and under pipefail the
	# writer's SIGPIPE would fail the check now and then.
	rotate=$(logrotate --debug /etc/logrotate.d/fail2ban-scan 2>&1 || true)
	grep -q 'fail2ban-scan.log' <<<"$rotate" ||
		fail "logrotate does not see /var/log/fail2ban-scan/fail2ban-scan.log"
fi
if command -v systemd-tmpfiles >/dev/null; then # the lock file iptables-legacy needs in the sandbox
	root=$(mktemp -d)
	systemd-tmpfiles --create --root="$root" /usr/lib/tmpfiles.d/fail2ban-scan.conf
	[ -f "$root/run/xtables.lock" ] || { rm -rf "$root"; fail "tmpfiles.d/fail2ban-scan.conf does not create /run/xtables.lock"; }
	rm -rf "$root"
fi
man=$(zcat /usr/share/man/man8/fail2ban-scan.8.gz)
grep -q '^\.TH fail2ban-scan 8' <<<"$man" || fail "no man page fail2ban-scan(8)"
bash -c 'source /usr/share/bash-completion/completions/fail2ban-scan && complete -p fail2ban-scan' >/dev/null
[ "$(stat -c %a /var/lib/fail2ban-scan)" = 700 ] || fail "/var/lib/fail2ban-scan is not mode 0700"
conffiles=$(dpkg-query -W -f='${Conffiles}' fail2ban-scan)
for f in /etc/fail2ban-scan/config.yaml /etc/logrotate.d/fail2ban-scan; do
	grep -q " $f " <<<"$conffiles" || fail "$f is not a conffile"
done
if command -v systemctl >/dev/null; then
	for timer in fail2ban-scan.timer fail2ban-scan-report.timer; do
		enabled=$(systemctl is-enabled $timer 2>/dev/null || true)
		[ "$enabled" = disabled ] || fail "$timer is $enabled after installation, want disabled"
	done
fi

# A reinstall keeps the admin's config.
echo "# edited by test-deb" >>/etc/fail2ban-scan/config.yaml
dpkg -i "$deb" >/dev/null
grep -q 'edited by test-deb' /etc/fail2ban-scan/config.yaml || fail "reinstalling replaced the edited config"

# What a few runs leave behind: a state, a log (check already opened it) and its rotations.
echo '{"version": 1, "jails": {}}' >/var/lib/fail2ban-scan/state.json
touch /var/log/fail2ban-scan/fail2ban-scan.log.1

files=$(dpkg -L fail2ban-scan)
dpkg --purge fail2ban-scan
trap - EXIT
left=()
while read -r f; do
	case $f in /var/lib/fail2ban-scan | /var/lib/fail2ban-scan/*) continue ;; esac
	if ! [ -d "$f" ] && { [ -e "$f" ] || [ -L "$f" ]; }; then # /lib is a link to usr/lib
		left+=("$f")
	elif [ -d "$f" ] && [[ $f == *fail2ban-scan* ]]; then
		left+=("$f/")
	fi
done <<<"$files"
for d in /etc/fail2ban-scan /var/log/fail2ban-scan; do
	[ -e "$d" ] && left+=("$d")
done
[ ${#left[@]} = 0 ] || fail "left after purge: ${left[*]}"
[ -f /var/lib/fail2ban-scan/state.json ] || fail "purge removed the state"
rm -rf /var/lib/fail2ban-scan
echo "test-deb: OK"
