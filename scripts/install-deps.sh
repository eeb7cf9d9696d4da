#!/usr/bin/env bash
# Install the Debian packages the build, the tests and the staging run need.
# Each scripts/packages/*.list names packages one per line (# comments allowed).
# Usage: scripts/install-deps.sh [LIST ...]   (default: every list)
set -euo pipefail
cd "$(dirname "$0")/packages"

lists=("$@")
[ ${#lists[@]} -gt 0 ] || lists=(*.list)

mapfile -t wanted < <(for l in "${lists[@]}"; do sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "${l%.list}.list"; done | sort -u)

missing=()
for p in "${wanted[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# Packages such as nginx and php-fpm must not start their system services here.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
