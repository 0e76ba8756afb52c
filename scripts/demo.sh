#!/usr/bin/env bash
# The demo: a real etcd on loopback, calicoctl against it, then a two-host cluster in network
# namespaces programmed from etcd with real traffic between its workloads.
# Usage: demo.sh PATH-TO-CALICOCTL PATH-TO-CALICO-NETNS-DEMO
set -euo pipefail
ctl=$(realpath "$1")
netns_demo=$(realpath "$2")
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/calico-demo.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
peer=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
etcd --name demo --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$port" \
    --advertise-client-urls "http://127.0.0.1:$port" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "demo=http://127.0.0.1:$peer" \
    >"$dir/etcd.log" 2>&1 &
etcd_pid=$!
# On exit, for any reason: stop etcd and remove its data. The script's own exit status stands
# (etcd killed by SIGTERM ends with 143, which must not become the demo's).
cleanup() {
    local status=$?
    kill "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
    rm -rf "$dir"
    exit "$status"
}
trap cleanup EXIT
export ETCD_ENDPOINTS="http://127.0.0.1:$port"
for _ in $(seq 100); do etcdctl --endpoints "$ETCD_ENDPOINTS" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done

step() { printf '\n\033[1m$ calicoctl %s\033[0m\n' "$*"; "$ctl" "$@"; }
fails() { printf '\n\033[1m$ calicoctl %s\033[0m   (expected to fail)\n' "$*"; if "$ctl" "$@"; then echo "unexpected success" >&2; exit 1; fi; }

echo "etcd at $ETCD_ENDPOINTS"
step apply -f "$here/examples/cluster.yaml"
step version
step get nodes -o wide
step get ippools -o wide
step get globalnetworkpolicies
step get gnp allow-dns -o yaml
step get workloadendpoints -A -l 'app == "frontend"'
step label node node-a rack=r2 --overwrite
step get node node-a -o yaml
echo; echo "# the v0.9 verbs write v3 resources"
step pool add 10.70.0.0/16 --ipip --nat-outgoing
step pool show
step profile add web
step profile web rule add inbound allow tcp to ports 80,443
step profile web rule show
step bgp peer add 192.0.2.1 as 64513
step bgp peer show
step bgp node-mesh off
step bgp default-node-as 64600
step get bgpconfiguration default -o yaml
echo; echo "# bad input is refused whole: nothing below is written"
fails apply -f "$here/examples/bad.yaml"
step get ippools
printf '\n\033[1m$ etcdctl get --prefix --keys-only /calico\033[0m\n'
etcdctl --endpoints "$ETCD_ENDPOINTS" get --prefix --keys-only /calico | sed '/^$/d'

echo; echo "# a cluster in network namespaces: two hosts, four workloads, programmed from etcd"
"$ctl" delete -f "$here/examples/cluster.yaml" >/dev/null
step apply -f "$here/examples/netns-cluster.yaml"
step get workloadendpoints -A -o wide
printf '\n\033[1m$ calico-netns-demo\033[0m\n'
"$netns_demo"
