# shellcheck shell=bash
# Sourced by scripts/build-deb.sh and scripts/test-release-matrix.sh: the Debian package's
# source tree and the checks of what dpkg-buildpackage made.

# shellcheck disable=SC2034  # (used by the scripts that source this)
deb_package=libnginx-mod-http-microcache

# deb_stage_source REPO DEST: copies the files git tracks, and the untracked ones it does not
# ignore, as they are in the working tree, into DEST (replaced): the package's source tree,
# without target/ and test state.
deb_stage_source() {
    local repo=$1 dest=$2
    rm -rf "$dest"
    mkdir -p "$dest"
    git -C "$repo" ls-files -z --cached --others --exclude-standard \
        | (cd "$repo" && tar --null --no-recursion -T - -cf -) | tar -C "$dest" -xf -
}

# deb_check_version REPO: debian/changelog's version must be the crate's.
deb_check_version() {
    local repo=$1 crate changelog
    crate=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)
    changelog=$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)
    if [ "$crate" != "$changelog" ]; then
        echo "debian/changelog is at $changelog, Cargo.toml at $crate: add a changelog entry (dch -v $crate)" >&2
        return 1
    fi
}

# deb_lintian DEB...: lintian with the informational tags too; fails on warnings and errors.
# The tags that stay are overridden, each with its reason, in
# debian/libnginx-mod-http-microcache.lintian-overrides.
deb_lintian() {
    lintian --info --display-info --pedantic --fail-on error,warning "$@"
}
