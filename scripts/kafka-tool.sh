#!/usr/bin/env bash
# Kafka's own command-line tools, as the tutorial uses them, against the local broker: run
# from the jars scripts/kafka-local.sh resolves (no Kafka download needed), or inside the
# broker's container when docker compose runs it.
#
#   scripts/kafka-tool.sh TOOL [ARGS...]
#
#   topics            kafka-topics.sh            --list | --create --topic T | --describe --topic T
#   console-producer  kafka-console-producer.sh  --topic T  (a record per line of stdin)
#   console-consumer  kafka-console-consumer.sh  --topic T --from-beginning [--max-messages N]
#   consumer-groups   kafka-consumer-groups.sh   --describe --group G  (offsets and lag)
#   dump-log          kafka-dump-log.sh          --topic T [--partition N] [--print-data-log ...]
#                     DumpLogSegments on every segment of partition N (default 0) of T: the
#                     segment files are found in the broker's log directory.
#
# ARGS are the Kafka tool's own. Where the console tools renamed a flag in Kafka 4.x
# (--command-config, --command-property, --formatter-property, --reader-property), either
# spelling works with either broker: the wrapper passes the one its version takes.
#
# Which broker, as scripts/kafka-local.sh decides: KAFKA_SECURITY=sasl_ssl the secure one,
# KAFKA_CLUSTER=1 the 3-node cluster, else the zk (Kafka 3.9) or kraft (4.x) broker that
# runs, else docker compose's broker container. --bootstrap-server, when not given, is
# $KAFKA_BOOTSTRAP_SERVERS, else bootstrap.servers in the client config, else that broker's.
# The client config (Java dialect; a TLS or SASL connection) is --command-config FILE or
# $KAFKA_COMMAND_CONFIG. With no broker of ours running, an explicit bootstrap server is
# used with the tools of $KAFKA_MODE (default zk); dump-log needs a local broker's files.
set -euo pipefail

SELF=$(basename "$0")
# Where things are, which broker runs, its jars: kafka-local.sh's own functions.
source "$(dirname "${BASH_SOURCE[0]}")/kafka-local.sh"
log() { echo "kafka-tool: $*" >&2; }

TOOLS=(topics console-producer console-consumer consumer-groups dump-log)
DOCKER_DATA=/var/lib/kafka/data # log.dirs of both compose brokers
DOCKER_BOOTSTRAP=localhost:29092 # their INTERNAL listener, as seen inside the container

usage() { # the comment above, from its usage line on
    sed -n '/^#   scripts/,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}
usage_error() { log "$*"; log "usage: $SELF TOOL [ARGS...], TOOL one of: ${TOOLS[*]} ($SELF --help)"; exit 2; }

# --- which broker ----------------------------------------------------------------------

# The compose service of a running broker container, if any.
compose_broker() {
    local service
    for service in $(docker compose -f "$COMPOSE_FILE" ps --status running --services 2>/dev/null); do
        if [[ $service == kafka || $service == kafka-kraft ]]; then echo "$service"; return 0; fi
    done
    return 1
}

# Prints the target: zk, kraft, secure, cluster, docker:SERVICE, or remote.
find_target() {
    local mode service
    if ((SECURE_ONLY)); then
        mode_alive "$SECURE" || die "the secure broker is not running: start it with KAFKA_SECURITY=sasl_ssl make kafka-up"
        echo "$SECURE"
    elif ((CLUSTER_ONLY)); then
        mode_alive "$CLUSTER" || die "the 3-node cluster is not running: start it with make kafka-cluster-up"
        echo "$CLUSTER"
    elif mode=$(running_mode) && [[ -n $mode ]]; then
        echo "$mode"
    elif docker_available && service=$(compose_broker); then
        echo "docker:$service"
    elif [[ -n $GIVEN_BOOTSTRAP ]]; then
        echo remote
    else
        die "no Kafka broker is running (none started by scripts/kafka-local.sh or docker compose):" \
            "start one with make kafka-up, or name yours with --bootstrap-server"
    fi
}

# Which Kafka's tools: 3.9 for the ZooKeeper brokers (cp-kafka 7.9 is Kafka 3.9), 4.x for
# the KRaft ones.
jar_mode() {
    case $1 in
        zk | docker:kafka) echo zk ;;
        remote) [[ $MODE == zk || $MODE == kraft ]] || die "KAFKA_MODE must be zk or kraft, not '$MODE'"
                echo "$MODE" ;;
        *) echo kraft ;;
    esac
}

default_bootstrap() {
    case $1 in
        "$SECURE") echo localhost:9192 ;;
        "$CLUSTER") cluster_bootstrap ;;
        docker:*) echo "$DOCKER_BOOTSTRAP" ;;
        *) echo "localhost:$KAFKA_PORT" ;;
    esac
}

