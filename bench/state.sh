#!/usr/bin/env bash
# bench/state.sh: the minute run at botnet scale. For each size N (SIZES, default 1000 10000
# 100000 1000000) it generates a state of N failing addresses × 10 failure times (and, with
# BANS=1, N active bans on top; go run ./bench/genstate), runs one `scan` over an empty log that
# records the log's position and puts the bans into the firewall (inside `unshare -n` when
# root: a new, empty network namespace), then, in the same namespace, times a second `scan`
# with nothing new ("2nd s": the first after the run that changed the bans, which with nftables
# notes in the table's cache the bans it found there), and a third the same, as the timer runs
# it every minute, with /usr/bin/time -v: wall time, CPU
# time (user + system, of the run and of the iptables processes it starts: less sensitive than
# the wall time to other work on the machine), peak RSS, and the state file's size. BANACTION
# (iptables, ipset, nftables) is the firewall that holds the bans. "first s"
# is the wall time of the first run (it also writes the state and adds every ban to the
# firewall).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH" TZ=UTC
SIZES=${SIZES:-"1000 10000 100000 1000000"}
BANS=${BANS:-0}
BANACTION=${BANACTION:-iptables} # with BANS=1: iptables (one rule per ban), ipset or nftables
BIN=${BIN:-}
out=bench/out/state
mkdir -p "$out"
if [ -z "$BIN" ]; then go build -o "$out/fail2ban-scan" . && BIN=$out/fail2ban-scan; fi
go build -o "$out/genstate" ./bench/genstate
now=1786838400
: > "$out/empty.log"
wrap=()
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then wrap=(unshare -n); fi
printf '%-9s %-6s %9s %9s %9s %9s %9s %9s\n' addrs bans "file MB" "first s" "2nd s" "time s" "cpu s" "peak MB"
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
    banaction: $BANACTION
YAML
  before=$(stat -c %s "$st")
  # shellcheck disable=SC2016
  "${wrap[@]}" bash -c 'start=$(date +%s.%N)
    "$1" --config "$2" --now "$3" --log-level warning scan > "$4/first.out" 2>&1 || { cat "$4/first.out"; exit 1; }
    echo "$(date +%s.%N) - $start" | bc > "$4/first.time"
    start=$(date +%s.%N)
    "$1" --config "$2" --now "$3" --log-level warning scan > "$4/second.out" 2>&1 || { cat "$4/second.out"; exit 1; }
    echo "$(date +%s.%N) - $start" | bc > "$4/second.time"
    /usr/bin/time -v "$1" --config "$2" --now "$3" --log-level warning scan > "$4/run.out" 2> "$4/time.out" ||
      { cat "$4/run.out" "$4/time.out"; exit 1; }' _ "$BIN" "$out/scan.yaml" $((now + 60)) "$out"
  first=$(cat "$out/first.time") second=$(cat "$out/second.time")
  wall=$(grep "Elapsed (wall clock)" "$out/time.out" | awk '{print $NF}' | awk -F: '{print $(NF-1)*60+$NF}')
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$out/time.out")
  rss=$(grep "Maximum resident set size" "$out/time.out" | awk '{print $NF}')
  printf '%-9s %-6s %9.2f %9.3f %9.3f %9.3f %9.3f %9.1f\n' "$n" "$b" "$(echo "$before/1000000" | bc -l)" \
    "$first" "$second" "$wall" "$cpu" "$(echo "$rss/1024" | bc -l)"
done
