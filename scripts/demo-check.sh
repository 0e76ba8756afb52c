#!/usr/bin/env bash
# Runs the demo (scripts/demo.sh) as a test: it must exit 0 and leave no network namespace,
# interface or etcd process behind. Part of `just test`; without root it is a recorded skip
# (a failure when CI is set).
# Usage: demo-check.sh BIN-DIR   (holding calicoctl and calico-netns-demo)
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")/.." && pwd)
ci() { case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]' | tr -d ' ')" in ""|0|false|no|off) return 1;; *) return 0;; esac; }
if [ "$(id -u)" -ne 0 ]; then
    if ci; then echo "demo: needs root, and this is a CI run" >&2; exit 1; fi
    echo "demo: skipped: needs root"
    [ -n "${CALICO_SKIP_LOG:-}" ] && printf 'root\tscripts::demo\n' >> "$CALICO_SKIP_LOG"
    exit 0
fi
state() { { ip netns list | awk '{print "netns " $1}'; ip -o link show | awk -F': ' '{print "link " $2}'; pgrep -a etcd | grep calico-demo || true; } | sort; }
before=$(state)
log=$(mktemp /tmp/calico-demo-check.XXXXXX)
status=0
bash "$here/scripts/demo.sh" "$bin/calicoctl" "$bin/calico-netns-demo" >"$log" 2>&1 || status=$?
after=$(state)
if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "demo: FAILED with exit code $status (whole output in $log)" >&2
    exit 1
fi
left=$(comm -13 <(echo "$before") <(echo "$after"))
if [ -n "$left" ]; then
    printf 'demo: FAILED: left behind:\n%s\n' "$left" >&2
    exit 1
fi
rm -f "$log"
echo "demo: passed (exit 0, nothing left behind)"