# Fails with a clear message, rather than the tool's minute of retries, when the broker
# we picked does not answer.
require_answering() {
    local port n
    case $1 in
        "$SECURE") port=$SECURE_PROBE_PORT ;;
        "$CLUSTER")
            for n in "${CLUSTER_NODES[@]}"; do
                [[ $(probe_rc "$(cluster_broker_port "$n")") == 0 ]] && return 0
            done
            die "no node of the 3-node cluster answers on $(cluster_bootstrap) (starting? see make kafka-cluster-status)" ;;
        *) port=$KAFKA_PORT ;;
    esac
    [[ $(probe_rc "$port") == 0 ]] || die "the $1 broker runs but does not answer on localhost:$port (starting? see make kafka-status)"
}

# --- the tools -------------------------------------------------------------------------

# The main class of a tool in the jars of a mode. Kafka 4.0 moved ConsoleProducer and
# DumpLogSegments from kafka_2.13 (kafka.tools) to kafka-tools (org.apache.kafka.tools).
tool_class() {
    case $1:$2 in
        *:topics) echo org.apache.kafka.tools.TopicCommand ;;
        *:console-consumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
        *:consumer-groups) echo org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
        zk:console-producer) echo kafka.tools.ConsoleProducer ;;
        kraft:console-producer) echo org.apache.kafka.tools.ConsoleProducer ;;
        zk:dump-log) echo kafka.tools.DumpLogSegments ;;
        kraft:dump-log) echo org.apache.kafka.tools.DumpLogSegments ;;
    esac
}

# The tool in the broker images: cp-kafka has the commands on PATH, without .sh;
# apache/kafka has the tarball's scripts in /opt/kafka/bin.
docker_tool() {
    if [[ $2 == kafka ]]; then echo "kafka-$1"; else echo "/opt/kafka/bin/kafka-$1.sh"; fi
}

# Kafka 4.x renamed these flags of the console tools (KIP-1147): "4.x name:3.9 name".
renamed_flags() {
    case $1 in
        console-consumer) echo --command-config:--consumer.config --command-property:--consumer-property \
                               --formatter-property:--property ;;
        console-producer) echo --command-config:--producer.config --command-property:--producer-property \
                               --reader-property:--property ;;
    esac
}

# Sets ARGS: the user's arguments with each renamed flag spelled for jar mode $1, tool $2.
spell_flags() {
    local mode=$1 tool=$2 arg name value pair new old out=()
    shift 2
    for arg in "$@"; do
        name=${arg%%=*} value=${arg#"$name"}
        for pair in $(renamed_flags "$tool"); do
            new=${pair%%:*} old=${pair#*:}
            if [[ $mode == zk && $name == "$new" ]]; then name=$old; break; fi
            if [[ $mode != zk && $name == "$old" ]]; then name=$new; break; fi
        done
        out+=("$name$value")
    done
    ARGS=("${out[@]}")
}

# The value of flag $1 in the remaining arguments ("--flag value" or "--flag=value").
flag_value() {
    local flag=$1
    shift
    while (($#)); do
        case $1 in
            "$flag") echo "${2:-}"; return 0 ;;
            "$flag"=*) echo "${1#*=}"; return 0 ;;
        esac
        shift
    done
    return 1
}

config_flag() {
    case $1 in
        console-consumer) [[ $2 == zk ]] && echo --consumer.config || echo --command-config ;;
        console-producer) [[ $2 == zk ]] && echo --producer.config || echo --command-config ;;
        *) echo --command-config ;;
    esac
}

properties_value() { # file, key: the last value given
    sed -n "s/^[[:space:]]*${2//./\\.}[[:space:]]*[=:][[:space:]]*//p" "$1" | tail -n 1
}

# --- dump-log: the segments of one partition -------------------------------------------

# Runs a command where the broker's files are: here, or in its container.
in_broker() {
    if [[ $TARGET == docker:* ]]; then
        docker compose -f "$COMPOSE_FILE" exec -T "${TARGET#docker:}" "$@"
    else
        "$@"
    fi
}

# The broker's log directories (several for the cluster: one per node).
data_dirs() {
    local n
    case $TARGET in
        docker:*) echo "$DOCKER_DATA" ;;
        "$CLUSTER") for n in "${CLUSTER_NODES[@]}"; do echo "$(run_dir "$CLUSTER")/data/node$n"; done ;;
        *) echo "$(run_dir "$TARGET")/data/kafka" ;;
    esac
}

