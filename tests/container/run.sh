#!/usr/bin/env bash
# tests/container/run.sh: the container integration test. arenad runs in one
# container and its clients in others, with docker/compose.yaml, sharing only
# the volume that holds the socket; the clients get each arena's segment over
# the socket (SCM_RIGHTS). The test:
#   - makes Docker work (docker-setup.sh: installs docker.io from Debian when
#     missing, starts dockerd, builds debian:bookworm locally when missing);
#   - builds the image (docker/Dockerfile) and checks what it holds;
#   - starts the daemon with a mounted config and waits for it to be healthy;
#   - checks that the daemon, PID 1, reaps what `docker exec` leaves behind;
#   - writes blocks in one container and verifies the bytes in others (also
#     as another uid, through the socket's group; and is refused without it);
#   - inspects the daemon with arenactl from another container;
#   - kills a client container while it holds blocks and works on them, and
#     checks the daemon reclaimed them (inspect, stats, check);
#   - restarts that client and continues; detached blocks outlive a client;
#   - stops the daemon with `docker stop`: exit status 0, socket removed.
# Containers, networks, volumes and temporary files are removed on every
# exit, also when a step fails. .ci/dev runs it after the other tests; run it
# alone with `tests/container/run.sh` (as root, or with access to dockerd).
#
# Exit status: 0 passed; 1 failed (also when Docker is installed, or can be,
# but does not work: the reason is printed); 77 skipped, only when Docker
# cannot be installed at all (see docker-setup.sh).
#
# Environment (optional): ARENAD_TEST_KEEP_IMAGES=0 also removes the built
# images (kept by default: the next run then takes seconds, not minutes);
# DOCKER_SETUP_NET_CHECK=1 makes docker-setup.sh check that containers reach
# Debian's archive before the image build needs it.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

readonly IMAGE=arenad:test             # the runtime image
readonly BUILD_IMAGE=arenad:test-build # its build stage, tagged to keep the cache
readonly PROJECT=arenadtest            # compose project: names below
readonly DAEMON=${PROJECT}_arenad_1
readonly WRITER=${PROJECT}_writer_1
readonly CTL=${PROJECT}_ctl            # a client container that runs arenactl
readonly VOLUME=${PROJECT}_socket
readonly EXAMPLE_VOLUME=${PROJECT}_example # where arenad-example publishes
readonly ARENAD_UID=10001              # the image's arenad user and group
readonly ARENAD_GID=10001              # (the Dockerfile's ARGs)
readonly CLIENT_UID=10002              # the image's client user (in arenad's group)
readonly OTHER_UID=4242                # a client uid that is not arenad's
readonly RUN_LABEL=org.arenad.test=$PROJECT # on containers run without compose
readonly HEALTH_TIMEOUT=60             # seconds

T0=$SECONDS
TMP=
step_name=
step_t0=0

log() { printf '[container-test] %s\n' "$*" >&2; }
fail() {
    log "FAIL${step_name:+ in \"$step_name\"}: $*"
    exit 1
}
step() {
    step_end
    step_name=$1
    step_t0=$SECONDS
    log "$step_name ..."
}
step_end() {
    if [ -n "$step_name" ]; then
        log "$step_name: ok ($((SECONDS - step_t0))s)"
    fi
    step_name=
}

