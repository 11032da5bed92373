#!/usr/bin/env bash
# devstack.sh - run the vl2ingest dev/test backing services natively (no Docker):
#
#   * Apache Kafka 4.x, single node in KRaft combined mode (broker+controller),
#     assembled from Maven Central jars (scripts/kafka/pom.xml).
#   * An S3 server: versitygw (posix backend), built with `go install`.
#
# Usage: scripts/devstack.sh up | down [--purge] | status | env
#
#   up            start both services (idempotent; fast when already running)
#   down          stop the processes recorded in our pid files (idempotent)
#   down --purge  ... and wipe their data dirs (keeps cached jars/binary/credentials)
#   status        print state; exit 0 only if both services are running
#   env           print `export VL2INGEST_TEST_*=...` lines (eval "$(scripts/devstack.sh env)")
#
# Everything lives under <repo>/.cache/devstack/ (git-ignored):
#   kafka-libs/   broker jars (+ .stamp = hash of scripts/kafka/pom.xml)
#   bin/          versitygw binary
#   kafka/        server.properties, cluster.id, data/ (log dirs), logs/server.log, kafka.pid
#   s3/           data/ (bucket root), meta/ (sidecar metadata, only if needed), versitygw.log, versitygw.pid
#   credentials   randomly generated S3 root key pair (mode 600, never committed)
#   env           KEY=VALUE file with the VL2INGEST_TEST_* variables (for Python fixtures)
#
# Environment overrides:
#   VL2INGEST_DEV_KAFKA_PORT             PLAINTEXT broker port       (default 19092)
#   VL2INGEST_DEV_KAFKA_CONTROLLER_PORT  KRaft controller port       (default broker port + 1)
#   VL2INGEST_DEV_S3_PORT                S3 HTTP port                (default 17070)
#   VL2INGEST_DEV_S3_META                xattr | sidecar             (default: xattr, falling
#                                        back to sidecar if the filesystem lacks user xattrs)
#   VL2INGEST_DEV_START_TIMEOUT          seconds to wait for each service (default 90)
#   JAVA_HOME / MVN / GO                 toolchain selection
set -euo pipefail

# --------------------------------------------------------------------------- config

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
STATE_DIR="$REPO_ROOT/.cache/devstack"

HOST=127.0.0.1
KAFKA_PORT=${VL2INGEST_DEV_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${VL2INGEST_DEV_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
S3_PORT=${VL2INGEST_DEV_S3_PORT:-17070}
START_TIMEOUT=${VL2INGEST_DEV_START_TIMEOUT:-90}

KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
KAFKA_LOG4J="$SCRIPT_DIR/kafka/log4j2.xml"
KAFKA_LIBS="$STATE_DIR/kafka-libs"
KAFKA_DIR="$STATE_DIR/kafka"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_LOGS="$KAFKA_DIR/logs"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:-"-Xms256m -Xmx512m"}

VERSITYGW_MODULE="github.com/versity/versitygw/cmd/versitygw"
VERSITYGW_VERSION="v1.7.0"
BIN_DIR="$STATE_DIR/bin"
VERSITYGW="$BIN_DIR/versitygw"
S3_DIR="$STATE_DIR/s3"
S3_DATA="$S3_DIR/data"
S3_SIDECAR="$S3_DIR/meta"
S3_LOG="$S3_DIR/versitygw.log"
S3_PID="$S3_DIR/versitygw.pid"
S3_META_MODE_FILE="$S3_DIR/meta-mode"
# Health endpoint; '_' is illegal in bucket names so it can't shadow a bucket.
S3_HEALTH_PATH="/_devstack_health"

CREDS_FILE="$STATE_DIR/credentials"
ENV_FILE="$STATE_DIR/env"

# --------------------------------------------------------------------------- helpers

log() { printf 'devstack: %s\n' "$*" >&2; }
die() { printf 'devstack: ERROR: %s\n' "$*" >&2; exit 1; }

# sha256 of a file (GNU coreutils or macOS/perl shasum).
hash_file() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# port_open PORT -> 0 if something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Command line of a live PID (empty if gone).
pid_cmdline() {
    if [[ -r /proc/$1/cmdline ]]; then tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
    else ps -o args= -p "$1" 2>/dev/null || true; fi
}

# pid_from FILE MARKER -> prints the PID recorded in FILE if that process is alive
# AND its command line contains MARKER (guards against PID reuse after a reboot
# or crash: we never signal a process that isn't ours). Returns 1 otherwise.
pid_from() {
    local file=$1 marker=$2 pid
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ $(pid_cmdline "$pid") == *"$marker"* ]] || return 1
    printf '%s\n' "$pid"
}

