#!/usr/bin/env bash
# The last lines of `just test`: how many tests were skipped and why, then each of them.
# Usage: skipped-tests.sh SKIP-LOG   (lines: "<what the test needs>\t<binary>::<test>")
set -euo pipefail
log=$1
n=0
[ -s "$log" ] && n=$(sort -u "$log" | wc -l)
if [ "$n" -eq 0 ]; then
    echo "skipped: 0 tests"
    exit 0
fi
why=$(sort -u "$log" | cut -f1 | sed 's/ (.*//' | sort | uniq -c | awk '{c=$1; $1=""; printf "%s%d need%s%s", sep, c, (c==1?"s":""), $0; sep=", "}')
echo "skipped: $n tests ($why):"
sort -u "$log" | awk -F'\t' '{printf "  %s (needs %s)\n", $2, $1}'
