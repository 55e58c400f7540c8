#!/usr/bin/env bash
# bench/sets.sh: a banaction at scale (ACTION=ipset, the default, nftables or iptables), inside
# unshare -n (the host's sets and tables are never touched). Needs root, unshare, iptables and
# ipset (and nftables for ACTION=nftables).
#   1. the floor: a raw `ipset restore` of N addresses into a fresh set, with ACTION=nftables a
#      raw `nft -f` of them into a fresh table (one set, declared as the scan declares its own:
#      with a size),
#      or with ACTION=iptables one `iptables -I` process per address (fail2ban's way);
#   2. a first `fail2ban-scan scan` with that banaction over a log with one SASL failure from
#      each of N addresses (maxretry 1): log reading, N bans, state save, the firewall;
#   3. a rescan with nothing new;
# each under /usr/bin/time (peak RSS), and the ratio of the scan to the first. N=100000 by
# default; GOMEMLIMIT passes through (without it the binary sets 48MiB; off turns that off).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH" TZ=UTC
N=${N:-100000}
ACTION=${ACTION:-ipset}
out=bench/out/sets
mkdir -p "$out"
go build -o "$out/fail2ban-scan" .
log="$out/mail-$N.log"
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "Aug 15 00:00:%02d mx1 postfix/smtpd[1234]: warning: unknown[10.%d.%d.%d]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n", i % 60, int(i / 65536) % 256, int(i / 256) % 256, i % 256 }' > "$log"
awk -v n="$N" 'BEGIN { print "create raw hash:ip family inet hashsize 131072 maxelem 262144"; for (i = 0; i < n; i++) printf "add raw 10.%d.%d.%d\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256 }' > "$out/raw.ipset"
# Declared as the scan declares its set: with a size of twice its addresses from 10,000 on.
awk -v n="$N" 'BEGIN { print "add table inet raw"; printf "add set inet raw s { type ipv4_addr; %s}\n", (n >= 10000 ? "size " 2 * n "; " : ""); printf "add element inet raw s { "; for (i = 0; i < n; i++) printf "%s10.%d.%d.%d", (i ? ", " : ""), int(i / 65536) % 256, int(i / 256) % 256, i % 256; print " }" }' > "$out/raw.nft"
cat > "$out/scan.yaml" <<YAML
state: $PWD/$out/state.json
defaults:
  max_new_bans_per_run: 0
jails:
  postfix-sasl:
    filter: postfix[mode=auth]
    logpath: [$PWD/$log]
    maxretry: 1
    findtime: 1h
    bantime: 1d
    banaction: $ACTION
YAML
now=$(date -u -d "2026-08-15 00:05:00" +%s)
cat "$log" > /dev/null
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "10.%d.%d.%d\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256 }' > "$out/addrs"
cat > "$out/run.sh" <<SH
set -eu
t() { /usr/bin/time -f "%e s, %M KB peak RSS" "\$@" 2>&1 >$out/last.out | tail -1; }
secs() { echo "\$1" | cut -d' ' -f1; }
rm -f $out/state.json $out/state.json.nft
if [ "$ACTION" = nftables ]; then
	raw=\$(t nft -f $out/raw.nft)
	echo "raw nft -f of $N addresses:        \$raw"
	nft delete table inet raw
elif [ "$ACTION" = iptables ]; then
	# The baseline: one iptables process per ban, as fail2ban's iptables actions run.
	iptables -w -N base
	raw=\$(t sh -c 'while read -r ip; do iptables -w -I base 1 -s "\$ip" -j REJECT --reject-with icmp-port-unreachable; done < $out/addrs')
	echo "one iptables -I per address, $N:      \$raw"
	iptables -w -F base; iptables -w -X base
else
	raw=\$(t ipset restore -f $out/raw.ipset)
	echo "raw ipset restore of $N addresses:   \$raw"
	ipset destroy raw
fi
first=\$(t $out/fail2ban-scan --config $out/scan.yaml --now $now --log-level notice scan)
echo "scan, $N new bans ($ACTION):      \$first"
echo "rescan, nothing new:                  \$(t $out/fail2ban-scan --config $out/scan.yaml --now $((now + 60)) --log-level notice scan)"
if [ "$ACTION" = iptables ]; then
	echo "scan is faster than the baseline by:   \$(echo "\$(secs "\$raw") / \$(secs "\$first")" | bc -l | cut -c1-5)x (goal >= 50x)"
else
	echo "ratio scan / raw restore:             \$(echo "\$(secs "\$first") / \$(secs "\$raw")" | bc -l | cut -c1-5) (goal <= 2)"
fi
if [ "$ACTION" = ipset ]; then echo "members in f2b-postfix-sasl: \$(ipset list -t f2b-postfix-sasl | sed -n 's/Number of entries: //p')"; fi
if [ "$ACTION" = nftables ]; then echo "elements in f2b-postfix-sasl-v4: \$(nft list set inet fail2ban-scan f2b-postfix-sasl-v4 | tr ',' '\n' | grep -c '[0-9]\.[0-9]') (\$(nft list set inet fail2ban-scan f2b-postfix-sasl-v4 | grep -c 'flags interval') interval flags, as raw)"; fi
if [ "$ACTION" = iptables ]; then echo "rules in f2b-postfix-sasl: \$(iptables -S f2b-postfix-sasl | wc -l)"; fi
SH
unshare -n bash "$out/run.sh"
