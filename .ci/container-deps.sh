#!/usr/bin/env bash
# Debian packages of the container tests: podman with runc (crun refuses hybrid cgroups),
# debootstrap (the base image stand-in where no registry is reachable), docker-compose (drives
# podman's Docker-compatible API). Installs only what is missing; needs root or sudo.
set -euo pipefail
need=()
command -v podman >/dev/null || need+=(podman)
[ -x /usr/sbin/runc ] || command -v runc >/dev/null || need+=(runc)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v docker-compose >/dev/null || need+=(docker-compose)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
