#!/usr/bin/env bash
# bench/nft.sh: a first `scan` that bans N addresses (100,000 by default) with banaction
# nftables, log reading included, against the raw `nft -f` of the same addresses into a
# table of its own, timed in the same run and namespace; then a rescan with nothing new, and
# the scan's peak memory (GNU time's maximum resident set size). Everything runs inside
# unshare -n: the host's firewall is never touched. Needs root, nftables, GNU time.
#   N=100000 bench/nft.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH" TZ=UTC
N=${N:-100000}
out=bench/out
mkdir -p "$out"
log="$out/mail-nft-$N.log"
[ -s "$log" ] || go run ./bench/genlog -lines $((N * 6)) -fail 1 -attackers "$N" > "$log"
go build -o "$out/fail2ban-scan" .
cat "$log" > /dev/null
if [ "${1:-}" != inner ]; then
	exec unshare -n -- "$0" inner
fi
rm -f "$out/nft-state.json"
cat > "$out/nft.yaml" <<YAML
state: $out/nft-state.json
defaults:
  banaction: nftables
jails:
  postfix-sasl:
    filter: postfix[mode=auth]
    logpath: [$log]
    maxretry: 1
    findtime: 1d
    bantime: 1d
    max_new_bans_per_run: 0
YAML
now=$(( $(date -u -d "2026-08-15 00:00:00" +%s) + N * 6 / 10 + 60 ))
secs() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
scan() { /usr/bin/time -f %M -o "$out/nft-rss" "$out/fail2ban-scan" --config "$out/nft.yaml" --now "$now" --log-level warning scan > /dev/null; }
t_scan=$(secs scan)
rss=$(cat "$out/nft-rss")
elems=$(nft list set inet fail2ban-scan f2b-postfix-sasl-v4 | tr ',' '\n' | grep -c '[0-9]\.[0-9]')
t_rescan=$(secs scan)
rss2=$(cat "$out/nft-rss")
{
	echo "add table inet raw"
	# the declaration of the scan's set: "flags interval" only when it holds a prefix
	echo "add set inet raw s { $(nft list set inet fail2ban-scan f2b-postfix-sasl-v4 | sed -n 's/^[[:space:]]*\(type .*\|flags .*\)$/\1;/p' | tr '\n' ' ')}"
	printf 'add element inet raw s { '
	nft list set inet fail2ban-scan f2b-postfix-sasl-v4 | sed -n '/elements = {/,/}/p' | sed 's/elements = {//; s/}//' | tr -d ' \t\n'
	echo ' }'
} > "$out/raw.nft"
t_raw=$(secs nft -f "$out/raw.nft")
printf 'bans (set elements):        %d\n' "$elems"
printf 'first scan:                 %.3f s (peak RSS %d KB)\n' "$t_scan" "$rss"
printf 'raw nft -f, same addresses: %.3f s\n' "$t_raw"
printf 'ratio scan / raw:           %.2f\n' "$(echo "$t_scan / $t_raw" | bc -l)"
printf 'rescan, nothing new:        %.3f s (peak RSS %d KB)\n' "$t_rescan" "$rss2"
uptime
