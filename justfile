# calico-rs: the README's commands are `just demo` and `just test`.
# Every recipe that needs system packages runs `setup` first; it is idempotent and quick when
# everything is installed.

set shell := ["bash", "-euo", "pipefail", "-c"]

packages := "etcd-server etcd-client openssl protobuf-compiler nftables iproute2 bird2 gobgpd frr iputils-ping python3-venv python3-etcd3"

default:
    @just --list

# Install what the build and the tests need (apt packages, cargo-nextest). Idempotent.
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    missing=()
    for p in {{packages}}; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "missing packages: ${missing[*]}; run 'just setup' as root" >&2; exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}"
        # The tests start their own bgpd per namespace; the package's service stays off.
        if [[ " ${missing[*]} " == *" frr "* ]]; then
            systemctl disable --now frr >/dev/null 2>&1 \
                || { service frr stop; update-rc.d frr disable; } >/dev/null 2>&1 || true
        fi
    fi
    command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked

# Formatting, lints, every test (unit, property, conformance on real etcd, end-to-end, simulation,
# real kernel) and the demo script; ends by counting and listing the tests that were skipped.
test: setup
    #!/usr/bin/env bash
    set -euo pipefail
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    mkdir -p target
    export CALICO_SKIP_LOG="$PWD/target/skipped-tests.log"
    : > "$CALICO_SKIP_LOG"
    status=0
    cargo nextest run --workspace --locked --profile ci || status=$?
    cargo build --workspace --bins --locked
    bash scripts/demo-check.sh target/debug || status=$?
    bash scripts/skipped-tests.sh "$CALICO_SKIP_LOG"
    exit $status

# A real etcd and calicoctl against it (Calico YAML, the v0.9 verbs, the stored keys), then a
# two-host cluster in network namespaces programmed from etcd, with real traffic (needs root).
demo: setup
    cargo build --release --locked -p cli -p netns-tests --bins
    bash scripts/demo.sh target/release/calicoctl target/release/calico-netns-demo

# Rewrites the golden files from the code as it is now; review `git diff` before committing.
update-golden:
    cargo run --locked -p dataplane --example update_golden

# The cluster simulation, every scenario over many seeds (CALICO_SIM_SEEDS=N to change the count).
sim:
    cargo run --release --locked -p sim --bin calico-sim -- watch-resume --seeds ${CALICO_SIM_SEEDS:-200}
    cargo run --release --locked -p sim --bin calico-sim -- syncer --seeds ${CALICO_SIM_SEEDS:-200}
    cargo run --release --locked -p sim --bin calico-sim -- bgp --seeds ${CALICO_SIM_SEEDS:-200}

# Every benchmark (criterion and programs; each records its rows with what each timer covers
# and the baseline measured in the same run), then one table of all rows (benchmark, what,
# ours, baseline, ratio, goal, met), also written to target/bench-summary.json. Fails when a
# benchmark failed, after printing the table of what ran. The netns ones need root.
bench: setup
    #!/usr/bin/env bash
    set -uo pipefail
    mkdir -p target
    # Absolute: cargo runs each benchmark in its package's directory.
    export CALICO_BENCH_RESULTS="$PWD/target/bench-results.jsonl"
    : > "$CALICO_BENCH_RESULTS"
    failed=()
    run() { local name="$1"; shift; echo "== $name"; "$@" || failed+=(--failed "$name"); }
    quick=(--warm-up-time 1 --measurement-time 3)
    run "model selector" cargo bench --locked -p model --bench selector -- "${quick[@]}"
    run "bgp codec" cargo bench --locked -p bgp --bench codec -- "${quick[@]}"
    run "bgp rib_ingest" cargo bench --locked -p bgp --bench rib_ingest
    run "datastore etcd_vs_etcdctl" cargo bench --locked -p datastore --bench etcd_vs_etcdctl
    run "dataplane routes_vs_ip_batch" cargo bench --locked -p dataplane --bench routes_vs_ip_batch
    run "dataplane nft_vs_nft_f" cargo bench --locked -p dataplane --bench nft_vs_nft_f
    run "calc label_change" cargo bench --locked -p calc --bench label_change
    run "netns-tests bgp_ingest" cargo bench --locked -p netns-tests --bench bgp_ingest
    run "netns-tests bgp_fanout" cargo bench --locked -p netns-tests --bench bgp_fanout
    # calico-node itself, started by calicoctl from target/release (built first).
    run "calico-node and calicoctl (release)" cargo build --release --locked -p actors -p cli --bins
    for b in node_convergence node_policy_update node_rss node_restart; do
        run "netns-tests $b" cargo bench --locked -p netns-tests --bench "$b"
    done
    cargo run --locked -q -p testkit --bin bench-summary -- --results "$CALICO_BENCH_RESULTS" \
        --out target/bench-summary.json ${failed[@]+"${failed[@]}"}