# ------------------------------------------------------------------ cleanup
# Everything this test made, whatever state it is in: compose's containers,
# network and volume, the containers run without compose, temporary files.
remove_all() {
    local ids
    ids=$( { docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"
             docker ps -aq --filter "label=$RUN_LABEL"; } 2>/dev/null | sort -u)
    if [ -n "$ids" ]; then
        # shellcheck disable=SC2086
        docker rm -f -v $ids >/dev/null 2>&1 || true
    fi
    if command -v docker-compose >/dev/null 2>&1; then
        compose --profile clients down -v --remove-orphans >/dev/null 2>&1 || true
    fi
    docker volume rm -f "$VOLUME" "$EXAMPLE_VOLUME" >/dev/null 2>&1 || true
    ids=$(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null)
    if [ -n "$ids" ]; then
        # shellcheck disable=SC2086
        docker network rm $ids >/dev/null 2>&1 || true
    fi
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && docker info >/dev/null 2>&1; then
        # What the containers said, for the failure above.
        local c
        for c in "$DAEMON" "$WRITER"; do
            if docker inspect "$c" >/dev/null 2>&1; then
                log "--- last lines of $c ($(docker inspect -f '{{.State.Status}} exit={{.State.ExitCode}}' "$c")):"
                docker logs --tail 25 "$c" 2>&1 | sed 's/^/    /' >&2 || true
            fi
        done
    fi
    if docker info >/dev/null 2>&1; then
        remove_all
        if [ "${ARENAD_TEST_KEEP_IMAGES:-1}" = 0 ]; then
            docker image rm -f "$IMAGE" "$BUILD_IMAGE" >/dev/null 2>&1 || true
        fi
    fi
    if [ -n "$TMP" ]; then
        rm -rf "$TMP"
    fi
    case $rc in
    0) log "PASS ($((SECONDS - T0))s)" ;;
    77) ;;
    *) log "FAILED after $((SECONDS - T0))s (containers and volumes removed)" ;;
    esac
    exit "$rc"
}
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ------------------------------------------------------------------ helpers
compose() {
    ARENAD_IMAGE=$IMAGE ARENAD_CONF=$TMP/arenad.conf \
        docker-compose -p "$PROJECT" -f "$ROOT/docker/compose.yaml" "$@"
}

# A client container without compose, as the image's client user unless
# the options say otherwise: the socket and example volumes, nothing else.
client() { # [DOCKER-RUN-OPTIONS...] -- COMMAND...
    local opts=()
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    shift
    docker run --rm --label "$RUN_LABEL" --no-healthcheck --network none \
        --ipc private -v "$VOLUME:/run/arenad" \
        -v "$EXAMPLE_VOLUME:/run/arenad-example" --user client \
        ${opts[@]+"${opts[@]}"} "$IMAGE" "$@"
}

# arenactl in the long-lived client container $CTL (docker exec takes a
# quarter of the time of a new container).
ctl() { docker exec "$CTL" arenactl "$@"; }
in_ctl() { docker exec "$CTL" "$@"; }

# json EXPR: evaluates a Python expression over the JSON on stdin (bound to
# d) and prints the result. python3 is there: docker-compose v1 needs it.
json() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# A counter of the daemon (`arenactl stats`), or a figure of an arena's
# summary (`arenactl inspect`).
counter() { ctl stats --json | json "d['$1']"; }
summary() { ctl inspect "$1" --json | json "d['summary']['$2']"; }
summary_is() { [ "$(summary "$1" "$2")" = "$3" ]; }
summary_above() { [ "$(summary "$1" "$2")" -gt "$3" ]; }

# wait_for SECONDS WHAT COMMAND...: runs COMMAND until it succeeds.
wait_for() {
    local limit=$1 what=$2
    local deadline=$((SECONDS + limit))
    shift 2
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for $what"
        sleep 0.3
    done
}

health() { docker inspect -f '{{.State.Health.Status}}' "$DAEMON"; }

# The "ARENA OFFSET SIZE SEED" lines the writer printed, in order (the log
# of a restarted container keeps those of its earlier runs).
published() { docker logs "$WRITER" 2>/dev/null | grep -E '^[a-z]+ [0-9]+ [0-9]+ [0-9]+$' || true; }
has_published() { [ "$(published | wc -l)" -ge "$1" ]; }

expect_eq() { # WHAT GOT WANT
    [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# ---------------------------------------------------------------- the steps
check_package_lists() {
    # The image builds with the packages of .ci/dev (the README's command).
    local ci df
    ci=$(sed -n '/^PACKAGES=(/,/)/p' "$ROOT/.ci/dev" | tr -d '()' |
        sed 's/PACKAGES=//' | tr -s ' \n' '\n' | grep -v '^$' | sort)
    # The lines after the build stage's `apt-get install ... \`, up to `&&`.
    df=$(awk '/^FROM .* AS build/ {b = 1} /^FROM .*slim/ {b = 0}
              b && p && /^ *&&/ {p = 0}
              b && p {print}
              b && /--no-install-recommends/ {p = 1}' "$ROOT/docker/Dockerfile" |
        sed 's/\\//g' | tr -s ' \n' '\n' | grep -v '^$' | sort)
    if [ -z "$ci" ] || [ "$ci" != "$df" ]; then
        fail "docker/Dockerfile's build stage installs [$(echo "$df" | tr '\n' ' ')], .ci/dev [$(echo "$ci" | tr '\n' ' ')]"
    fi
}

setup_docker() {
    local rc=0
    DOCKER_SETUP_NET_CHECK=${DOCKER_SETUP_NET_CHECK:-0} bash "$HERE/docker-setup.sh" || rc=$?
    case $rc in
    0) ;;
    77)
        log "SKIP: Docker cannot be installed on this machine (see above); the container test did not run"
        exit 77
        ;;
    *) fail "Docker is installed (or installable) here but does not work; docker-setup.sh said why above" ;;
    esac
    command -v docker-compose >/dev/null 2>&1 ||
        fail "docker-compose is missing (docker-setup.sh installs Debian's docker-compose as root)"
}

