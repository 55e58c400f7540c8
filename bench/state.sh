#!/usr/bin/env bash
# bench/state.sh: the minute run at botnet scale. For each size N (SIZES, default 1000 10000
# 100000 1000000) it generates a state of N failing addresses × 10 failure times (and, with
# BANS=1, N active bans on top; go run ./bench/genstate), then times a `scan` with nothing new
# (an empty log; the firewall inside `unshare -n` when root) with /usr/bin/time -v: wall time,
# peak RSS, and the state file's size before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH" TZ=UTC
SIZES=${SIZES:-"1000 10000 100000 1000000"}
BANS=${BANS:-0}
BIN=${BIN:-}
out=bench/out/state
mkdir -p "$out"
if [ -z "$BIN" ]; then go build -o "$out/fail2ban-scan" . && BIN=$out/fail2ban-scan; fi
go build -o "$out/genstate" ./bench/genstate
now=1786838400
: > "$out/empty.log"
wrap=()
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then wrap=(unshare -n); fi
printf '%-9s %-6s %9s %9s %9s %9s\n' addrs bans "file MB" "saved MB" "time s" "peak MB"
for n in $SIZES; do
  b=0; [ "$BANS" = 1 ] && b=$n
  st="$out/state-$n-$b.json"
  "$out/genstate" -addrs "$n" -failures 10 -bans "$b" -now "$now" > "$st.orig"
  cp "$st.orig" "$st"
  cat > "$out/scan.yaml" <<YAML
state: $st
jails:
  postfix-sasl:
    filter: postfix[mode=auth]
    logpath: [$out/empty.log]
    maxretry: 20
    findtime: 1d
    bantime: 1d
YAML
  before=$(stat -c %s "$st")
  /usr/bin/time -v "${wrap[@]}" "$BIN" --config "$out/scan.yaml" --now $((now + 60)) --log-level warning scan \
    > "$out/run.out" 2> "$out/time.out" || { cat "$out/run.out" "$out/time.out"; exit 1; }
  after=$(stat -c %s "$st")
  wall=$(grep "Elapsed (wall clock)" "$out/time.out" | awk '{print $NF}' | awk -F: '{print $(NF-1)*60+$NF}')
  rss=$(grep "Maximum resident set size" "$out/time.out" | awk '{print $NF}')
  printf '%-9s %-6s %9.2f %9.2f %9.3f %9.1f\n' "$n" "$b" "$(echo "$before/1000000" | bc -l)" \
    "$(echo "$after/1000000" | bc -l)" "$wall" "$(echo "$rss/1024" | bc -l)"
done
