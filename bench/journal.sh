#!/bin/sh
# Times the journal backend on a journal of about 1,000,000 entries: a run that reads the
# 1,000 entries after a stored cursor against reading the whole journal, to show that a run's
# cost grows with the new entries and not with the journal (journalctl --cursor seeks).
#
# The journal is built once with systemd-journal-remote from export format and cached in
# bench/out/ (gitignored); delete that directory, or change N, to rebuild.
#
#   bench/journal.sh             N=1000000 NEW=1000
#   N=200000 NEW=500 bench/journal.sh
set -eu
cd "$(dirname "$0")/.."

N=${N:-1000000}
NEW=${NEW:-1000}
OUT=bench/out/journal-$N

mkdir -p bench/out
go build -o bench/out/journalbench ./bench/journalbench

if [ ! -f "$OUT/.complete" ]; then
	rm -rf "$OUT"
	bench/out/journalbench build -dir "$OUT" -n "$N"
	touch "$OUT/.complete"
else
	echo "using the cached journal in $OUT"
fi
du -sh "$OUT"
bench/out/journalbench read -dir "$OUT" -new "$NEW"
