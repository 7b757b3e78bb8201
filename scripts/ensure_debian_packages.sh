#!/usr/bin/env bash
# ensure_debian_packages.sh [--with-recommends] COMMAND=PACKAGE...: install each Debian package whose command is
# missing, so `make test` works on a fresh machine (the renders' suites run a real
# redis-server of their own and a real Prometheus). Nothing is done when all are present.
# policy-rc.d keeps the packages' services from starting: the tests start their own.
set -euo pipefail

recommends=--no-install-recommends
if [ "${1:-}" = --with-recommends ]; then  # podman's runtime pieces come as recommends
    recommends=; shift
fi
missing=()
for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null || missing+=("${pair#*=}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "installing Debian packages: ${missing[*]}"
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $recommends "${missing[@]}" >/dev/null