# Prints the partition's segment files, comma-separated, from the first log directory
# that holds a replica of it.
segment_files() {
    local topic=$1 partition=$2 dir entry dirs segments found=() partitions=()
    mapfile -t dirs < <(data_dirs)
    for dir in "${dirs[@]}"; do
        segments=$(in_broker ls -1 "$dir/$topic-$partition" 2>/dev/null) || continue
        while read -r entry; do
            [[ $entry == *.log ]] && found+=("$dir/$topic-$partition/$entry")
        done <<<"$segments"
        ((${#found[@]})) || die "$dir/$topic-$partition holds no segment (.log) file"
        (IFS=,; echo "${found[*]}")
        return 0
    done
    # Not there: say whether the topic is, with which partitions.
    for dir in "${dirs[@]}"; do
        while read -r entry; do
            [[ $entry == "$topic"-* && ${entry#"$topic"-} =~ ^[0-9]+$ ]] && partitions+=("${entry#"$topic"-}")
        done < <(in_broker ls -1 "$dir")
    done
    if ((${#partitions[@]})); then
        die "topic $topic has no partition $partition on this broker" \
            "(partitions here: $(printf '%s\n' "${partitions[@]}" | sort -nu | paste -sd' '))"
    fi
    die "no topic $topic in the broker's log directory (${dirs[*]})"
}

# Sets TOPIC, PARTITION (default 0) and ARGS (DumpLogSegments' own flags) from dump-log's.
parse_dump_log_args() {
    PARTITION=0 ARGS=()
    while (($#)); do
        case $1 in
            --topic | --partition)
                (($# >= 2)) || usage_error "dump-log: $1 needs a value"
                if [[ $1 == --topic ]]; then TOPIC=$2; else PARTITION=$2; fi
                shift 2 ;;
            --topic=*) TOPIC=${1#*=}; shift ;;
            --partition=*) PARTITION=${1#*=}; shift ;;
            --files | --files=*) usage_error "dump-log finds the segment files itself: give --topic and --partition" ;;
            *) ARGS+=("$1"); shift ;;
        esac
    done
    [[ -n ${TOPIC:-} ]] || usage_error "dump-log needs --topic TOPIC (and --partition N, default 0)"
    [[ $PARTITION =~ ^[0-9]+$ ]] || usage_error "dump-log: --partition must be a partition number, not '$PARTITION'"
}

# --- main ------------------------------------------------------------------------------

(($#)) || usage_error "no tool named"
TOOL=$1
shift
case $TOOL in
    -h | --help | help) usage; exit 0 ;;
    topics | console-producer | console-consumer | consumer-groups | dump-log) ;;
    *) usage_error "unknown tool '$TOOL'" ;;
esac
[[ $TOOL != dump-log ]] || parse_dump_log_args "$@"

CONFIG=$(flag_value --command-config "$@" || flag_value --consumer.config "$@" ||
         flag_value --producer.config "$@" || echo "${KAFKA_COMMAND_CONFIG:-}")
[[ -z $CONFIG || -r $CONFIG ]] || die "client config $CONFIG does not exist or is not readable"
GIVEN_BOOTSTRAP=$(flag_value --bootstrap-server "$@" || echo "${KAFKA_BOOTSTRAP_SERVERS:-}")
if [[ -z $GIVEN_BOOTSTRAP && -n $CONFIG ]]; then GIVEN_BOOTSTRAP=$(properties_value "$CONFIG" bootstrap.servers); fi

TARGET=$(find_target)
JARS=$(jar_mode "$TARGET")
if [[ $TARGET == "$SECURE" && -z $CONFIG && $TOOL != dump-log ]]; then
    die "the secure broker needs a client config: --command-config FILE or \$KAFKA_COMMAND_CONFIG," \
        "e.g. $(run_dir "$SECURE")/clients/admin.properties"
fi

if [[ $TOOL == dump-log ]]; then
    [[ $TARGET != remote ]] || die "dump-log reads the broker's own files: it needs a broker started by" \
        "scripts/kafka-local.sh or docker compose"
    ARGS=(--files "$(segment_files "$TOPIC" "$PARTITION")" "${ARGS[@]}")
else
    spell_flags "$JARS" "$TOOL" "$@"
    if ! flag_value --bootstrap-server "$@" >/dev/null; then
        if [[ -n $GIVEN_BOOTSTRAP && $TARGET != docker:* ]]; then
            ARGS+=(--bootstrap-server "$GIVEN_BOOTSTRAP")
        else
            [[ $TARGET == docker:* ]] || require_answering "$TARGET"
            ARGS+=(--bootstrap-server "$(default_bootstrap "$TARGET")")
        fi
    fi
    if [[ -n $CONFIG ]]; then
        [[ $TARGET != docker:* ]] || die "a client config is not passed into the container:" \
            "docker compose's brokers are plaintext (unset KAFKA_COMMAND_CONFIG)"
        flag_value "$(config_flag "$TOOL" "$JARS")" "${ARGS[@]}" >/dev/null ||
            ARGS+=("$(config_flag "$TOOL" "$JARS")" "$CONFIG")
    fi
fi

if [[ $TARGET == docker:* ]]; then
    tty=(-T)
    [[ -t 0 && -t 1 ]] && tty=()
    exec docker compose -f "$COMPOSE_FILE" exec "${tty[@]}" "${TARGET#docker:}" \
        "$(docker_tool "$TOOL" "${TARGET#docker:}")" "${ARGS[@]}"
fi

command -v java >/dev/null || die "java (17 or later) is needed to run Kafka's tools"
ensure_jars_locked "$JARS"
if [[ $JARS == zk ]]; then
    logging=-Dlog4j.configuration=file:$REPO_DIR/kafka/zk/tools-log4j.properties
else
    logging=-Dlog4j2.configurationFile=$REPO_DIR/kafka/kraft/tools-log4j2.properties
fi
# A tool is short-lived: a small heap, and the JIT's quick tier (a third faster to start).
exec java -Xmx256M -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true "$logging" \
    -cp "$(libs_dir "$JARS")/*" "$(tool_class "$JARS" "$TOOL")" "${ARGS[@]}"