build_image() {
    local out=$TMP/build.log
    # Legacy builder (Debian's dockerd has no buildx); tag the build stage
    # too, so that its cache is not a dangling image pruned below.
    if ! (cd "$ROOT" &&
        DOCKER_BUILDKIT=0 docker build -f docker/Dockerfile --target build \
            -t "$BUILD_IMAGE" . &&
        DOCKER_BUILDKIT=0 docker build -f docker/Dockerfile -t "$IMAGE" .) \
        >"$out" 2>&1; then
        grep -v '^DEPRECATED\|^ *BuildKit is\|^ *environment-variable' "$out" | tail -n 30 >&2
        fail "docker build failed (a cold build needs Debian's archive from inside containers: DOCKER_SETUP_NET_CHECK=1 checks that)"
    fi
    # Earlier builds of these tags, now untagged: their layers only.
    docker image prune -f --filter label=org.arenad.image >/dev/null
}

check_image() {
    local cfg
    cfg=$(docker image inspect "$IMAGE" --format '{{json .Config}}')
    expect_eq "image user" "$(json "d['User']" <<<"$cfg")" arenad
    expect_eq "image ARENAD_SOCKET" \
        "$(json "[e for e in d['Env'] if e.startswith('ARENAD_SOCKET=')][0]" <<<"$cfg")" \
        ARENAD_SOCKET=/run/arenad/arenad.sock
    expect_eq "image health check" "$(json "' '.join(d['Healthcheck']['Test'])" <<<"$cfg")" "CMD arenactl ping"
    expect_eq "image volume" "$(json "' '.join(d['Volumes'])" <<<"$cfg")" /run/arenad
    expect_eq "image command" "$(json "d['Cmd'][0]" <<<"$cfg")" arenad
    # Inside: non-root, the programs on PATH with every library found, the
    # socket directory owned by arenad, and no compiler.
    local out
    out=$(docker run --rm --label "$RUN_LABEL" --no-healthcheck --network none "$IMAGE" sh -c '
        set -e
        test "$(id -u)" -ne 0 || { echo "runs as root"; exit 1; }
        for p in arenad arenactl arenad-example; do
            f=$(command -v "$p") || { echo "$p is not on PATH"; exit 1; }
            ! ldd "$f" | grep "not found" || { echo "$p misses a library"; exit 1; }
        done
        test "$(id -u):$(id -g)" = "$1:$2" || { echo "runs as $(id -u):$(id -g), not $1:$2"; exit 1; }
        test "$(stat -c %U:%a /run/arenad)" = arenad:750 || { echo "/run/arenad is $(stat -c %U:%a /run/arenad)"; exit 1; }
        test "$(id -u client) $(id -nG client)" = "$3 client arenad" || { echo "user client is $(id client)"; exit 1; }
        ! command -v cc >/dev/null || { echo "the runtime image has a compiler"; exit 1; }
        arenad --version' sh "$ARENAD_UID" "$ARENAD_GID" "$CLIENT_UID") || fail "image contents: $out"
    log "image $IMAGE: $out, $(docker image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.1f MB", $1 / 1e6}')"
}

