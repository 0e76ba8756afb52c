# calico-rs: the README's commands are `just demo` and `just test`.
# Every recipe that needs system packages runs `setup` first; it is idempotent and quick when
# everything is installed.

set shell := ["bash", "-euo", "pipefail", "-c"]

packages := "etcd-server etcd-client openssl protobuf-compiler nftables iproute2 bird2 gobgpd frr iputils-ping python3-venv python3-etcd3"
# The calico/node image: built and run with podman (runc, cgroupfs), its base made by debootstrap.
# Installed without recommends (no buildah, slirp4netns or dbus user session).
image_packages := "podman runc debootstrap binutils"

default:
    @just --list

# Install what the build and the tests need (apt packages, cargo-nextest). Idempotent.
setup:
    #!/usr/bin/env bash
    set -euo pipefail
    missing=() missing_image=()
    for p in {{packages}}; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    for p in {{image_packages}}; do dpkg -s "$p" >/dev/null 2>&1 || missing_image+=("$p"); done
    if [ $(( ${#missing[@]} + ${#missing_image[@]} )) -gt 0 ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "missing packages: ${missing[*]} ${missing_image[*]}; run 'just setup' as root" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        [ ${#missing[@]} -eq 0 ] || apt-get install -y -qq "${missing[@]}"
        [ ${#missing_image[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing_image[@]}"
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

# The calico/node image: the release calico-node and calicoctl (stripped) on a Debian bookworm
# base with nft (image/base.sh: debootstrap once per machine, then reused from podman's storage),
# built offline with podman and tagged calico-rs/node:v<version> and :latest. Needs root.
image: setup
    #!/usr/bin/env bash
    set -euo pipefail
    export CONTAINERS_CONF="$PWD/image/containers.conf"
    podman() { command podman --runtime runc --cgroup-manager cgroupfs "$@"; }
    cargo build --release --locked -p actors --bin calico-node -p cli --bin calicoctl
    base=$(bash image/base.sh)
    context=target/image/context
    rm -rf "$context"
    mkdir -p "$context/bin"
    for b in calico-node calicoctl; do strip -o "$context/bin/$b" "target/release/$b"; done
    version=v$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)
    podman build --network none --build-arg "BASE=$base" -f image/Containerfile \
        -t "calico-rs/node:$version" -t calico-rs/node:latest "$context"
    podman images --filter reference=calico-rs/node

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
