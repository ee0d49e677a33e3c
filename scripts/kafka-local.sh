#!/usr/bin/env bash
# Run a real single-broker Kafka on localhost:9092 for development and tests, and, on
# request, a secured one beside it.
#
#   bash scripts/kafka-local.sh up|down|status|logs|orphans
#   KAFKA_SECURITY=sasl_ssl bash scripts/kafka-local.sh up|down|status|logs
#   KAFKA_CLUSTER=1 bash scripts/kafka-local.sh up|down|status|logs
#
# With a working Docker engine this drives docker-compose.yml. Without one (our machines
# and CI) it resolves Apache Kafka's jars from Maven Central into .cache/kafka/ and runs
# the JVMs directly:
#   KAFKA_MODE=zk     (default) ZooKeeper + Kafka 3.9 broker
#   KAFKA_MODE=kraft  single-node combined KRaft broker, Kafka 4.x
# Other knobs: KAFKA_CACHE_DIR (default <repo>/.cache/kafka), KAFKA_FRESH=1 (wipe this
# mode's data on up), KAFKA_READY_TIMEOUT (seconds, default 120), KAFKA_NO_DOCKER=1.
#
# KAFKA_SECURITY=sasl_ssl acts on the secure broker only, always local jars (never Docker,
# whatever KAFKA_MODE says): a single-node KRaft Kafka 4.x (the kraft mode's jars) in
# run/secure, with its own data, that runs alongside the plaintext one:
#   9192 SASL_SSL (PLAIN, SCRAM-SHA-256/512)  9193 controller (mutual TLS)
#   9194 SSL with client certificates          9195 SASL_PLAINTEXT (same mechanisms)
# ACLs on (StandardAuthorizer, deny unless allowed); users admin (super user), producer,
# parser and notifier, with random passwords made once; TLS material made once with
# openssl. Its first 'up' writes client config files into run/secure/clients/, creates
# the default topics and grants each script's user what it needs, through
# `.venv/bin/python -m testkit.secure setup` (so `make venv` first).
#
# KAFKA_CLUSTER=1 acts on a local 3-node KRaft cluster (Kafka 4.x, the kraft mode's jars,
# never Docker) in run/cluster, beside the others: nodes 1-3, each a combined broker and
# controller, brokers on localhost:9291-9293, controllers on 9391-9393; internal topics
# at replication factor 3, min.insync.replicas=2. 'up' starts whichever nodes are not
# running (so it also restarts one that was killed) and prints the bootstrap list.
# Without KAFKA_SECURITY or KAFKA_CLUSTER, 'down' stops every broker this script started.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=$(realpath -m "${KAFKA_CACHE_DIR:-$REPO_DIR/.cache/kafka}")
MODE=${KAFKA_MODE:-zk}
READY_TIMEOUT=${KAFKA_READY_TIMEOUT:-120}
STOP_TIMEOUT=30
KAFKA_PORT=9092
PYTHON=${PYTHON:-python3}
PROBE=$REPO_DIR/scripts/kafka_probe.py
COMPOSE_FILE=$REPO_DIR/docker-compose.yml
MODES=(zk kraft)
# The secure broker: its run dir's name under run/ (never one of MODES: it is no
# alternative to them, it runs beside either).
SECURE=secure
SECURE_PORTS=(9192 9193 9194 9195) # SASL_SSL, CONTROLLER, SSL, SASL_PLAINTEXT
# Readiness is asked where no TLS is needed: brokers answer ApiVersions before SASL.
SECURE_PROBE_PORT=9195
SECURE_USERS=(admin producer parser notifier)
# The mutual-TLS client: its certificate's subject is its principal, User:CN=producer-mtls.
MTLS_CLIENT=producer-mtls
VENV_PYTHON=$REPO_DIR/.venv/bin/python
# The 3-node cluster: its run dir's name under run/, and node N's ports.
CLUSTER=cluster
CLUSTER_NODES=(1 2 3)
cluster_broker_port() { echo $((9290 + $1)); }
cluster_controller_port() { echo $((9390 + $1)); }
cluster_bootstrap() {
    local n list=()
    for n in "${CLUSTER_NODES[@]}"; do list+=("localhost:$(cluster_broker_port "$n")"); done
    (IFS=,; echo "${list[*]}")
}
# Only orphans under run/$ORPHAN_SCOPE are stopped: the secure commands leave the
# plaintext broker's JVMs alone, whatever state they are in.
ORPHAN_SCOPE=

log() { echo "kafka-local: $*" >&2; }
die() { log "$*"; exit 1; }

# --- where things live -------------------------------------------------------------

libs_dir() { # the secure broker and the cluster run the kraft mode's jars
    if [[ $1 == "$SECURE" || $1 == "$CLUSTER" ]]; then echo "$CACHE_DIR/libs/kraft"; else echo "$CACHE_DIR/libs/$1"; fi
}
run_dir() { echo "$CACHE_DIR/run/$1"; }
components() { # in start order
    case $1 in
        zk) echo "zookeeper kafka" ;;
        "$CLUSTER") echo "${CLUSTER_NODES[*]/#/node}" ;;
        *) echo "kafka" ;;
    esac
}
ports_of() {
    case $1 in
        zookeeper) echo 2181 ;;
        node*) echo "$(cluster_broker_port "${1#node}") $(cluster_controller_port "${1#node}")" ;;
        kafka) case $2 in
                   zk) echo "$KAFKA_PORT" ;;
                   "$SECURE") echo "${SECURE_PORTS[*]}" ;;
                   *) echo "$KAFKA_PORT 9093" ;;
               esac ;;
    esac
}

