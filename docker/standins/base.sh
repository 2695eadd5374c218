#!/usr/bin/env bash
# A stand-in for docker.io/library/python:3.11-slim, for machines that reach Debian's package
# archive but no container registry: Debian bookworm's minimal base with Python 3.11 (3.11.2),
# its venv module and the CA bundle, pruned of apt's caches, docs and locales, imported under
# the official name so the Dockerfile builds unchanged (podman build --pull=never).
#   bash docker/standins/base.sh [ENGINE]      (root: debootstrap; ENGINE defaults to podman)
set -euo pipefail
ENGINE=${1:-podman}
TAG=docker.io/library/python:3.11-slim
MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
ROOT=$(mktemp -d /tmp/python-slim-standin.XXXXXX)
trap 'rm -rf "$ROOT" "$ROOT.log"' EXIT
debootstrap --variant=minbase --include=python3.11,python3.11-venv,python3-distutils,ca-certificates \
    bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || { tail -20 "$ROOT.log" >&2; exit 1; }
ln -sf /usr/bin/python3.11 "$ROOT/usr/local/bin/python"
ln -sf /usr/bin/python3.11 "$ROOT/usr/local/bin/python3"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/lib/apt/lists/* \
    "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/locale/* "$ROOT"/usr/share/info/*
# as the official Debian images: apt keeps no package caches (apt-get update in a build step
# would otherwise leave its 40 MB of *.bin in the layer)
cat > "$ROOT/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
echo 'Acquire::Languages "none";' > "$ROOT/etc/apt/apt.conf.d/docker-no-languages"
tar -C "$ROOT" -c . | "$ENGINE" import --change 'CMD ["python3"]' \
    --change 'LABEL org.obesity-risk.stand-in=debian-bookworm' - "$TAG" >/dev/null
echo "stand-in $TAG imported ($(du -sh "$ROOT" | cut -f1) root filesystem)"
