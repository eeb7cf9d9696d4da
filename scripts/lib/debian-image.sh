# shellcheck shell=bash
# Sourced by scripts/test-docker.sh and scripts/test-release-matrix.sh: podman base images of
# Debian releases made from Debian's own packages (no image registry needed).

# podman as this machine needs it: runc, cgroupfs (no systemd).
pm() { podman --runtime runc --cgroup-manager=cgroupfs "$@"; }

# debian_base_image SUITE IMAGE MIRROR WORKDIR: imports `debootstrap --variant=minbase SUITE`
# as IMAGE unless podman already has it, with apt sources as in Debian's official images (the
# release, its updates and security suites; unstable has neither). The log of a failed step is
# left in WORKDIR/debootstrap-SUITE.log. Returns non-zero when IMAGE does not exist afterwards.
debian_base_image() {
    local suite=$1 image=$2 mirror=$3 work=$4
    local rootfs=$work/rootfs-$suite log=$work/debootstrap-$suite.log suites=$1 rc
    pm image exists "$image" && return 0
    [ "$suite" = sid ] || suites="$suite $suite-updates"
    rm -rf "$rootfs"
    timeout 900 debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$log" 2>&1 || {
        rm -rf "$rootfs"
        return 1
    }
    rm -f "$rootfs/etc/apt/sources.list"
    mkdir -p "$rootfs/etc/apt/sources.list.d"
    {
        printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$mirror" "$suites"
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        if [ "$suite" != sid ]; then
            printf '\nTypes: deb\nURIs: %s/debian-security\nSuites: %s-security\n' "${mirror%/debian}" "$suite"
            printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
        fi
    } >"$rootfs/etc/apt/sources.list.d/debian.sources"
    # As on the host: the mirror may serve a snapshot whose Valid-Until (7 days for unstable
    # and the security suites) has passed.
    echo 'Acquire::Check-Valid-Until "false";' >"$rootfs/etc/apt/apt.conf.d/99check-valid-until"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -c . | timeout 300 podman import - "$image" >>"$log" 2>&1
    rc=$?
    rm -rf "$rootfs"
    [ $rc = 0 ] && pm image exists "$image"
}
