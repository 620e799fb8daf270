#!/usr/bin/env bash
# docker-setup.sh: make a working Docker engine and the Debian base images
# available on this machine, starting from a bare Debian 12 host.
#
# Why: arenad's container integration test runs on every CI run on a clean
# Debian 12 machine that reaches only Debian's package archive (and npm). No
# Docker engine runs there (only a stray docker CLI may be present), and no
# container registry is reachable, so `FROM debian:bookworm` can't be pulled.
# This script:
#   1. installs Docker from Debian's own packages when dockerd is missing
#      (docker.io 20.10, containerd, runc, iptables; debootstrap to build the
#      base image; docker-compose v1 because Debian 12 has no compose v2 plugin);
#   2. starts dockerd in the background when no daemon answers `docker info`,
#      logging to $DOCKERD_LOG, and waits (with a timeout) until it answers;
#   3. builds `debian:bookworm` locally when missing: debootstrap minbase from
#      the Debian mirror this host uses, cleaned up like the official image,
#      then `docker import`; and derives `debian:bookworm-slim` from it (docs,
#      man pages and locales removed, as in the official slim image), so a
#      Dockerfile written for the official images works unchanged here;
#   4. checks that a container starts and (unless DOCKER_SETUP_NET_CHECK=0)
#      that a container reaches Debian's archive (`apt-get update`).
# It is idempotent: each step is skipped when its result is already there.
#
# dockerd runs with its stock configuration, no daemon.json and no flags:
# overlay2 on the ext4 root, cgroupfs driver on the VM's cgroup v1 mounts,
# iptables through Debian 12's default nf_tables backend, the default docker0
# bridge with NAT (containers reach Debian's archive), seccomp default profile.
# None of --storage-driver=vfs, fuse-overlayfs, --iptables=false or
# --bridge=none was needed on our CI machine kind (Firecracker VM, kernel 6.x,
# no systemd). There is no systemd to start dockerd, hence the background
# start here. Extra dockerd flags can be passed in DOCKERD_ARGS elsewhere.
#
# Exit status: 0 when Docker works and the images are there; 1 when Docker is
# (or can be) installed but does not work, with the reason printed; 77 only
# when Docker cannot be installed at all (not Linux, not root, no apt-get, or
# no docker.io package in the configured archive), so callers may skip then.
#
# Environment (all optional):
#   DOCKERD_LOG           dockerd's log file        (/var/log/dockerd.log)
#   DOCKERD_TIMEOUT       seconds to wait for it    (60)
#   DOCKERD_ARGS          extra flags for dockerd   (none)
#   DEBIAN_MIRROR         mirror for debootstrap    (the host's apt mirror)
#   DEBIAN_SECURITY_MIRROR security mirror          (the host's, or derived)
#   DOCKER_SETUP_COMPOSE  1: also install docker-compose v1 (1)
#   DOCKER_SETUP_NET_CHECK 1: check apt-get update in a container (1)
set -euo pipefail

readonly EXIT_FAIL=1
readonly EXIT_CANNOT_INSTALL=77
readonly BASE_TAG=debian:bookworm
readonly SLIM_TAG=debian:bookworm-slim
readonly SUITE=bookworm
readonly IMAGE_LABEL=org.arenad.base-image=debootstrap

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DOCKERD_TIMEOUT=${DOCKERD_TIMEOUT:-60}
DOCKERD_ARGS=${DOCKERD_ARGS:-}
DOCKER_SETUP_COMPOSE=${DOCKER_SETUP_COMPOSE:-1}
DOCKER_SETUP_NET_CHECK=${DOCKER_SETUP_NET_CHECK:-1}

