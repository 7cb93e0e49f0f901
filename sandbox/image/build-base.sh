#!/usr/bin/env bash
# Build the sandbox base image without any image registry.
#
# The image is a minimal Debian made with debootstrap, with python3 and pip
# from Debian and pytest installed from wheels that pip downloads on the host,
# then loaded with `docker import`. It needs root (for debootstrap), a running
# Docker daemon, and access to a Debian mirror and a Python package index, such
# as the ones this machine's apt and pip are already configured for.
#
# Usage: build-base.sh [TAG]
#   TAG                     image tag to create (default: agentos-sandbox:latest)
# Environment:
#   AGENTOS_DEBIAN_SUITE    Debian suite to bootstrap (default: bookworm)
#   AGENTOS_DEBIAN_MIRROR   mirror URL; unset means debootstrap's own default
#   AGENTOS_SANDBOX_UID     uid and gid of the unprivileged sandbox user (default: 1000)
set -euo pipefail

tag=${1:-agentos-sandbox:latest}
suite=${AGENTOS_DEBIAN_SUITE:-bookworm}
mirror=${AGENTOS_DEBIAN_MIRROR:-}
sandbox_uid=${AGENTOS_SANDBOX_UID:-1000}

fail() {
    echo "build-base: $*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || fail "debootstrap needs root; run this script as root (for example with sudo)."
command -v debootstrap >/dev/null || fail "debootstrap is not installed; install it with 'apt-get install debootstrap'."
command -v docker >/dev/null || fail "the docker client is not installed; install it with 'apt-get install docker.io'."
docker info >/dev/null 2>&1 || fail "no Docker daemon answers; start it with 'dockerd &' or 'systemctl start docker'."

work=$(mktemp -d /tmp/agentos-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root

echo "build-base: bootstrapping Debian $suite into $root"
# shellcheck disable=SC2086  # an empty mirror must vanish so debootstrap uses its default
debootstrap --variant=minbase --include=python3,python3-pip \
    "$suite" "$root" $mirror >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; fail "debootstrap of '$suite' failed (log above)."; }

python_version=$(chroot "$root" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo "build-base: image Python is $python_version; downloading pytest wheels on the host"
mkdir -p "$root/tmp/wheels"
python3 -m pip download --quiet --only-binary=:all: --python-version "$python_version" \
    --dest "$root/tmp/wheels" pytest \
    || fail "pip could not download pytest wheels for Python $python_version; check the package index settings (pip config list)."

# Installing inside the chroot with --no-index proves the image needs no network.
chroot "$root" python3 -m pip install --quiet --no-index --break-system-packages \
    --find-links /tmp/wheels pytest
rm -rf "$root/tmp/wheels" "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

chroot "$root" groupadd --gid "$sandbox_uid" sandbox
chroot "$root" useradd --uid "$sandbox_uid" --gid "$sandbox_uid" --home-dir /work --no-create-home sandbox
install -d -o "$sandbox_uid" -g "$sandbox_uid" "$root/work"

echo "build-base: importing the root filesystem as $tag"
tar --numeric-owner -C "$root" -c . | docker import \
    --change "USER $sandbox_uid:$sandbox_uid" \
    --change 'WORKDIR /work' \
    --change 'ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LANG=C.UTF-8' \
    --change 'LABEL org.llmagentos.role=base' \
    --change 'CMD ["python3"]' \
    - "$tag" >/dev/null

docker run --rm --network none "$tag" python3 -m pytest --version
echo "build-base: built $tag ($(docker image inspect --format '{{.Size}}' "$tag") bytes)"
