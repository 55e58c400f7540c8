#!/usr/bin/env bash
# bench/minute.sh: the minute runs over a botnet's state: N addresses × 10 failure times and N
# active bans (go run ./bench/genstate; N=100000 by default) held by BANACTION (nftables by
# default, or ipset), inside `unshare -n` (the host's firewall is never touched). Two scans
# bring the state and the firewall up (the first writes the state sealed and fills the set,
# the second notes the bans' sum in the nftables cache); then each case times three scans,
# a minute apart, with /usr/bin/time: wall time, CPU (user + system) and peak RSS.
#   nothing new    the same minute again: no failure, no ban ends
#   bans end       a minute later each time: about N/1440 of the bans end
#   attack         700 failures from 250 new addresses each minute (maxretry 20: no new ban)
#   attack, bans   the same with maxretry 2: about 250 new bans each minute
# GOMEMLIMIT passes through (without it the binary sets 48MiB; off turns that off).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH" TZ=UTC
N=${N:-100000}
BANACTION=${BANACTION:-nftables}
out=bench/out/minute
mkdir -p "$out"
go build -o "$out/fail2ban-scan" .
go build -o "$out/genstate" ./bench/genstate
now=1786838400
"$out/genstate" -addrs "$N" -failures 10 -bans "$N" -now "$now" > "$out/state.orig"
config() { # config MAXRETRY
	cat > "$out/scan.yaml" <<YAML
state: $PWD/$out/state.json
jails:
  postfix-sasl:
    filter: postfix[mode=auth]
    logpath: [$PWD/$out/mail.log]
    maxretry: $1
    findtime: 1d
    bantime: 1d
    banaction: $BANACTION
YAML
}
cat > "$out/run.sh" <<'SH'
set -eu
out=$1 now=$2 case=$3
bin=$out/fail2ban-scan
scan() { "$bin" --config "$out/scan.yaml" --now "$1" --log-level warning scan; }
rm -f "$out"/state.json*
cp "$out/state.orig" "$out/state.json"
: > "$out/mail.log"
scan $((now + 60)) && scan $((now + 60))
for m in 1 2 3; do
	t=$((now + 60))
	[ "$case" = "nothing new" ] || t=$((now + 60 + m * 60))
	case $case in attack*)
		awk -v m="$m" -v t="$t" 'BEGIN { for (i = 0; i < 700; i++) printf "%s mx1 postfix/smtpd[1]: warning: unknown[172.16.%d.%d]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n", strftime("%b %e %H:%M:%S", t - 30, 1), m, i % 250 }' >> "$out/mail.log"
	esac
	/usr/bin/time -f "%e %U %S %M" "$bin" --config "$out/scan.yaml" --now "$t" --log-level warning scan 2>&1 >/dev/null | tail -1 |
		awk -v c="$case" '{ printf "%-14s %8.2f s %8.2f s %8.1f MB\n", c, $1, $2 + $3, $4 / 1024 }'
done
SH
wrap=()
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then wrap=(unshare -n); fi
printf '%-14s %10s %10s %11s\n' "$BANACTION" wall cpu "peak RSS"
for c in "nothing new" "bans end" "attack" "attack, bans"; do
	config 20
	[ "$c" = "attack, bans" ] && config 2
	"${wrap[@]}" bash "$out/run.sh" "$out" "$now" "$c"
done