# --- process bookkeeping -----------------------------------------------------------

# Prints the pid if the component runs; the run dir must be on its command line, so a
# recycled pid is never mistaken for ours.
component_pid() {
    local mode=$1 name=$2 pidfile pid cmdline
    pidfile="$(run_dir "$mode")/$name.pid"
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"$(run_dir "$mode")/"* ]] || return 1
    echo "$pid"
}

mode_alive() {
    local name
    for name in $(components "$1"); do
        component_pid "$1" "$name" >/dev/null && return 0
    done
    return 1
}

running_mode() {
    local mode
    for mode in "${MODES[@]}"; do
        if mode_alive "$mode"; then echo "$mode"; return 0; fi
    done
}

# Running, and not a zombie waiting for its parent to reap it.
alive() { [[ -r /proc/$1/stat && $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) != Z ]]; }

# TERM, then KILL after STOP_TIMEOUT; fails if it had to be killed.
stop_pid() {
    local pid=$1 name=$2 waited
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((waited = 0; waited < STOP_TIMEOUT * 10; waited++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    log "$name did not stop within ${STOP_TIMEOUT}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    return 1
}

stop_component() {
    local mode=$1 name=$2 pid
    if pid=$(component_pid "$mode" "$name"); then
        log "stopping $name ($mode, pid $pid)"
        stop_pid "$pid" "$name" || return 0 # the pid file stays behind as the sign of an unclean stop
    fi
    rm -f "$(run_dir "$mode")/$name.pid"
}

# JVMs this script started (their command line names its run dir) that no pid file
# names: what a start that went wrong left behind. Prints "pid name" lines.
orphans() {
    local pid cmdline name tracked
    tracked=" $(cat "$CACHE_DIR"/run/*/*.pid 2>/dev/null | tr '\n' ' ' || true) "
    for pid in $(pgrep -f -- "-Dkafka.logs.dir=$CACHE_DIR/run/$ORPHAN_SCOPE" || true); do
        [[ $tracked == *" $pid "* ]] && continue
        cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || continue
        [[ $cmdline == java* ]] || continue
        name=${cmdline#*-Dkafka.log.file=}
        echo "$pid ${name%%.log*}"
    done
}

# Fails if there were none.
stop_orphans() {
    local pid name none=1
    while read -r pid name; do
        log "stopping $name (pid $pid): started by this script, but no pid file names it"
        stop_pid "$pid" "$name" || true
        none=0
    done < <(orphans)
    return $none
}

stop_mode() {
    # In reverse start order: a ZK-mode broker needs ZooKeeper for a clean shutdown.
    local names name i pid
    read -ra names <<<"$(components "$1")"
    if [[ $1 == "$CLUSTER" ]]; then
        # All at once: the last node alone would wait for a controller quorum to let it
        # shut down cleanly, which never comes (it was killed after 30 s).
        for name in "${names[@]}"; do
            if pid=$(component_pid "$1" "$name"); then kill -TERM "$pid" 2>/dev/null || true; fi
        done
    fi
    for ((i = ${#names[@]} - 1; i >= 0; i--)); do stop_component "$1" "${names[i]}"; done
}

# --- probing -----------------------------------------------------------------------

# Exit code of kafka_probe.py: 0 Kafka, 1 nothing listens, 2 no answer, 3 not Kafka.
probe_rc() {
    local rc=0
    "$PYTHON" "$PROBE" --quiet "localhost:$1" --timeout "${2:-2}" || rc=$?
    echo "$rc"
}

listening() { (exec 3<>"/dev/tcp/localhost/$1") 2>/dev/null; }

require_free_port() {
    local port=$1 needed_by=$2
    if [[ $port == "$KAFKA_PORT" ]]; then
        case $(probe_rc "$port") in
            1) return 0 ;;
            0) die "a Kafka broker not started by this script already answers on localhost:$port" \
                   "(docker compose? another checkout?). Stop it, or use it as it is." ;;
            *) die "port $port (needed by $needed_by) is taken by something that is not Kafka." ;;
        esac
    fi
    if listening "$port"; then
        die "port $port (needed by $needed_by) is taken by another process."
    fi
}

# The last lines of each component's log and output. With "new", only what the processes
# this 'up' started wrote: their .out is new, and their .log from its size at the start.
show_log_tail() {
    local mode=$1 lines=$2 new=${3:-} name file from
    for name in $(components "$mode"); do
        [[ -z $new || -v LOG_START[$name] ]] || continue
        for file in "$(run_dir "$mode")/logs/$name.log" "$(run_dir "$mode")/logs/$name.out"; do
            from=0
            [[ -n $new && $file == *.log ]] && from=${LOG_START[$name]}
            [[ -s $file ]] && (($(stat -c %s "$file") > from)) || continue
            log "---- last lines of $file${new:+, written by this start}"
            tail -c +$((from + 1)) "$file" | tail -n "$lines" >&2
        done
    done
}

answer_port() { if [[ $1 == "$SECURE" ]]; then echo "$SECURE_PROBE_PORT"; else echo "$KAFKA_PORT"; fi; }

# Polls until the broker answers ApiVersions; gives up if a process dies or at the deadline.
wait_until_answering() {
    local mode=$1 deadline=$((SECONDS + READY_TIMEOUT)) name port
    port=$(answer_port "$mode")
    while true; do
        [[ $(probe_rc "$port") == 0 ]] && return 0
        if [[ $mode != docker ]]; then
            for name in $(components "$mode"); do
                component_pid "$mode" "$name" >/dev/null || failed_start "$mode" "$name" "exited during startup"
            done
        fi
        if ((SECONDS >= deadline)); then
            [[ $mode == docker ]] || show_log_tail "$mode" 40 new
            die "Kafka did not answer on localhost:$port within ${READY_TIMEOUT}s"
        fi
        sleep 0.5
    done
}

wait_until_listening() {
    local mode=$1 name=$2 port=$3 deadline=$((SECONDS + 30))
    until listening "$port"; do
        component_pid "$mode" "$name" >/dev/null || failed_start "$mode" "$name" "exited during startup"
        ((SECONDS < deadline)) || failed_start "$mode" "$name" "did not listen on $port within 30s"
        sleep 0.2
    done
}

# --- jars and configs --------------------------------------------------------------

pom_stamp() { sha256sum "$REPO_DIR/kafka/$1/pom.xml" | cut -d' ' -f1; }

# The mode's jars are resolved, from its pom as it is now.
jars_fresh() {
    local libs
    libs=$(libs_dir "$1")
    [[ -f $libs/.complete && $(<"$libs/.complete") == "$(pom_stamp "$1")" ]]
}

# Resolves the mode's jars once; the marker holds the pom's hash so editing the pom re-resolves.
ensure_jars() {
    local mode=$1 pom="$REPO_DIR/kafka/$1/pom.xml" libs tmp jar
    libs=$(libs_dir "$mode")
    jars_fresh "$mode" && return 0
    command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Kafka's jars the first time"
    log "resolving Kafka jars for mode $mode from Maven Central (first run only)"
    tmp="$libs.tmp.$$"
    rm -rf "$tmp"
    mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime \
        >"$CACHE_DIR/maven-$mode.log" 2>&1 \
        || { cat "$CACHE_DIR/maven-$mode.log" >&2; die "Maven could not resolve $pom"; }
    pom_stamp "$mode" >"$tmp/.complete"
    if [[ -d $libs ]]; then
        # In place: a broker running from this directory keeps every jar it has open. A
        # jar's name carries its version, so a name in both sets is the same file.
        rm -f "$libs/.complete"
        for jar in "$libs"/*.jar; do [[ -e $tmp/${jar##*/} ]] || rm -f "$jar"; done
        for jar in "$tmp"/*.jar; do [[ -e $libs/${jar##*/} ]] || mv "$jar" "$libs/"; done
        mv "$tmp/.complete" "$libs/.complete"
        rm -rf "$tmp"
    else
        mv "$tmp" "$libs"
    fi
}