log() { printf '[docker-setup] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit "$EXIT_FAIL"; }
cannot_install() { log "SKIP: Docker cannot be installed here: $*"; exit "$EXIT_CANNOT_INSTALL"; }

# Time each step: step_begin NAME ... step_end
step_t0=0
step_name=
step_begin() { step_name=$1; step_t0=$(date +%s%N); log "$step_name ..."; }
step_end() {
    local ms=$(( ($(date +%s%N) - step_t0) / 1000000 ))
    log "$step_name done in $((ms / 1000)).$(printf '%03d' $((ms % 1000)))s"
}

is_root() { [ "$(id -u)" -eq 0 ]; }
docker_answers() { docker info >/dev/null 2>&1; }

# ---------------------------------------------------------------- 1. install
apt_updated=0
apt_update_once() {
    if [ "$apt_updated" -eq 0 ]; then
        apt-get update -q >/dev/null || fail "apt-get update failed"
        apt_updated=1
    fi
}

install_packages() {
    # docker.io is required (unless some Docker daemon already answers); the
    # rest only serves later steps, and its absence is reported there.
    local need=() want=()
    command -v dockerd >/dev/null 2>&1 || docker_answers || need+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || want+=(debootstrap)
    # https mirrors need CA certificates on the host too.
    [ -e /etc/ssl/certs/ca-certificates.crt ] || want+=(ca-certificates)
    if [ "$DOCKER_SETUP_COMPOSE" = 1 ] && ! command -v docker-compose >/dev/null 2>&1; then
        want+=(docker-compose)
    fi
    want=(${need[@]+"${need[@]}"} ${want[@]+"${want[@]}"})
    [ "${#want[@]}" -gt 0 ] || { log "packages: all present"; return 0; }

    if [ "$(uname -s)" != Linux ] || ! is_root || ! command -v apt-get >/dev/null 2>&1; then
        local why="not root"
        [ "$(uname -s)" = Linux ] || why="not Linux"
        command -v apt-get >/dev/null 2>&1 || why="no apt-get (not Debian-like)"
        [ "${#need[@]}" -eq 0 ] || cannot_install "$why, and dockerd is missing"
        log "warning: $why: not installing ${want[*]}"
        return 0
    fi

    step_begin "install ${want[*]}"
    apt_update_once
    if [ "${#need[@]}" -gt 0 ] && ! apt-cache show docker.io >/dev/null 2>&1; then
        cannot_install "the configured apt archive has no docker.io package"
    fi
    # --no-install-recommends: the recommends (apparmor, needrestart, git,
    # cgroupfs-mount, ...) are not needed here; cgroupfs-mount is installed
    # below only when the host has no cgroup hierarchy mounted.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${want[@]}" >/tmp/docker-setup-apt.log 2>&1 \
        || { tail -n 20 /tmp/docker-setup-apt.log >&2; fail "apt-get install ${want[*]} failed (log: /tmp/docker-setup-apt.log)"; }
    step_end
}

# ------------------------------------------------------------ 2. start dockerd
ensure_cgroups() {
    # Docker needs a cgroup hierarchy: v2 (cgroup.controllers at the top) or
    # v1 controllers. Hosts without an init that mounts them (a bare chroot or
    # minimal VM) get them from Debian's cgroupfs-mount. Not needed where
    # systemd or the VM's init already mounted them (the case on our CI kind).
    if [ -e /sys/fs/cgroup/cgroup.controllers ] || [ -d /sys/fs/cgroup/memory ] \
        || [ -d /sys/fs/cgroup/cpu ]; then
        return 0
    fi
    log "no cgroup hierarchy mounted at /sys/fs/cgroup: mounting one with cgroupfs-mount"
    command -v cgroupfs-mount >/dev/null 2>&1 || {
        apt_update_once
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            cgroupfs-mount >/dev/null || fail "cannot install cgroupfs-mount"
    }
    cgroupfs-mount || fail "cgroupfs-mount failed; dockerd needs cgroups"
}

dockerd_pid() {
    # The pid in dockerd's pid file, when that process is still a dockerd.
    local pid
    pid=$(cat /var/run/docker.pid 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && echo "$pid"
}

diagnose_dockerd() {
    log "dockerd did not come up; errors from this start in $DOCKERD_LOG:"
    # Only this start's lines (after the last marker), errors first.
    awk '/^==== /{b=""} {b=b $0 "\n"} END{printf "%s", b}' "$DOCKERD_LOG" 2>/dev/null \
        | grep -E 'level=(error|fatal)|^failed to start' | tail -n 12 >&2 || true
    grep -q overlay /proc/filesystems || log "hint: kernel has no overlayfs; try DOCKERD_ARGS='--storage-driver=vfs'"
    if ! iptables -t nat -L >/dev/null 2>&1; then
        log "hint: iptables does not work here (iptables -t nat -L fails); dockerd needs it for"
        log "      bridge NAT. Try DOCKERD_ARGS='--iptables=false' (containers then lose outbound network)"
    fi
    grep -qE 'permission denied|operation not permitted' "$DOCKERD_LOG" 2>/dev/null \
        && log "hint: 'permission denied/operation not permitted' above: is this an unprivileged container?"
    return 0
}

start_dockerd() {
    if docker_answers; then
        log "dockerd: already answering ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
        return 0
    fi
    [ -z "${DOCKER_HOST:-}" ] || fail "DOCKER_HOST=$DOCKER_HOST is set but does not answer"
    if ! is_root; then
        [ -S /var/run/docker.sock ] && fail "a Docker daemon socket exists but $(id -un) cannot use it: $(docker info 2>&1 | grep -m1 -i error || true) (run as root, or join the docker group)"
        fail "no Docker daemon answers and only root can start dockerd here"
    fi
    command -v dockerd >/dev/null 2>&1 || fail "dockerd is not installed"
    ensure_cgroups

    step_begin "start dockerd"
    local pid
    if pid=$(dockerd_pid); then
        log "dockerd (pid $pid) is running but not answering yet; waiting for it"
    else
        # A pid file left by a dockerd killed earlier (the machine is reused
        # between sessions and CI) would stop a new one from starting.
        rm -f /var/run/docker.pid
        mkdir -p "$(dirname "$DOCKERD_LOG")"
        # Appended to across starts; keep one old copy past 10 MB.
        if [ "$(stat -c %s "$DOCKERD_LOG" 2>/dev/null || echo 0)" -gt 10485760 ]; then
            mv -f "$DOCKERD_LOG" "$DOCKERD_LOG.1"
        fi
        printf '\n==== %s docker-setup.sh starts dockerd %s\n' "$(date -u +%FT%TZ)" "$DOCKERD_ARGS" >>"$DOCKERD_LOG"
        # setsid: its own session, so it outlives this script and the CI step
        # that ran it, and a Ctrl-C in the caller's terminal won't reach it.
        # (Not a process-group leader here, so setsid execs without forking
        # and $! is dockerd's own pid.)
        # shellcheck disable=SC2086
        setsid dockerd $DOCKERD_ARGS >>"$DOCKERD_LOG" 2>&1 </dev/null &
        pid=$!
    fi
    local deadline=$(( $(date +%s) + DOCKERD_TIMEOUT ))
    until docker_answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            diagnose_dockerd
            fail "dockerd exited during start-up"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            diagnose_dockerd
            fail "dockerd did not answer within ${DOCKERD_TIMEOUT}s (pid $pid still running; stop it with: kill $pid)"
        fi
        sleep 0.5
    done
    step_end
    log "dockerd: $(docker info --format 'version {{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}} ({{.CgroupDriver}})' 2>/dev/null), log $DOCKERD_LOG"
}

# --------------------------------------------------------- 3. the base images
# The Debian mirrors this host's apt uses (deb822 .sources or one-line .list).
# Prints nothing when there is none (the caller then uses deb.debian.org).
host_mirror() { # $1: debian | debian-security
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        if [ -r "$f" ]; then cat "$f"; fi
    done | sed -n '/^[[:space:]]*#/!p' \
        | { grep -oE "(https?|file)://[^[:space:]]+/$1/?([[:space:]]|$)" || true; } \
        | head -n 1 | tr -d '[:space:]' | sed 's#/$##'
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

build_base_image() {
    local mirror security rootfs
    mirror=${DEBIAN_MIRROR:-$(host_mirror debian)}
    mirror=${mirror:-http://deb.debian.org/debian}
    security=${DEBIAN_SECURITY_MIRROR:-$(host_mirror debian-security)}
    security=${security:-${mirror%/debian}/debian-security}
    command -v debootstrap >/dev/null 2>&1 || fail "debootstrap is not installed"
    is_root || fail "building $BASE_TAG needs root (debootstrap)"

    rootfs=$(mktemp -d /var/tmp/arenad-rootfs.XXXXXX)
    # Always remove the (200 MB) tree, also when a step below fails.
    # shellcheck disable=SC2064
    trap "rm -rf '$rootfs'" EXIT

    local include=()
    # minbase has no CA certificates; apt inside the image needs them for https.
    case $mirror$security in *https://*) include=(--include=ca-certificates) ;; esac

    step_begin "debootstrap --variant=minbase $SUITE from $mirror"
    debootstrap --variant=minbase "${include[@]}" "$SUITE" "$rootfs" "$mirror" \
        >/tmp/docker-setup-debootstrap.log 2>&1 \
        || { tail -n 20 /tmp/docker-setup-debootstrap.log >&2; fail "debootstrap failed (log: /tmp/docker-setup-debootstrap.log)"; }
    step_end

    step_begin "configure and trim the rootfs"
    # apt sources as in the official image (deb822), with this host's mirror.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # The container tweaks the official images carry (debuerreotype's
    # minimizing config): no package caches or .debs kept after installs, no
    # translations, and no service starts from maintainer scripts.
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
    echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
    echo 'force-unsafe-io' >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
    printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod 755 "$rootfs/usr/sbin/policy-rc.d"
    # Docker bind-mounts its own hostname, hosts and resolv.conf; don't ship
    # this host's. Drop apt's downloaded lists and .debs (about 80 MB): as in
    # the official image, `apt-get update` comes first.
    : >"$rootfs/etc/hostname"
    : >"$rootfs/etc/resolv.conf"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log \
        "$rootfs"/var/cache/ldconfig/aux-cache
    mkdir -p "$rootfs/var/lib/apt/lists/partial"
    step_end

    step_begin "docker import $BASE_TAG"
    tar --numeric-owner -C "$rootfs" -c . \
        | docker import \
            --change 'CMD ["bash"]' \
            --change "LABEL $IMAGE_LABEL" \
            --message "debootstrap --variant=minbase $SUITE $mirror" \
            - "$BASE_TAG" >/dev/null \
        || fail "docker import of $BASE_TAG failed"
    step_end
    rm -rf "$rootfs"
    trap - EXIT
}

# debian:bookworm-slim, derived from debian:bookworm as the official slim is
# (debuerreotype-slimify): docs but copyright files, man/info pages and
# locales removed, and dpkg told to leave them out of later installs too. It
# runs in a container and is re-imported, so the result is one flat layer.
build_slim_image() {
    local c=arenad-slimify-$$
    step_begin "derive $SLIM_TAG from $BASE_TAG"
    docker rm -f "$c" >/dev/null 2>&1 || true
    docker run --name "$c" --network none "$BASE_TAG" sh -euc '
        cat >/etc/dpkg/dpkg.cfg.d/docker <<EOF
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
        find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
        find /usr/share/doc -mindepth 1 -type d -empty -delete
        rm -rf /usr/share/groff/* /usr/share/info/* /usr/share/linda/* \
               /usr/share/lintian/overrides/* /usr/share/locale/* /usr/share/man/*
        rm -f /.dockerenv
    ' || { docker rm -f "$c" >/dev/null 2>&1; fail "could not run a container from $BASE_TAG"; }
    docker export "$c" \
        | docker import \
            --change 'CMD ["bash"]' \
            --change "LABEL $IMAGE_LABEL" \
            --message "$BASE_TAG, slimmed" \
            - "$SLIM_TAG" >/dev/null \
        || { docker rm -f "$c" >/dev/null 2>&1; fail "docker import of $SLIM_TAG failed"; }
    docker rm -f "$c" >/dev/null
    step_end
}

ensure_images() {
    if image_exists "$BASE_TAG"; then
        log "image $BASE_TAG: present"
    else
        build_base_image
    fi
    if image_exists "$SLIM_TAG"; then
        log "image $SLIM_TAG: present"
    else
        build_slim_image
    fi
    log "images: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' debian | tr '\n' ' ')"
}

# ----------------------------------------------------------------- 4. checks
check_containers() {
    step_begin "check: a container runs"
    local v
    v=$(docker run --rm --network none "$BASE_TAG" cat /etc/debian_version 2>&1) \
        || fail "docker run $BASE_TAG failed: $v"
    step_end
    log "container sees Debian $v"
    if [ "$DOCKER_SETUP_NET_CHECK" = 1 ]; then
        step_begin "check: a container reaches Debian's archive (apt-get update)"
        local out
        out=$(docker run --rm "$BASE_TAG" apt-get update 2>&1) || {
            printf '%s\n' "$out" | tail -n 15 >&2
            fail "apt-get update inside a container failed: no outbound network from the docker0 bridge (check iptables NAT / ip_forward / DNS)"
        }
        step_end
    fi
}

main() {
    local t0=$SECONDS
    install_packages
    start_dockerd
    ensure_images
    check_containers
    log "OK: Docker works ($(docker version --format 'client {{.Client.Version}}, server {{.Server.Version}}' 2>/dev/null)), total $((SECONDS - t0))s"
}

main "$@"
