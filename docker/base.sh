#!/bin/sh
# Builds the image base from Debian's own packages, for a machine that reaches Debian's mirror
# but no container registry: Debian 12 (bookworm, minbase) with its Python 3.11 and venv.
# Prints the image's digest, to pass as BASE (see the README's "With Docker").
#   sudo sh docker/base.sh [NAME]        (NAME defaults to localhost/easel-base:bookworm)
set -eu
name=${1:-localhost/easel-base:bookworm}
# docker if its daemon answers, else podman (daemonless); ENGINE=… to choose.
if [ -n "${ENGINE:-}" ]; then engine=$ENGINE
elif docker info >/dev/null 2>&1; then engine=docker
else engine=podman; fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" http://deb.debian.org/debian
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
tar -C "$root" --numeric-owner -c . | "$engine" import --change 'CMD ["python3"]' - "$name" >/dev/null
"$engine" image inspect --format '{{.Digest}}' "$name"