# ensure_jars under the lock that 'up' and 'down' take, for a caller that is neither
# (scripts/kafka-tool.sh): only when the jars are stale, so a running 'up' is not waited for.
ensure_jars_locked() {
    jars_fresh "$1" || (take_lock && ensure_jars "$1")
}

render() { # template, output, then NAME=value pairs for @NAME@ placeholders
    local template=$1 out=$2 pair expr=()
    shift 2
    for pair in "$@"; do expr+=(-e "s|@${pair%%=*}@|${pair#*=}|g"); done
    sed "${expr[@]}" "$template" >"$out"
}

logging_opt() {
    if [[ $1 == zk ]]; then
        echo "-Dlog4j.configuration=file:$REPO_DIR/kafka/zk/log4j.properties"
    else
        echo "-Dlog4j2.configurationFile=$REPO_DIR/kafka/kraft/log4j2.properties"
    fi
}

# Sets JAVA_CMD: mode, log name, then JVM flags, main class and its args.
set_java_cmd() {
    local mode=$1 name=$2
    shift 2
    JAVA_CMD=(java -XX:+UseG1GC -Djava.awt.headless=true "$(logging_opt "$mode")"
        "-Dkafka.logs.dir=$(run_dir "$mode")/logs" "-Dkafka.log.file=$name.log"
        -cp "$(libs_dir "$mode")/*" "$@")
}

# Starts a JVM in its own session so it outlives this shell; fd 9 (our lock) is not inherited.
# Until the child execs, $! is a copy of this shell, whose command line is not the JVM's:
# a liveness check then would call a starting JVM dead (1 start in 20 under CPU load).
# So the pid file is written once the JVM runs.
start_component() {
    local mode=$1 name=$2 run pid deadline=$((SECONDS + 30))
    shift 2
    run=$(run_dir "$mode")
    set_java_cmd "$mode" "$name" "$@"
    LOG_START[$name]=$(stat -c %s "$run/logs/$name.log" 2>/dev/null || echo 0)
    nohup setsid "${JAVA_CMD[@]}" >"$run/logs/$name.out" 2>&1 </dev/null 9>&- &
    pid=$!
    STARTED+=("$name:$pid")
    until [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */java ]]; do
        alive "$pid" || failed_start "$mode" "$name" "exited during startup"
        ((SECONDS < deadline)) || failed_start "$mode" "$name" "did not start within 30s"
        sleep 0.02
    done
    echo "$pid" >"$run/$name.pid"
    log "started $name ($mode, pid $pid)"
}

failed_start() {
    show_log_tail "$1" 40 new
    die "$2 $3 (logs in $(run_dir "$1")/logs)"
}

