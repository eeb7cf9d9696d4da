#!/usr/bin/env bash
# `make deb`: the Debian package libnginx-mod-http-microcache for this machine's nginx, built
# by dpkg-buildpackage in a copy of the source tree (debian/rules says how), then checked
# with lintian.
#
#   scripts/build-deb.sh [OUTDIR]     (default target/deb)
#
# Writes OUTDIR/libnginx-mod-http-microcache_<version>+nginx<nginx version>_<arch>.deb, its
# -dbgsym .deb, .buildinfo and .changes. Needs scripts/install-deps.sh build deb.
# Environment: CARGO_HOME (default ~/.cargo) is the crate cache the build uses.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$repo/target/deb}
# shellcheck source=scripts/lib/deb.sh
. "$repo/scripts/lib/deb.sh"

deb_check_version "$repo"
mkdir -p "$out"
out=$(cd "$out" && pwd)
# dpkg-buildpackage writes its results next to the source tree.
build=$out/build
deb_stage_source "$repo" "$build/$deb_package"
rm -f "$out/${deb_package}"[_-]* "$build/${deb_package}"[_-]*.*

(cd "$build/$deb_package" && dpkg-buildpackage -b --no-sign) >"$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    echo "build-deb: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
    exit 1
}
mv "$build/${deb_package}"[_-]*.* "$out/"
rm -rf "$build"

shopt -s nullglob
debs=("$out/${deb_package}"_*.deb "$out/${deb_package}"-dbgsym_*.*deb)
deb_lintian "${debs[@]}"
ls -l "${debs[@]}"