# Markers that identify *our* processes (they include this checkout's state dir).
kafka_pid()  { pid_from "$KAFKA_PID" "$KAFKA_CONF"; }
s3_pid()     { pid_from "$S3_PID" "$VERSITYGW"; }
kafka_up()   { kafka_pid >/dev/null && port_open "$KAFKA_PORT"; }
s3_up()      { s3_pid >/dev/null && s3_healthy; }

s3_healthy() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 2 "http://$HOST:$S3_PORT$S3_HEALTH_PATH" 2>/dev/null
    else
        port_open "$S3_PORT"
    fi
}

# Launch a long-running server detached from this shell: own session (so ^C in
# `make` or the CI step's process group doesn't reach it), stdin from /dev/null,
# and fd 9 (our lock) closed so the server doesn't hold the lock forever.
# `setsid` is not a process-group leader here, so it execs in place and $! is the
# server's own PID.
launch() {
    local out=$1; shift
    if command -v setsid >/dev/null 2>&1; then
        setsid nohup "$@" </dev/null >>"$out" 2>&1 9>&- &
    else
        nohup "$@" </dev/null >>"$out" 2>&1 9>&- &
    fi
    LAUNCHED_PID=$!
}

show_tail() {  # show_tail FILE...
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        printf -- '----- last lines of %s -----\n' "$f" >&2
        tail -n 40 "$f" >&2
    done
}