start_daemon() {
    # The mounted config: docker/arenad.conf plus one arena of our own, so
    # that the arenas listed prove the mount is read.
    { cat "$ROOT/docker/arenad.conf"; printf '\n[arena mounted]\nsize = 1M\npolicy = best\n'; } >"$TMP/arenad.conf"
    chmod 0644 "$TMP/arenad.conf"
    compose up -d arenad >"$TMP/compose.log" 2>&1 || { cat "$TMP/compose.log" >&2; fail "docker-compose up arenad failed"; }
    local deadline=$((SECONDS + HEALTH_TIMEOUT)) s
    while s=$(health) && [ "$s" != healthy ]; do
        [ "$s" = starting ] || fail "the daemon's health is '$s'"
        [ "$SECONDS" -lt "$deadline" ] || fail "the daemon is not healthy after ${HEALTH_TIMEOUT}s"
        sleep 0.5
    done
    [ "$s" = healthy ] || fail "cannot read the daemon container's health"
    expect_eq "daemon network" "$(docker inspect -f '{{.HostConfig.NetworkMode}}' "$DAEMON")" none
    # It got healthy on a read-only root: it writes nothing outside the volume.
    expect_eq "daemon root read-only, restart policy" \
        "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.RestartPolicy.Name}}' "$DAEMON")" \
        "true unless-stopped"
    # After compose made the volume (with its labels).
    docker run -d --name "$CTL" --label "$RUN_LABEL" --no-healthcheck \
        --network none --ipc private -v "$VOLUME:/run/arenad" \
        -v "$EXAMPLE_VOLUME:/run/arenad-example" "$IMAGE" \
        sleep infinity >/dev/null
}

# arenad is PID 1 in its container: a process left behind by `docker exec`
# (here a background sleep whose shell has exited) is reparented to it and
# must not stay a zombie once it ends.
orphans_reaped() {
    local pid
    pid=$(docker exec "$DAEMON" sh -c 'sleep 0.2 >/dev/null & echo $!') ||
        fail "docker exec in the daemon's container failed"
    wait_for 5 "the orphan (pid $pid) to be reaped" docker exec "$DAEMON" test ! -e "/proc/$pid"
}

check_arenas() {
    local names
    names=$(compose run --rm arenactl list --json 2>"$TMP/compose.log" | json "' '.join(a['name'] for a in d)") ||
        { cat "$TMP/compose.log" >&2; fail "arenactl list from a compose client failed"; }
    expect_eq "arenas (docker/arenad.conf + the mounted extra)" "$names" "buddy default mounted"
}

start_writer() {
    compose up -d writer >"$TMP/compose.log" 2>&1 || { cat "$TMP/compose.log" >&2; fail "docker-compose up writer failed"; }
    wait_for 20 "the writer to publish its blocks" has_published 4
}

# The writer container: own IPC namespace (so its own /dev/shm), no network,
# the socket and example volumes as its only mounts, and the client user.
check_isolation() {
    expect_eq "writer IPC mode" "$(docker inspect -f '{{.HostConfig.IpcMode}}' "$WRITER")" private
    expect_eq "writer network" "$(docker inspect -f '{{.HostConfig.NetworkMode}}' "$WRITER")" none
    expect_eq "writer mounts" \
        "$(docker inspect -f '{{range .Mounts}}{{.Type}}:{{.Name}}:{{.Destination}} {{end}}' "$WRITER" | xargs -n1 | sort | paste -sd' ')" \
        "volume:$EXAMPLE_VOLUME:/run/arenad-example volume:$VOLUME:/run/arenad"
    expect_eq "writer user" "$(docker inspect -f '{{.Config.User}}' "$WRITER")" client
    local a b
    a=$(docker exec "$DAEMON" readlink /proc/1/ns/ipc)
    b=$(docker exec "$WRITER" readlink /proc/1/ns/ipc)
    [ "$a" != "$b" ] || fail "the writer shares the daemon's IPC namespace ($a)"
}

# compose.yaml's reader service checks the bytes of the published blocks.
read_across() {
    local out
    out=$(compose run --rm reader 2>"$TMP/compose.log") ||
        { cat "$TMP/compose.log" >&2; fail "the reader container found wrong bytes or could not read: $out"; }
    expect_eq "blocks verified by the reader" "$(grep -c '^verified ' <<<"$out")" 4
}

