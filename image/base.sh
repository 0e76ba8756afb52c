#!/usr/bin/env bash
# The base of the calico/node image: Debian bookworm, debootstrap's minbase plus what
# calico-node runs at run time (`nft`, package nftables), made once per machine and kept in
# podman's storage as calico-rs/node-base:bookworm-<hash of this script>, so a change here
# makes a new base and an unchanged script reuses the one built before. Needs root, debootstrap
# and podman; reaches only the Debian mirror apt uses.
#
# Usage: image/base.sh        prints the base image's name (building it when missing)
# Env:   CONTAINERS_CONF      podman's settings (default image/containers.conf)
#        CALICO_IMAGE_WORK    scratch directory for the root file system (default target/image)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hash=$(sha256sum "$here/base.sh" | cut -c1-12)
tag="localhost/calico-rs/node-base:bookworm-$hash"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
podman() { command podman --runtime runc --cgroup-manager cgroupfs "$@"; }
if podman image exists "$tag"; then
    echo "$tag"
    exit 0
fi

# The mirror apt uses (deb822 .sources or one-line lists), else Debian's own.
mirror=$( { cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}';
            cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
                | awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}'; } \
          | grep -v -- '-security' | grep -m1 '/debian/\?$' || true)
mirror=${mirror:-http://deb.debian.org/debian}

work=${CALICO_IMAGE_WORK:-$here/../target/image}
rootfs="$work/rootfs"
rm -rf "$rootfs"
mkdir -p "$work"
trap 'rm -rf "$rootfs"' EXIT
echo "image/base.sh: debootstrap bookworm from $mirror" >&2
start=$(date +%s)
debootstrap --variant=minbase --include=nftables bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
# What a running calico-node never reads: downloaded packages, package lists, documentation,
# manuals, translations, logs.
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/var/log/* "$rootfs"/var/cache/debconf/*-old
tar --numeric-owner -C "$rootfs" -c . | podman import --quiet \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap --variant=minbase --include=nftables bookworm" - "$tag" >/dev/null
echo "image/base.sh: built $tag in $(( $(date +%s) - start )) s" >&2
echo "$tag"