# wait_exit NAME PID TIMEOUT: wait for a PID we already signalled (SIGTERM) to
# exit; escalate to SIGKILL after TIMEOUT seconds.
wait_exit() {
    local name=$1 pid=$2 timeout=$3 i
    for ((i = 0; i < timeout * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name: did not exit after ${timeout}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    log "$name: stopped"
}

# stop_service PIDFILE NAME MARKER TIMEOUT: SIGTERM, wait, SIGKILL if needed. Only
# ever signals the PID in our pid file, and only if its command line still matches.
stop_service() {
    local pidfile=$1 name=$2 marker=$3 timeout=$4 pid
    if pid=$(pid_from "$pidfile" "$marker"); then
        log "$name: stopping pid $pid"
        kill -TERM "$pid" 2>/dev/null || true
        wait_exit "$name" "$pid" "$timeout"
    else
        log "$name: not running"
    fi
    rm -f "$pidfile"
}

find_java() {
    if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then JAVA="$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then JAVA=java
    else die "java not found (Kafka 4.x needs Java 17+); install a JDK or set JAVA_HOME"; fi
    local major
    major=$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p')
    major=${major%%$'\n'*}
    [[ $major =~ ^[0-9]+$ && $major -ge 17 ]] || die "Kafka 4.x needs Java 17+, found: $("$JAVA" -version 2>&1)"
}

find_go() {
    if [[ -n ${GO:-} ]]; then return; fi
    if command -v go >/dev/null 2>&1; then GO=go
    elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go   # default tarball location
    else die "go not found; needed once to build versitygw ($VERSITYGW_MODULE@$VERSITYGW_VERSION)"; fi
}

# Generate one random lowercase-hex string of N bytes.
rand_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# --------------------------------------------------------------------------- one-time setup

ensure_credentials() {
    [[ -s $CREDS_FILE ]] && return 0
    log "generating S3 root credentials in $CREDS_FILE"
    local access secret
    access=$(rand_hex 10 | tr '[:lower:]' '[:upper:]')   # 20 chars, AWS-like
    secret=$(rand_hex 20)                                 # 40 chars
    (umask 077 && printf 'S3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\n' "$access" "$secret" >"$CREDS_FILE")
}

read_credentials() {
    [[ -s $CREDS_FILE ]] || die "no credentials yet; run '$0 up' first"
    S3_ACCESS_KEY=$(sed -n 's/^S3_ACCESS_KEY=//p' "$CREDS_FILE")
    S3_SECRET_KEY=$(sed -n 's/^S3_SECRET_KEY=//p' "$CREDS_FILE")
    [[ -n $S3_ACCESS_KEY && -n $S3_SECRET_KEY ]] || die "malformed $CREDS_FILE (delete it to regenerate)"
}

# Fetch the broker's runtime jars from Maven Central once per pom revision.
ensure_kafka_libs() {
    local want
    want=$(hash_file "$KAFKA_POM")
    if [[ -f $KAFKA_LIBS/.stamp && $(<"$KAFKA_LIBS/.stamp") == "$want" ]]; then return 0; fi
    local mvn=${MVN:-mvn}
    command -v "$mvn" >/dev/null 2>&1 || die "maven ('$mvn') not found; needed once to fetch the Kafka jars"
    log "fetching Kafka jars from Maven Central into $KAFKA_LIBS (one-time)"
    rm -rf "$KAFKA_LIBS.tmp"
    "$mvn" -B -Dstyle.color=never -f "$KAFKA_POM" \
        org.apache.maven.plugins:maven-dependency-plugin:3.7.1:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS.tmp" \
        >"$STATE_DIR/maven.log" 2>&1 \
        || { show_tail "$STATE_DIR/maven.log"; die "maven copy-dependencies failed (full log: $STATE_DIR/maven.log)"; }
    rm -rf "$KAFKA_LIBS"
    mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
    printf '%s\n' "$want" >"$KAFKA_LIBS/.stamp"
}

# Build versitygw once. The version is baked in via -ldflags and checked with
# --version, so bumping VERSITYGW_VERSION triggers a rebuild.
ensure_versitygw() {
    local have=""
    # (Captured first: `... | grep -q` under pipefail can fail via SIGPIPE.)
    [[ -x $VERSITYGW ]] && have=$("$VERSITYGW" --version 2>/dev/null || true)
    [[ $have == *"Version  : $VERSITYGW_VERSION"* ]] && return 0
    find_go
    log "building versitygw $VERSITYGW_VERSION into $BIN_DIR (one-time, takes a minute or two)"
    mkdir -p "$BIN_DIR"
    # Run outside the repo so a go.mod/go.work here can never interfere.
    (cd "$STATE_DIR" && GOBIN="$BIN_DIR" GOFLAGS=-buildvcs=false \
        "$GO" install -ldflags "-X main.Version=$VERSITYGW_VERSION" \
        "$VERSITYGW_MODULE@$VERSITYGW_VERSION") || die "go install of versitygw failed"
}

# --------------------------------------------------------------------------- kafka

write_kafka_config() {
    mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
    # KRaft cluster id: 16 random bytes, base64url without padding (Kafka Uuid format).
    # Like Kafka's own Uuid.randomUuid(), never start with '-': the CLI would read it as a flag.
    if [[ ! -s $KAFKA_DIR/cluster.id || $(<"$KAFKA_DIR/cluster.id") == -* ]]; then
        local id="-"
        while [[ $id == -* ]]; do
            id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        done
        printf '%s' "$id" >"$KAFKA_DIR/cluster.id"
    fi
    cat >"$KAFKA_CONF" <<EOF
# Generated by scripts/devstack.sh on every 'up' - edit the script, not this file.
process.roles=broker,controller
node.id=1
# Static quorum (kraft.version 0): lets 'storage format' run without --standalone.
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA

# Single-node settings.
num.partitions=3
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

# Small machine / fast tests: fewer threads, and internal topics with few partitions
# (creating 50 partitions for __consumer_offsets on first use costs seconds).
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
offsets.topic.num.partitions=3
transaction.state.log.num.partitions=3
log.retention.hours=24
EOF
}

format_kafka_storage() {
    # Only needed once per data dir; skipping it saves a JVM start on warm 'up'.
    [[ -f $KAFKA_DATA/meta.properties ]] && return 0
    log "formatting KRaft storage in $KAFKA_DATA"
    "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_LOGS" \
        -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format \
        --cluster-id="$(<"$KAFKA_DIR/cluster.id")" -c "$KAFKA_CONF" --ignore-formatted \
        >"$KAFKA_LOGS/format.out" 2>&1 \
        || { show_tail "$KAFKA_LOGS/format.out"; die "kafka storage format failed"; }
}

start_kafka() {
    local pid
    if kafka_up; then log "kafka: already running (pid $(kafka_pid)) on $HOST:$KAFKA_PORT"; return 0; fi
    if pid=$(kafka_pid); then
        # Process exists but the port isn't open yet (e.g. a concurrent 'up'): just wait.
        log "kafka: pid $pid is starting, waiting"
    else
        port_open "$KAFKA_PORT" && die "port $HOST:$KAFKA_PORT is in use by a process that is not ours"
        port_open "$KAFKA_CONTROLLER_PORT" && die "port $HOST:$KAFKA_CONTROLLER_PORT is in use by a process that is not ours"
        ensure_kafka_libs
        find_java
        write_kafka_config
        format_kafka_storage
        # Fresh log per start so the readiness grep can't match a previous run.
        [[ -f $KAFKA_LOGS/server.log ]] && mv -f "$KAFKA_LOGS/server.log" "$KAFKA_LOGS/server.log.prev"
        : >"$KAFKA_LOGS/kafka.out"
        log "kafka: starting on $HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
        # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS is intentionally word-split
        launch "$KAFKA_LOGS/kafka.out" "$JAVA" $KAFKA_HEAP_OPTS \
            -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
            -Djava.awt.headless=true \
            -Dkafka.logs.dir="$KAFKA_LOGS" -Dlog4j2.configurationFile="$KAFKA_LOG4J" \
            -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF"
        pid=$LAUNCHED_PID
        printf '%s\n' "$pid" >"$KAFKA_PID"
    fi
    local deadline=$((SECONDS + START_TIMEOUT))
    until grep -q 'Kafka Server started' "$KAFKA_LOGS/server.log" 2>/dev/null && port_open "$KAFKA_PORT"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$KAFKA_PID"
            show_tail "$KAFKA_LOGS/kafka.out" "$KAFKA_LOGS/server.log"
            die "kafka exited during startup (logs above, full log: $KAFKA_LOGS/server.log)"
        fi
        if ((SECONDS >= deadline)); then
            show_tail "$KAFKA_LOGS/kafka.out" "$KAFKA_LOGS/server.log"
            stop_service "$KAFKA_PID" kafka "$KAFKA_CONF" 30
            die "kafka not ready after ${START_TIMEOUT}s (logs above)"
        fi
        sleep 0.5
    done
    log "kafka: ready (pid $pid)"
}

# --------------------------------------------------------------------------- s3

start_s3() {
    if s3_up; then log "s3: already running (pid $(s3_pid)) on $HOST:$S3_PORT"; return 0; fi
    local pid mode
    if pid=$(s3_pid); then
        log "s3: pid $pid is starting, waiting"
    else
        port_open "$S3_PORT" && die "port $HOST:$S3_PORT is in use by a process that is not ours"
        ensure_versitygw
        read_credentials
        mkdir -p "$S3_DATA"
        # Metadata (ETag, content-type, user metadata) is kept in user.* xattrs by
        # default. Filesystems without user xattrs (some overlayfs/tmpfs/NFS setups)
        # make versitygw refuse to start; then we use a sidecar metadata dir instead.
        # The choice is remembered so existing objects keep their metadata.
        mode=${VL2INGEST_DEV_S3_META:-$(cat "$S3_META_MODE_FILE" 2>/dev/null || echo xattr)}
        launch_s3 "$mode"
        pid=$LAUNCHED_PID
    fi
    local deadline=$((SECONDS + START_TIMEOUT))
    until s3_healthy; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$S3_PID"
            if [[ ${mode:-} == xattr && -z ${VL2INGEST_DEV_S3_META:-} ]] && grep -q 'xattr' "$S3_LOG" 2>/dev/null; then
                log "s3: filesystem has no user xattr support, retrying with sidecar metadata"
                mode=sidecar
                launch_s3 "$mode"
                pid=$LAUNCHED_PID
                continue
            fi
            show_tail "$S3_LOG"
            die "versitygw exited during startup (log above: $S3_LOG)"
        fi
        if ((SECONDS >= deadline)); then
            show_tail "$S3_LOG"
            stop_service "$S3_PID" s3 "$VERSITYGW" 10
            die "versitygw not ready after ${START_TIMEOUT}s (log above)"
        fi
        sleep 0.2
    done
    [[ -n ${mode:-} ]] && printf '%s\n' "$mode" >"$S3_META_MODE_FILE"
    log "s3: ready (pid $pid)"
}

launch_s3() {
    local mode=$1 meta_args=()
    case $mode in
        xattr) ;;
        sidecar) mkdir -p "$S3_SIDECAR"; meta_args=(--sidecar "$S3_SIDECAR") ;;
        *) die "VL2INGEST_DEV_S3_META must be 'xattr' or 'sidecar', got '$mode'" ;;
    esac
    log "s3: starting versitygw on $HOST:$S3_PORT (posix backend, $mode metadata)"
    # Root credentials go via environment variables, not argv, so they don't show up in `ps`.
    ROOT_ACCESS_KEY_ID="$S3_ACCESS_KEY" ROOT_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
        launch "$S3_LOG" "$VERSITYGW" \
        --port "$HOST:$S3_PORT" --region us-east-1 --quiet --health "$S3_HEALTH_PATH" \
        posix "${meta_args[@]}" "$S3_DATA"
    printf '%s\n' "$LAUNCHED_PID" >"$S3_PID"
}

