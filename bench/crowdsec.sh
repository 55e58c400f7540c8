#!/usr/bin/env bash
# bench/crowdsec.sh: pull and apply of N fleet decisions from a real CrowdSec LAPI, inside
# unshare -n (the LAPI on the namespace's loopback; the host's tables, sets and network are never
# touched). Needs root, unshare, iproute2, iptables and ipset or nftables, and Debian's crowdsec
# package unpacked (FAIL2BAN_SCAN_CROWDSEC_DIR, else ~/.cache/fail2ban-scan/crowdsec, which the
# Go tests fill: FAIL2BAN_SCAN_REQUIRE_CROWDSEC=1 go test ./crowdsec).
#   1. cscli decisions import of N decisions (scenario fail2ban-scan/postfix-sasl@mx2; cscli
#      1.4.6 sets their origin to cscli-import, which the config's origins takes), not timed as ours;
#   2. a first scan: startup pull of the N decisions, state save, one firewall transaction;
#   3. a scan with nothing new: an incremental pull;
#   4. 100 more decisions, then a scan: an incremental pull of the 100;
# each under /usr/bin/time (wall time, peak RSS). N=100000, ACTION=ipset, TIMEOUT=30s (the
# config's crowdsec.timeout) by default.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH" TZ=UTC
N=${N:-100000}
ACTION=${ACTION:-ipset}
CS=${FAIL2BAN_SCAN_CROWDSEC_DIR:-$HOME/.cache/fail2ban-scan/crowdsec}
[ -x "$CS/usr/bin/crowdsec" ] || { echo "no crowdsec in $CS: set FAIL2BAN_SCAN_CROWDSEC_DIR" >&2; exit 1; }
out=$PWD/bench/out/crowdsec
rm -rf "$out" && mkdir -p "$out/lapi/data" "$out/lapi/hub"
go build -o "$out/fail2ban-scan" .
cat > "$out/lapi/config.yaml" <<YAML
common: {daemonize: false, log_media: file, log_dir: $out/lapi/, log_level: warning, working_dir: $out/lapi}
config_paths: {config_dir: $out/lapi/, data_dir: $out/lapi/data/, simulation_path: $out/lapi/simulation.yaml,
  hub_dir: $out/lapi/hub/, index_path: $out/lapi/hub/.index.json, notification_dir: $out/lapi/, plugin_dir: $out/lapi/}
db_config: {log_level: warning, type: sqlite, db_path: $out/lapi/data/crowdsec.db, use_wal: true, flush: {max_items: 500000, max_age: 7d}}
api:
  client: {credentials_path: $out/lapi/local_api_credentials.yaml}
  server: {log_level: warning, listen_uri: 127.0.0.1:8089, profiles_path: $out/lapi/profiles.yaml, trusted_ips: [127.0.0.1]}
prometheus: {enabled: false}
YAML
printf 'name: default\nfilters: ["Alert.Remediation == true"]\ndecisions: [{type: ban, duration: 4h}]\non_success: break\n' > "$out/lapi/profiles.yaml"
echo 'simulation: off' > "$out/lapi/simulation.yaml"
echo 'url: http://127.0.0.1:8089' > "$out/lapi/local_api_credentials.yaml"
gen() { # gen FIRST COUNT: decisions of host mx2 for 10.x.y.z from FIRST
	awk -v f="$1" -v n="$2" 'BEGIN { print "duration,origin,reason,scope,type,value"; for (i = f; i < f + n; i++) printf "24h,fail2ban-scan,fail2ban-scan/postfix-sasl@mx2,ip,ban,10.%d.%d.%d\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256 }'
}
gen 0 "$N" > "$out/decisions.csv"
gen "$N" 100 > "$out/more.csv"
touch "$out/mail.log"
cat > "$out/scan.yaml" <<YAML
state: $out/state.json
fail2ban_socket: ""
crowdsec:
  url: http://127.0.0.1:8089
  machine_id: mx1
  password_file: $out/password
  bouncer_key_file: $out/bouncer
  banaction: $ACTION
  origins: [cscli-import]
  timeout: ${TIMEOUT:-30s}   # a startup pull of 100,000 may need more than the default 5 s
jails:
  postfix-sasl:
    logpath: [$out/mail.log]
YAML
cat > "$out/run.sh" <<SH
set -eu
ip link set lo up
cscli() { "$CS/usr/bin/cscli" -c "$out/lapi/config.yaml" "\$@"; }
"$CS/usr/bin/crowdsec" -c "$out/lapi/config.yaml" -no-cs >"$out/lapi/out" 2>&1 &
lapi=\$!
trap 'kill \$lapi; wait \$lapi || true' EXIT
for i in \$(seq 100); do curl -sf http://127.0.0.1:8089/health >/dev/null && break; sleep 0.1; done
cscli machines add cscli --auto --force -f "$out/lapi/local_api_credentials.yaml" 2>/dev/null
cscli machines add mx1 --password bench-password -f /dev/null 2>/dev/null
echo bench-password > "$out/password"
cscli bouncers add mx1 -o raw > "$out/bouncer"
chmod 600 "$out/password" "$out/bouncer"
s=\$(date +%s.%N); cscli decisions import -i "$out/decisions.csv" >/dev/null 2>&1; e=\$(date +%s.%N)
echo "cscli decisions import of $N:          \$(echo "\$e - \$s" | bc) s (the LAPI's side, not ours)"
t() { /usr/bin/time -f "%e s, %M KB peak RSS" "\$@" 2>&1 >/dev/null | tail -1; }
scan() { "$out/fail2ban-scan" --config "$out/scan.yaml" --log-level info scan 2>"$out/scan.log"; grep -o 'pulled ([a-z]*) in [^:]*' "$out/scan.log" >&2 || true; }
echo "scan, startup pull of $N ($ACTION):  \$(t bash -c "\$(declare -f scan); scan")"
echo "  \$(grep -o 'pulled .*' "$out/scan.log" | head -1)"
echo "scan, incremental pull, nothing new:   \$(t bash -c "\$(declare -f scan); scan")"
cscli decisions import -i "$out/more.csv" >/dev/null 2>&1
echo "scan, incremental pull of 100 more:    \$(t bash -c "\$(declare -f scan); scan")"
echo "  \$(grep -o 'pulled .*' "$out/scan.log" | head -1)"
if [ "$ACTION" = ipset ]; then echo "members in f2b-fleet: \$(ipset list -t f2b-fleet | sed -n 's/Number of entries: //p')"; fi
if [ "$ACTION" = nftables ]; then echo "elements in f2b-fleet-v4: \$(nft list set inet fail2ban-scan f2b-fleet-v4 | grep -o '10\.[0-9.]*' | wc -l)"; fi
echo "state file: \$(stat -c %s "$out/state.json") bytes"
SH
unshare -n bash "$out/run.sh"
