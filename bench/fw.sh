#!/bin/sh
# Benchmark of package fw: 10,000 bans applied one iptables process per IP
# (as fail2ban does) versus one fw.Reconcile, and a rerun with nothing new.
# Runs everything in a new network namespace (unshare -n): the host's
# firewall is never touched. Needs root, unshare and iptables.
# Then lifting bans from a chain of 50,000: every ban, and 1 in 50, the old way
# (one -D per ban; on nf_tables that takes half a minute: -cap-all N and
# -cap-spread N time only N of the -D, a lower bound) against one Reconcile.
#   bench/fw.sh [-n 10000] [-iptables iptables-legacy] [-lift 50000] [-cap-all N] [-cap-spread N]
set -eu
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/fwbench" ./bench/fwbench
# fwbench refuses to run unless its namespace differs from this one and is fresh.
FAIL2BAN_SCAN_OUTER_NETNS=$(readlink /proc/self/ns/net) unshare -n -- "$bin/fwbench" "$@"