# --------------------------------------------------------------------------- env

write_env_file() {
    read_credentials
    (umask 077 && cat >"$ENV_FILE.tmp" <<EOF
VL2INGEST_TEST_KAFKA=$HOST:$KAFKA_PORT
VL2INGEST_TEST_S3=http://$HOST:$S3_PORT
VL2INGEST_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY
VL2INGEST_TEST_S3_SECRET_KEY=$S3_SECRET_KEY
EOF
    )
    mv -f "$ENV_FILE.tmp" "$ENV_FILE"
}

# --------------------------------------------------------------------------- commands

# Serialise up/down (e.g. `make -j`) when flock(1) is available. Servers are
# launched with fd 9 closed so they don't inherit the lock.
take_lock() {
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$STATE_DIR/.lock"
        flock -w 300 9 || die "timed out waiting for another devstack.sh to finish"
    fi
}

cmd_up() {
    take_lock
    if kafka_up && s3_up; then
        log "already running: kafka $HOST:$KAFKA_PORT (pid $(kafka_pid)), s3 http://$HOST:$S3_PORT (pid $(s3_pid))"
        [[ -f $ENV_FILE ]] || write_env_file
        return 0
    fi
    # Fail before starting anything if a port we need belongs to someone else.
    if ! kafka_pid >/dev/null; then
        port_open "$KAFKA_PORT" && die "port $HOST:$KAFKA_PORT is in use by a process that is not ours (set VL2INGEST_DEV_KAFKA_PORT)"
        port_open "$KAFKA_CONTROLLER_PORT" && die "port $HOST:$KAFKA_CONTROLLER_PORT is in use by a process that is not ours (set VL2INGEST_DEV_KAFKA_CONTROLLER_PORT)"
    fi
    if ! s3_pid >/dev/null; then
        port_open "$S3_PORT" && die "port $HOST:$S3_PORT is in use by a process that is not ours (set VL2INGEST_DEV_S3_PORT)"
    fi
    ensure_credentials
    # Build/fetch both artifacts before starting anything, so a build failure
    # doesn't leave half a stack running.
    ensure_kafka_libs
    ensure_versitygw
    start_kafka
    start_s3
    write_env_file
    log "up: kafka=$HOST:$KAFKA_PORT s3=http://$HOST:$S3_PORT env=$ENV_FILE"
}