# The same from a container running as another uid: in through the socket's
# group (socket_mode 0660), refused without it.
read_as_other_uid() {
    local out
    out=$(client --user "$OTHER_UID:$OTHER_UID" --group-add "$ARENAD_GID" \
        -- arenad-example read --from /run/arenad-example/example.blocks 2>&1) ||
        fail "a reader with uid $OTHER_UID in arenad's group failed: $out"
    # Without the group it must be refused.
    if out=$(client --user "$OTHER_UID:$OTHER_UID" -- arenad-example read --from /run/arenad-example/example.blocks 2>&1); then
        fail "a reader with uid $OTHER_UID outside arenad's group got in: $out"
    fi
    grep -q 'Permission denied' <<<"$out" || fail "uid $OTHER_UID without the group: expected 'Permission denied', got: $out"
}

# Every allocated block of arena "default" is held by the writer's one
# connection, as arenactl in another container shows; segments went out as
# descriptors.
inspect_holders() {
    local blocks
    blocks=$(ctl inspect default --blocks --json)
    local held
    held=$(json "sorted(set((h['client_name'], h['uid']) for b in d['blocks'] if not b['free'] for h in b['holders']))" <<<"$blocks")
    expect_eq "holders of arena default" "$held" "[('arenad-example', $CLIENT_UID)]"
    local n
    n=$(json "sum(1 for b in d['blocks'] if not b['free'] and b['n'] == 65536)" <<<"$blocks")
    expect_eq "64 KiB blocks in arena default" "$n" 4
    local fds
    fds=$(counter fds_sent)
    [ "$fds" -ge 2 ] || fail "fds_sent is $fds: the segment did not go over the socket"
}

kill_writer() {
    # Mid-work: it allocates, writes and frees a scratch block every 100 ms.
    local allocs0 reclaimed0
    allocs0=$(summary default allocs)
    reclaimed0=$(counter reclaimed_connections)
    wait_for 10 "the writer to keep working" summary_above default allocs "$allocs0"
    docker kill "$WRITER" >/dev/null
    wait_for 10 "the killed writer's blocks to be reclaimed" summary_is default live_blocks 0
    local st
    st=$(ctl stats --json)
    [ "$(json "d['reclaimed_connections']" <<<"$st")" -gt "$reclaimed0" ] || fail "reclaimed_connections did not grow"
    [ "$(json "d['reclaimed_blocks']" <<<"$st")" -ge 4 ] || fail "reclaimed_blocks < 4"
    expect_eq "used bytes of arena default after the kill" "$(summary default used_bytes)" 0
    local a
    for a in default buddy mounted; do
        ctl check "$a" >/dev/null || fail "arenactl check $a failed after the kill"
    done
    expect_eq "daemon health after the kill" "$(health)" healthy
}

restart_writer() {
    local seed0
    seed0=$(published | tail -n 1 | cut -d' ' -f4)
    docker start "$WRITER" >/dev/null
    wait_for 20 "the restarted writer to publish" has_published 8
    local seed1
    seed1=$(published | tail -n 1 | cut -d' ' -f4)
    [ "$seed1" != "$seed0" ] || fail "the restarted writer wrote the same pattern (seed $seed1)"
    # Wait until the file in the volume is the new run's, then read it.
    wait_for 10 "the new publication" in_ctl sh -c "tail -n 1 /run/arenad-example/example.blocks | grep -q ' $seed1\$'"
    read_across
    expect_eq "live blocks of arena default after the restart" "$(summary default live_blocks)" 4
}

# Detached blocks outlive the container that made them: one writes and
# exits, another verifies and frees them.
detached_blocks() {
    compose run --rm writer arenad-example write buddy 1000 --count 3 --detach \
        --publish /run/arenad-example/detached.blocks >/dev/null 2>"$TMP/compose.log" ||
        { cat "$TMP/compose.log" >&2; fail "the detached writer failed"; }
    expect_eq "detached blocks in arena buddy" "$(summary buddy detached_blocks)" 3
    local out
    out=$(client -- arenad-example read --from /run/arenad-example/detached.blocks --free 2>&1) ||
        fail "reading and freeing the detached blocks failed: $out"
    expect_eq "live blocks in arena buddy after the free" "$(summary buddy live_blocks)" 0
}

