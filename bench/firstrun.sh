#!/usr/bin/env bash
# bench/firstrun.sh: a first `scan` over a big postfix log: LINES lines (default 1,000,000) of
# which FAIL (default 0.5) are SASL failures from ATTACKERS distinct addresses (default
# 100,000; go run ./bench/genlog), no state yet, the jail of bench/state.sh (maxretry 20,
# findtime 1d: every failure is kept, no address is banned). Times the run, log reading, state
# building and the state's first save included (the firewall inside `unshare -n` when root),
# with /usr/bin/time -v: wall time, CPU time, peak RSS, and the size of the state written.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH" TZ=UTC
LINES=${LINES:-1000000}
FAIL=${FAIL:-0.5}
ATTACKERS=${ATTACKERS:-100000}
BIN=${BIN:-}
out=bench/out/firstrun
mkdir -p "$out"
if [ -z "$BIN" ]; then go build -o "$out/fail2ban-scan" . && BIN=$out/fail2ban-scan; fi
log="$out/mail-$LINES-$FAIL-$ATTACKERS.log"
[ -s "$log" ] || go run ./bench/genlog -lines "$LINES" -fail "$FAIL" -attackers "$ATTACKERS" > "$log"
st="$out/state.json"
rm -f "$st"
cat > "$out/scan.yaml" <<YAML
state: $st
jails:
  postfix-sasl:
    filter: postfix[mode=auth]
    logpath: [$log]
    maxretry: 20
    findtime: 1d
    bantime: 1d
YAML
wrap=()
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then wrap=(unshare -n); fi
now=$(( $(date -u -d "2026-08-15 00:00:00" +%s) + LINES / 10 + 60 ))
cat "$log" > /dev/null # page cache
/usr/bin/time -v "${wrap[@]}" "$BIN" --config "$out/scan.yaml" --now "$now" --log-level warning scan \
  > "$out/run.out" 2> "$out/time.out" || { cat "$out/run.out" "$out/time.out"; exit 1; }
wall=$(grep "Elapsed (wall clock)" "$out/time.out" | awk '{print $NF}' | awk -F: '{print $(NF-1)*60+$NF}')
cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$out/time.out")
rss=$(grep "Maximum resident set size" "$out/time.out" | awk '{print $NF}')
printf '%-9s %-10s %9s %9s %9s %9s\n' lines attackers "state MB" "time s" "cpu s" "peak MB"
printf '%-9s %-10s %9.2f %9.3f %9.3f %9.1f\n' "$LINES" "$ATTACKERS" "$(echo "$(stat -c %s "$st")/1000000" | bc -l)" \
  "$wall" "$cpu" "$(echo "$rss/1024" | bc -l)"
