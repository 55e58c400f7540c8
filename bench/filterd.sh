#!/usr/bin/env bash
# bench/filterd.sh: a filter read from fail2ban's filter.d against the equivalent built-in, on
# the benchmark log: `regex LOG FILTER` for postfix[mode=auth] and for
# fail2ban:/etc/fail2ban/filter.d/postfix.conf[mode=auth]. Prints both times (best of RUNS)
# and the ratio (goal <= 3x). Needs fail2ban's filter files (apt-get install fail2ban).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH" TZ=UTC
LINES=${LINES:-1000000}
RUNS=${RUNS:-3}
out=bench/out
mkdir -p "$out"
log="$out/mail-$LINES.log"
[ -s "$log" ] || go run ./bench/genlog -lines "$LINES" > "$log"
go build -o "$out/fail2ban-scan" .
cat "$log" > /dev/null

best() { # best wall time in seconds of RUNS runs of "$@"
  local b=999999 s e t
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N); "$@" > "$out/last.out" 2>&1; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l); (( $(echo "$t < $b" | bc -l) )) && b=$t
  done
  printf '%.3f' "$b"
}
builtin=$(best "$out/fail2ban-scan" regex --json "$log" 'postfix[mode=auth]')
bm=$(grep -m1 '"matched"' "$out/last.out")
filterd=$(best "$out/fail2ban-scan" regex --json "$log" 'fail2ban:/etc/fail2ban/filter.d/postfix.conf[mode=auth]')
fm=$(grep -m1 '"matched"' "$out/last.out")
echo "log: $(wc -l < "$log") lines"
echo "built-in postfix[mode=auth]:          $builtin s  ($bm)"
echo "fail2ban:.../postfix.conf[mode=auth]:  $filterd s  ($fm)"
echo "filter.d / built-in: $(echo "$filterd / $builtin" | bc -l | xargs printf '%.2f')x  (goal <= 3x)"