cmd_down() {
    local purge=0
    case ${1:-} in
        "") ;;
        --purge) purge=1 ;;
        *) die "usage: $0 down [--purge]" ;;
    esac
    take_lock
    # Signal both first so their shutdowns overlap, then wait for each.
    local kpid spid
    kpid=$(kafka_pid) || kpid=""
    spid=$(s3_pid) || spid=""
    if [[ -n $kpid ]]; then log "kafka: stopping pid $kpid"; kill -TERM "$kpid" 2>/dev/null || true
    else log "kafka: not running"; fi
    if [[ -n $spid ]]; then log "s3: stopping pid $spid"; kill -TERM "$spid" 2>/dev/null || true
    else log "s3: not running"; fi
    [[ -n $spid ]] && wait_exit s3 "$spid" 15
    # Kafka's controlled shutdown of a combined node normally takes ~1-2 s.
    [[ -n $kpid ]] && wait_exit kafka "$kpid" 60
    rm -f "$KAFKA_PID" "$S3_PID"
    if ((purge)); then
        log "purging data: $KAFKA_DATA $KAFKA_LOGS $S3_DATA $S3_SIDECAR"
        rm -rf "$KAFKA_DATA" "$KAFKA_LOGS" "$KAFKA_DIR/cluster.id" \
            "$S3_DATA" "$S3_SIDECAR" "$S3_META_MODE_FILE" "$S3_LOG"
    fi
}