# On a failed 'up', stop what it started: a JVM left running would hold its ports.
stop_started() {
    local i name pid
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do # the broker before ZooKeeper
        name=${STARTED[i]%%:*} pid=${STARTED[i]#*:}
        if alive "$pid"; then
            log "stopping $name (pid $pid), started by this failed 'up'"
            stop_pid "$pid" "$name" || continue # a pid file left: the sign of an unclean stop
        fi
        rm -f "$(run_dir "$MODE")/$name.pid"
    done
    ((${#STARTED[@]} == 0)) || stop_orphans || true # only under run/$ORPHAN_SCOPE
    STARTED=()
}

# A ZK-mode broker that died without a clean shutdown leaves its registration (and
# /controller) in ZooKeeper until its session expires, and a new broker with the same id
# exits with NodeExists. Its leftover pid file is how we know it died.
clear_stale_zk_registration() {
    [[ -e $(run_dir zk)/kafka.pid ]] || return 0
    log "the previous broker did not stop cleanly; clearing its registration in ZooKeeper"
    set_java_cmd zk zookeeper-shell -Xmx128M org.apache.zookeeper.ZooKeeperMain -server localhost:2181
    printf 'delete /brokers/ids/0\ndelete /controller\nquit\n' |
        "${JAVA_CMD[@]}" >"$(run_dir zk)/logs/zookeeper-shell.out" 2>&1 9>&- || true
}

# A cluster or directory id, as StorageTool random-uuid makes one: never starting with
# "-", which StorageTool's argument parser would take for a flag (1 id in 64; failed CI).
new_uuid() {
    "$PYTHON" -c 'import base64, uuid
while (u := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(u)'
}

format_kraft_storage() {
    local run cluster_id
    run=$(run_dir kraft)
    [[ -f $run/data/kafka/meta.properties ]] && return 0 # formatted already; skip a JVM start
    if [[ ! -s $run/cluster.id ]]; then
        new_uuid >"$run/cluster.id"
    fi
    cluster_id=$(<"$run/cluster.id")
    set_java_cmd kraft storage-tool -Xmx256M kafka.tools.StorageTool format --standalone \
        -t "$cluster_id" -c "$run/config/server.properties" --ignore-formatted
    "${JAVA_CMD[@]}" >"$run/logs/storage-tool.out" 2>&1 9>&- \
        || { cat "$run/logs/storage-tool.out" >&2; die "formatting KRaft storage failed"; }
}

# --- the secure broker: passwords, TLS material, storage ---------------------------
# Layout of run/secure (testkit/secure.py reads the same): secrets/USER.password and
# secrets/producer-mtls.key-password; tls/ (CA, certificates, keys); config/, data/,
# logs/ as in the other modes; clients/ (written by testkit.secure setup).

missing_passwords() {
    local user
    for user in "${SECURE_USERS[@]}"; do [[ -s $1/secrets/$user.password ]] || return 0; done
    return 1
}

# Random secrets, made once: 24 URL-safe characters, which need no quoting in JAAS,
# properties files or argfiles. A new key password means new client keys under it.
ensure_secrets() {
    local run=$1 name
    for name in "${SECURE_USERS[@]/%/.password}" "$MTLS_CLIENT.key-password"; do
        [[ -s $run/secrets/$name ]] && continue
        "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(18))' >"$run/secrets/$name.tmp"
        mv "$run/secrets/$name.tmp" "$run/secrets/$name"
        [[ $name == *.key-password ]] && rm -f "$run/tls/$MTLS_CLIENT".*
    done
}

# openssl is chatty on stderr even when it works: its output goes to a log, shown on failure.
# No password is ever an argument (they are read with file:), so naming the command is safe.
ossl() {
    openssl "$@" >>"$TLS_LOG" 2>&1 && return 0
    tail -n 20 "$TLS_LOG" >&2
    die "openssl $1 failed while making TLS material (log: $TLS_LOG)"
}

new_ca() { # dir, name, subject
    ossl req -x509 -new -newkey rsa:2048 -nodes -keyout "$1/$2.key" -out "$1/$2.pem" -days 3650 \
        -subj "$3" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

# A new key (PKCS#8, unencrypted) and a certificate for it signed by a CA: the CA's path
# without .pem, the key file, the certificate file, the subject, then extension lines.
new_cert() {
    local ca=$1 key=$2 cert=$3 subject=$4
    shift 4
    printf '%s\n' basicConstraints=CA:FALSE keyUsage=critical,digitalSignature,keyEncipherment "$@" \
        >"$cert.ext"
    ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$key"
    ossl req -new -key "$key" -subj "$subject" -out "$cert.csr"
    ossl x509 -req -in "$cert.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial -CAserial "$ca.srl" \
        -days 3650 -extfile "$cert.ext" -out "$cert"
    rm -f "$cert.ext" "$cert.csr"
}

# Makes what is missing and nothing that exists; each group's last file marks it complete.
# A new CA, though, means new certificates under it.
ensure_tls() {
    local run=$1 tls=$1/tls client=$1/tls/$MTLS_CLIENT
    TLS_LOG=$tls/openssl.log
    if [[ ! -s $tls/ca.pem || ! -s $tls/ca.key ]]; then
        log "making a local CA and certificates in $tls (first run only)"
        rm -f "$tls"/broker.* "$client".*
        new_ca "$tls" ca "/CN=recipe-alert local CA"
    fi
    if [[ ! -s $tls/broker.keystore.pem ]]; then
        # The broker's identity on every listener, and its client certificate towards its
        # own controller and SSL listeners: principal User:CN=localhost, a super user.
        new_cert "$tls/ca" "$tls/broker.key" "$tls/broker.pem" /CN=localhost \
            extendedKeyUsage=serverAuth,clientAuth subjectAltName=DNS:localhost,IP:127.0.0.1
        cat "$tls/broker.key" "$tls/broker.pem" "$tls/ca.pem" >"$tls/broker.keystore.pem.tmp"
        mv "$tls/broker.keystore.pem.tmp" "$tls/broker.keystore.pem"
    fi
    if [[ ! -s $client.keystore.pem ]]; then
        # The separate key file has openssl's default encryption (PBES2, AES-256), which
        # Python reads; the one-file keystore, for Java-dialect configs, has PBE-SHA1-3DES,
        # which Java's PEM reader can decrypt too (PBES2 it cannot).
        new_cert "$tls/ca" "$client.tmp-key" "$client.pem" "/CN=$MTLS_CLIENT" extendedKeyUsage=clientAuth
        ossl pkcs8 -topk8 -v2 aes-256-cbc -in "$client.tmp-key" \
            -passout "file:$run/secrets/$MTLS_CLIENT.key-password" -out "$client.key"
        ossl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in "$client.tmp-key" \
            -passout "file:$run/secrets/$MTLS_CLIENT.key-password" -out "$client.tmp-3des"
        cat "$client.tmp-3des" "$client.pem" "$tls/ca.pem" >"$client.keystore.pem.tmp"
        rm -f "$client.tmp-key" "$client.tmp-3des"
        mv "$client.keystore.pem.tmp" "$client.keystore.pem"
    fi
    if [[ ! -s $tls/untrusted-ca.pem ]]; then # for tests: a CA the broker and clients don't trust
        new_ca "$tls" untrusted-ca "/CN=untrusted test CA"
        rm -f "$tls"/untrusted-client.*
    fi
    if [[ ! -s $tls/untrusted-client.pem ]]; then # the client's name, the wrong CA: refused
        new_cert "$tls/untrusted-ca" "$tls/untrusted-client.key" "$tls/untrusted-client.pem" \
            "/CN=$MTLS_CLIENT" extendedKeyUsage=clientAuth
    fi
}

# render's twin for a file that holds secrets: placeholders are replaced by bash itself,
# so no value is on a command line (which `ps` shows to every user).
render_private() {
    local template=$1 out=$2 pair text
    shift 2
    text=$(<"$template")
    for pair in "$@"; do text=${text//"@${pair%%=*}@"/"${pair#*=}"}; done
    : >"$out"
    chmod 600 "$out"
    printf '%s\n' "$text" >"$out"
}

render_secure_config() {
    local run=$1 user plain=()
    for user in "${SECURE_USERS[@]}"; do plain+=("user_$user=\"$(<"$run/secrets/$user.password")\""); done
    render_private "$REPO_DIR/kafka/secure/server.properties" "$run/config/server.properties" \
        "LOG_DIRS=$run/data/kafka" "TLS_DIR=$run/tls" "PLAIN_USERS=${plain[*]}"
}

# Formats once, with every user's SCRAM-SHA-256 and -512 credentials in the initial
# metadata. The passwords reach StorageTool in a java @argfile, not on its command line.
format_secure_storage() {
    local run=$1 args user mechanism
    [[ -f $run/data/kafka/meta.properties ]] && return 0 # formatted already; skip a JVM start
    if [[ ! -s $run/cluster.id ]]; then
        new_uuid >"$run/cluster.id"
    fi
    args=$run/secrets/storage-tool.args
    {
        printf '"%s"\n' kafka.tools.StorageTool format --standalone -t "$(<"$run/cluster.id")" \
            -c "$run/config/server.properties" --ignore-formatted
        for user in "${SECURE_USERS[@]}"; do
            for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
                printf '"%s"\n' --add-scram "$mechanism=[name=$user,password=$(<"$run/secrets/$user.password")]"
            done
        done
    } >"$args"
    set_java_cmd "$SECURE" storage-tool -Xmx256M "@$args"
    if ! "${JAVA_CMD[@]}" >"$run/logs/storage-tool.out" 2>&1 9>&-; then
        rm -f "$args"
        cat "$run/logs/storage-tool.out" >&2
        die "formatting the secure broker's storage failed"
    fi
    rm -f "$args"
}

# Where the client configs are, and how to use one; never a password.
secure_hint() {
    local clients
    clients=$(run_dir "$SECURE")/clients
    clients=${clients#"$PWD"/}
    log "client configs for ${SECURE_USERS[*]} in $clients/: USER.properties (Java dialect," \
        "SCRAM-SHA-512) and USER.librdkafka.properties (PLAIN), both SASL_SSL on localhost:9192;" \
        "$MTLS_CLIENT.properties and $MTLS_CLIENT.librdkafka.properties, mutual TLS on localhost:9194"
    log "e.g. python producer_raw_recipes.py --command-config $clients/producer.properties --from-dir ~/saved-recipes"
}

up_secure() {
    local run port
    run=$(run_dir "$SECURE")
    command -v java >/dev/null || die "java is needed (Java 17+)"
    command -v openssl >/dev/null || die "openssl is needed to make the secure broker's certificates"
    # Checked before anything starts: topics and ACLs are set up with the repo's own code.
    [[ -x $VENV_PYTHON ]] || die "$VENV_PYTHON is missing: run \`make venv\` first"
    if component_pid "$SECURE" kafka >/dev/null; then
        if [[ ${KAFKA_FRESH:-0} == 1 ]]; then
            stop_mode "$SECURE"
        elif [[ $(probe_rc "$SECURE_PROBE_PORT") == 0 ]]; then
            log "already running ($SECURE) and answering on localhost:$SECURE_PROBE_PORT"
            secure_hint
            return 0
        fi
    fi

    stop_orphans || true # only the secure broker's (ORPHAN_SCOPE)
    if ! component_pid "$SECURE" kafka >/dev/null; then
        for port in "${SECURE_PORTS[@]}"; do require_free_port "$port" "the secure broker"; done
    fi
    ensure_jars kraft
    if [[ ${KAFKA_FRESH:-0} == 1 ]]; then
        log "KAFKA_FRESH=1: wiping $run/data (the TLS material and passwords stay)"
        rm -rf "$run/data"
    fi
    # SCRAM credentials are in the metadata from the format: a password made anew now
    # would not match them.
    if missing_passwords "$run" && [[ -f $run/data/kafka/meta.properties ]]; then
        die "a user's password file in $run/secrets is gone, but the broker's data holds" \
            "its SCRAM credentials: run again with KAFKA_FRESH=1 (wipes the data)"
    fi
    mkdir -p "$run/config" "$run/logs" "$run/data/kafka" "$run/secrets" "$run/tls" "$run/clients"
    ensure_secrets "$run"
    ensure_tls "$run"
    render_secure_config "$run"
    format_secure_storage "$run"
    if ! component_pid "$SECURE" kafka >/dev/null; then
        start_component "$SECURE" kafka -Xmx512M -Xms256M kafka.Kafka "$run/config/server.properties"
    fi
    wait_until_answering "$SECURE"
    log "the secure broker answers; creating topics, client configs and ACLs (testkit.secure setup)"
    if ! (cd "$REPO_DIR" && KAFKA_CACHE_DIR=$CACHE_DIR "$VENV_PYTHON" -m testkit.secure setup); then
        show_log_tail "$SECURE" 40 new
        die "setting up the secure broker's topics and ACLs failed (logs in $run/logs)"
    fi
    log "Kafka ($SECURE) answers on localhost:9192 (SASL_SSL), 9194 (mutual TLS)" \
        "and 9195 (SASL_PLAINTEXT); logs in $run/logs"
    secure_hint
}

# --- the 3-node cluster ------------------------------------------------------------
# Layout of run/cluster: cluster.id; nodeN.directory.id; config/nodeN.properties;
# data/nodeN/; logs/nodeN.log and .out; nodeN.pid.

# Formats each node once. All three share the cluster id and name the same initial
# controllers (node id, controller port, directory id).
format_cluster_storage() {
    local run=$1 n voters=()
    [[ -s $run/cluster.id ]] || new_uuid >"$run/cluster.id"
    for n in "${CLUSTER_NODES[@]}"; do
        [[ -s $run/node$n.directory.id ]] || new_uuid >"$run/node$n.directory.id"
        voters+=("$n@localhost:$(cluster_controller_port "$n"):$(<"$run/node$n.directory.id")")
    done
    for n in "${CLUSTER_NODES[@]}"; do
        [[ -f $run/data/node$n/meta.properties ]] && continue
        set_java_cmd "$CLUSTER" storage-tool -Xmx256M kafka.tools.StorageTool format \
            -t "$(<"$run/cluster.id")" --initial-controllers "$(IFS=,; echo "${voters[*]}")" \
            -c "$run/config/node$n.properties" --ignore-formatted
        "${JAVA_CMD[@]}" >"$run/logs/storage-tool.out" 2>&1 9>&- \
            || { cat "$run/logs/storage-tool.out" >&2; die "formatting node $n's storage failed"; }
    done
}

# Polls until every node answers ApiVersions; gives up if one dies or at the deadline.
wait_until_cluster_answers() {
    local deadline=$((SECONDS + READY_TIMEOUT)) n pending
    while true; do
        pending=()
        for n in "${CLUSTER_NODES[@]}"; do
            component_pid "$CLUSTER" "node$n" >/dev/null || failed_start "$CLUSTER" "node$n" "exited during startup"
            [[ $(probe_rc "$(cluster_broker_port "$n")") == 0 ]] || pending+=("$n")
        done
        ((${#pending[@]} == 0)) && return 0
        if ((SECONDS >= deadline)); then
            show_log_tail "$CLUSTER" 40 new
            die "node(s) ${pending[*]} did not answer within ${READY_TIMEOUT}s"
        fi
        sleep 0.5
    done
}

up_cluster() {
    local run n port
    run=$(run_dir "$CLUSTER")
    command -v java >/dev/null || die "java is needed (Java 17+)"
    if [[ ${KAFKA_FRESH:-0} == 1 ]]; then
        stop_mode "$CLUSTER"
        log "KAFKA_FRESH=1: wiping $run"
        rm -rf "$run"
    fi
    stop_orphans || true # only the cluster's (ORPHAN_SCOPE)
    for n in "${CLUSTER_NODES[@]}"; do
        component_pid "$CLUSTER" "node$n" >/dev/null && continue
        for port in $(ports_of "node$n"); do require_free_port "$port" "cluster node $n"; done
    done
    ensure_jars kraft
    mkdir -p "$run/config" "$run/logs"
    for n in "${CLUSTER_NODES[@]}"; do
        mkdir -p "$run/data/node$n"
        render "$REPO_DIR/kafka/cluster/server.properties" "$run/config/node$n.properties" \
            "NODE_ID=$n" "BROKER_PORT=$(cluster_broker_port "$n")" \
            "CONTROLLER_PORT=$(cluster_controller_port "$n")" "LOG_DIRS=$run/data/node$n"
    done
    format_cluster_storage "$run"
    # All three before any wait: a controller quorum needs two voters to elect a leader.
    for n in "${CLUSTER_NODES[@]}"; do
        component_pid "$CLUSTER" "node$n" >/dev/null && continue
        start_component "$CLUSTER" "node$n" -Xmx384M -Xms128M kafka.Kafka "$run/config/node$n.properties"
    done
    wait_until_cluster_answers
    log "the 3-node cluster answers; logs in $run/logs"
    echo "$(cluster_bootstrap)" # the bootstrap list, on stdout for scripts
}

status_cluster() {
    local n pid rc all=0
    for n in "${CLUSTER_NODES[@]}"; do
        if pid=$(component_pid "$CLUSTER" "node$n"); then
            echo "node$n ($CLUSTER): running, pid $pid"
        else
            echo "node$n ($CLUSTER): not running"
        fi
        rc=$(probe_rc "$(cluster_broker_port "$n")")
        say_probe "$(cluster_broker_port "$n")" "$rc"
        [[ $rc == 0 ]] || all=1
    done
    echo "bootstrap servers: $(cluster_bootstrap)"
    return $all
}

# --- commands ----------------------------------------------------------------------

docker_available() {
    [[ ${KAFKA_NO_DOCKER:-0} != 1 ]] && command -v docker >/dev/null &&
        timeout 15 docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1
}

take_lock() {
    mkdir -p "$CACHE_DIR"
    exec 9>"$CACHE_DIR/.lock"
    flock -w 600 9 || die "another kafka-local.sh up/down is still running"
}

up_docker() {
    if [[ $MODE == kraft ]]; then # the kraft profile's one service: the default pair holds 9092
        log "Docker is available: starting docker-compose.yml's kafka-kraft (KAFKA_MODE=kraft)"
        docker compose -f "$COMPOSE_FILE" --profile kraft up -d --wait kafka-kraft
    else
        log "Docker is available: starting docker-compose.yml"
        docker compose -f "$COMPOSE_FILE" up -d --wait
    fi
    wait_until_answering docker
    log "Kafka answers on localhost:$KAFKA_PORT (docker compose)"
}

up_local() {
    local other run name port
    [[ $MODE == zk || $MODE == kraft ]] || die "KAFKA_MODE must be zk or kraft, not '$MODE'"
    command -v java >/dev/null || die "java is needed (Java 17+)"
    other=$(running_mode)
    if [[ -n $other && $other != "$MODE" ]]; then
        die "the $other broker started by this script is running; run 'down' first"
    fi
    if [[ -n $other && ${KAFKA_FRESH:-0} == 1 ]]; then
        stop_mode "$MODE"
    elif [[ -n $other && $(probe_rc "$KAFKA_PORT") == 0 ]]; then
        log "already running ($MODE) and answering on localhost:$KAFKA_PORT"
        return 0
    fi

    stop_orphans || true
    run=$(run_dir "$MODE")
    for name in $(components "$MODE"); do
        component_pid "$MODE" "$name" >/dev/null && continue
        for port in $(ports_of "$name" "$MODE"); do require_free_port "$port" "$name"; done
    done
    ensure_jars "$MODE"
    if [[ ${KAFKA_FRESH:-0} == 1 ]]; then
        log "KAFKA_FRESH=1: wiping $run/data"
        rm -rf "$run/data"
    fi
    mkdir -p "$run/config" "$run/logs" "$run/data/zookeeper" "$run/data/kafka"
    render "$REPO_DIR/kafka/$MODE/server.properties" "$run/config/server.properties" "LOG_DIRS=$run/data/kafka"

    if [[ $MODE == zk ]]; then
        render "$REPO_DIR/kafka/zk/zookeeper.properties" "$run/config/zookeeper.properties" \
            "DATA_DIR=$run/data/zookeeper"
        if ! component_pid zk zookeeper >/dev/null; then
            start_component zk zookeeper -Xmx256M \
                org.apache.zookeeper.server.quorum.QuorumPeerMain "$run/config/zookeeper.properties"
        fi
        # The broker gives up if ZooKeeper is not reachable within its connection timeout.
        wait_until_listening zk zookeeper 2181
        component_pid zk kafka >/dev/null || clear_stale_zk_registration
    else
        format_kraft_storage
    fi
    if ! component_pid "$MODE" kafka >/dev/null; then
        start_component "$MODE" kafka -Xmx512M -Xms256M kafka.Kafka "$run/config/server.properties"
    fi
    wait_until_answering "$MODE"
    log "Kafka ($MODE) answers on localhost:$KAFKA_PORT; logs in $run/logs"
}

cmd_up() {
    take_lock
    if ((CLUSTER_ONLY)); then
        MODE=$CLUSTER ORPHAN_SCOPE=$CLUSTER/
    elif ((SECURE_ONLY)); then
        MODE=$SECURE ORPHAN_SCOPE=$SECURE/
        umask 077 # its keys, passwords and the configs that hold them: this user's only
    elif docker_available; then
        up_docker
        return
    fi
    declare -gA LOG_START=()
    STARTED=()
    trap stop_started EXIT
    if ((CLUSTER_ONLY)); then up_cluster; elif ((SECURE_ONLY)); then up_secure; else up_local; fi
    STARTED=()
}

# Stops one of the brokers that run beside the plaintext one: its run dir's name, and
# what to call it.
down_beside() {
    local mode=$1 what=$2 stopped=0
    ORPHAN_SCOPE=$mode/
    if mode_alive "$mode"; then
        stop_mode "$mode"
        stopped=1
    fi
    stop_orphans && stopped=1
    if ((stopped)); then log "stopped $what"; else log "$what was not running"; fi
}

cmd_down() {
    local mode stopped=0
    take_lock
    if ((CLUSTER_ONLY)); then down_beside "$CLUSTER" "the 3-node cluster"; return; fi
    if ((SECURE_ONLY)); then down_beside "$SECURE" "the secure broker"; return; fi
    if docker_available; then docker compose -f "$COMPOSE_FILE" --profile kraft down; fi
    for mode in "${MODES[@]}" "$SECURE" "$CLUSTER"; do # all of them, so that CI's cleanup leaves nothing
        if mode_alive "$mode"; then
            stop_mode "$mode"
            stopped=1
        fi
    done
    stop_orphans && stopped=1
    ((stopped)) && log "stopped" || log "no local broker was running"
}

say_probe() { # port, probe_rc
    case $2 in
        0) echo "localhost:$1: a Kafka broker answers" ;;
        1) echo "localhost:$1: nothing listens" ;;
        2) echo "localhost:$1: something listens but does not answer (starting?)" ;;
        *) echo "localhost:$1: something that is not Kafka listens" ;;
    esac
}

status_secure() {
    local pid rc
    if pid=$(component_pid "$SECURE" kafka); then
        echo "kafka ($SECURE): running, pid $pid"
    else
        echo "kafka ($SECURE): not running"
    fi
    rc=$(probe_rc "$SECURE_PROBE_PORT")
    say_probe "$SECURE_PROBE_PORT" "$rc"
    if [[ $rc == 0 ]]; then
        echo "SASL_SSL on localhost:9192, mutual TLS on localhost:9194, SASL_PLAINTEXT on localhost:$SECURE_PROBE_PORT;" \
             "client configs in $(run_dir "$SECURE")/clients"
    fi
    [[ $rc == 0 ]]
}

cmd_status() {
    local mode name pid rc
    if ((CLUSTER_ONLY)); then status_cluster; return; fi
    if ((SECURE_ONLY)); then status_secure; return; fi
    if docker_available; then docker compose -f "$COMPOSE_FILE" ps; fi
    mode=$(running_mode)
    if [[ -n $mode ]]; then
        for name in $(components "$mode"); do
            if pid=$(component_pid "$mode" "$name"); then
                echo "$name ($mode): running, pid $pid"
            else
                echo "$name ($mode): not running"
            fi
        done
    else
        echo "no local broker started by this script is running"
    fi
    rc=$(probe_rc "$KAFKA_PORT")
    say_probe "$KAFKA_PORT" "$rc"
    if pid=$(component_pid "$SECURE" kafka); then # beside it; KAFKA_SECURITY=sasl_ssl for details
        echo "kafka ($SECURE, KAFKA_SECURITY=sasl_ssl): running, pid $pid"
    fi
    [[ $rc == 0 ]]
}

cmd_logs() {
    local mode
    if ((CLUSTER_ONLY || SECURE_ONLY)); then
        show_log_tail "$( ((CLUSTER_ONLY)) && echo "$CLUSTER" || echo "$SECURE")" "${KAFKA_LOG_LINES:-100}" 2>&1
        return
    fi
    if docker_available; then
        docker compose -f "$COMPOSE_FILE" logs --tail "${KAFKA_LOG_LINES:-100}"
        return
    fi
    mode=$(running_mode)
    show_log_tail "${mode:-$MODE}" "${KAFKA_LOG_LINES:-100}" 2>&1
}

# KAFKA_SECURITY: unset (or empty) for the plaintext broker, sasl_ssl for the secure one.
case ${KAFKA_SECURITY:-} in
    "") SECURE_ONLY=0 ;;
    sasl_ssl | SASL_SSL) SECURE_ONLY=1 ;;
    *) die "KAFKA_SECURITY must be sasl_ssl (the secure broker) or unset, not '$KAFKA_SECURITY'" ;;
esac

# KAFKA_CLUSTER: unset (or empty or 0), or 1 for the 3-node cluster.
case ${KAFKA_CLUSTER:-0} in
    0 | "") CLUSTER_ONLY=0 ;;
    1) CLUSTER_ONLY=1
       ((SECURE_ONLY == 0)) || die "KAFKA_CLUSTER=1 and KAFKA_SECURITY: the cluster is plaintext only" ;;
    *) die "KAFKA_CLUSTER must be 1 (the 3-node cluster) or unset, not '$KAFKA_CLUSTER'" ;;
esac

# Sourced (scripts/kafka-tool.sh does, for where things are), it only defines.
[[ ${BASH_SOURCE[0]} == "$0" ]] || return 0

case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    logs) cmd_logs ;;
    orphans) orphans ;;
    *) echo "usage: $0 up|down|status|logs|orphans   (env: KAFKA_MODE=zk|kraft, KAFKA_SECURITY=sasl_ssl, KAFKA_CLUSTER=1," \
            "KAFKA_FRESH=1, KAFKA_CACHE_DIR)" >&2
       exit 2 ;;
esac