# A client (the image's client user, in arenad's group) uses the arenas but
# may neither destroy one nor touch the socket's directory: that takes the
# daemon's uid. A client running as root may not either.
clients_not_admin() {
    local out
    if out=$(compose run --rm arenactl destroy default --force 2>&1); then
        fail "a compose client destroyed arena default: $out"
    fi
    grep -q "uid $CLIENT_UID" <<<"$out" || fail "destroy by a client: expected a refusal naming uid $CLIENT_UID, got: $out"
    if out=$(client -- rm /run/arenad/arenad.sock 2>&1); then
        fail "a client removed the daemon's socket"
    fi
    grep -q 'Permission denied' <<<"$out" || fail "rm of the socket by a client: expected 'Permission denied', got: $out"
    in_ctl test -S /run/arenad/arenad.sock || fail "the socket is gone after a client tried to remove it"
    # Root in a client container connects (it passes the socket's mode) but
    # is a uid like any other (root_override = 0): no admin, no arena.
    if out=$(client --user 0:0 -- arenactl destroy default --force 2>&1); then
        fail "a root client destroyed arena default: $out"
    fi
    grep -q "uid 0" <<<"$out" || fail "destroy by root: expected a refusal naming uid 0, got: $out"
    if grep -q "allowed to root" <<<"$out"; then
        fail "destroy by root: the refusal names root among those allowed, with root_override = 0: $out"
    fi
    if out=$(client --user 0:0 -- arenactl alloc default 64 2>&1); then
        fail "a root client allocated in arena default: $out"
    fi
    grep -q "needs write access" <<<"$out" || fail "alloc by root: expected a refusal for write access, got: $out"
    expect_eq "arenas after the refusals" "$(ctl list --json | json "' '.join(a['name'] for a in d)")" "buddy default mounted"
}

stop_writer() {
    docker stop "$WRITER" >/dev/null
    expect_eq "writer's exit status on docker stop" "$(docker inspect -f '{{.State.ExitCode}}' "$WRITER")" 0
    expect_eq "live blocks of arena default after the writer stopped" "$(summary default live_blocks)" 0
}

stop_daemon() {
    local h
    h=$(docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}}{{end}}' "$DAEMON")
    [[ "$h" =~ ^0+$ ]] || fail "health check results: $h (0 = passed)"
    local t=$SECONDS
    docker stop "$DAEMON" >/dev/null
    t=$((SECONDS - t))
    expect_eq "daemon's exit status on docker stop" "$(docker inspect -f '{{.State.ExitCode}}' "$DAEMON")" 0
    [ "$t" -lt 8 ] || fail "docker stop took ${t}s"
    docker logs "$DAEMON" 2>&1 | grep -q 'exit status=0' || fail "no 'exit status=0' in the daemon's log"
    in_ctl test ! -e /run/arenad/arenad.sock || fail "the socket is still in the volume after docker stop"
}

main() {
    # One run at a time on a machine (fixed names: a run sweeps what an
    # earlier, killed run left). The lock is on this script: no lock file.
    exec 9<"$HERE/run.sh"
    flock -n 9 || { log "FAIL: another run of $HERE/run.sh is in progress"; exit 1; }
    step "the Dockerfile's packages match .ci/dev's"
    check_package_lists
    step "Docker (docker-setup.sh)"
    setup_docker
    TMP=$(mktemp -d /tmp/arenad-container-test.XXXXXX)
    remove_all
    step "build $IMAGE"
    build_image
    step "check the image"
    check_image
    step "start arenad with docker/compose.yaml and wait until healthy"
    start_daemon
    step "the daemon reaps orphans of docker exec"
    orphans_reaped
    step "list the arenas of the mounted config from a client container"
    check_arenas
    step "start a writer container: 4 blocks of 64 KiB with a pattern"
    start_writer
    step "the writer shares only the socket volume with the daemon (and the example's with readers)"
    check_isolation
    step "verify the bytes from a reader container"
    read_across
    step "a reader of another uid gets in through the socket's group only"
    read_as_other_uid
    step "inspect from another container: the writer holds the blocks"
    inspect_holders
    step "kill the writer mid-work: its blocks are reclaimed, checks pass"
    kill_writer
    step "restart the writer and continue"
    restart_writer
    step "detached blocks outlive their writer's container"
    detached_blocks
    step "a client may use the arenas but not destroy one or replace the socket"
    clients_not_admin
    step "docker stop the writer: it frees its blocks and exits 0"
    stop_writer
    step "docker stop arenad: exit 0, socket removed"
    stop_daemon
    step_end
}

main "$@"