cmd_status() {
    local rc=0 pid
    if pid=$(kafka_pid); then
        if port_open "$KAFKA_PORT"; then echo "kafka: running  pid=$pid  bootstrap=$HOST:$KAFKA_PORT controller=$HOST:$KAFKA_CONTROLLER_PORT"
        else echo "kafka: starting pid=$pid  (port $KAFKA_PORT not open yet)"; rc=1; fi
    else
        echo "kafka: stopped"; rc=1
    fi
    if pid=$(s3_pid); then
        if s3_healthy; then echo "s3:    running  pid=$pid  endpoint=http://$HOST:$S3_PORT ($(cat "$S3_META_MODE_FILE" 2>/dev/null || echo xattr) metadata)"
        else echo "s3:    starting pid=$pid  (not answering on $S3_PORT yet)"; rc=1; fi
    else
        echo "s3:    stopped"; rc=1
    fi
    echo "state: $STATE_DIR"
    return $rc
}

cmd_env() {
    # Print what 'up' recorded (reflects the ports actually in use).
    [[ -f $ENV_FILE ]] || die "$ENV_FILE not found; run '$0 up' first"
    local line
    while IFS= read -r line; do
        [[ $line == *=* ]] || continue
        printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"
    done <"$ENV_FILE"
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    mkdir -p "$STATE_DIR"
    case $cmd in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        env) cmd_env "$@" ;;
        -h | --help | help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" ;;
        *) echo "usage: $0 {up|down [--purge]|status|env}" >&2; exit 2 ;;
    esac
}

main "$@"
