#!/usr/bin/env bash
# `make stress-broker`: `kafka-local.sh down` then `up`, N times in each mode, while CPU
# burners keep both cores busy (a loaded machine widens every start-up race: 8 burners
# made the pid check before this script's fix fail 1 start in 20).
#
#   bash scripts/stress-broker-start.sh [ROUNDS (default 30)] [MODES (default "zk kraft")]
#   (env: BURNERS, busy loops to run meanwhile, default 8)
#
# Counts failed starts, and JVMs left running that no pid file names (orphans, which
# `kafka-local.sh orphans` lists). Exits 1 if either is not 0. Leaves no broker running.
set -uo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$REPO_DIR/scripts/kafka-local.sh"
ROUNDS=${1:-30}
MODES=${2:-zk kraft}
BURNER_COUNT=${BURNERS:-8}
BURNERS=()

stop_burners() { ((${#BURNERS[@]})) && kill "${BURNERS[@]}" 2>/dev/null; BURNERS=(); }
trap stop_burners EXIT

total_failures=0 total_orphans=0
for mode in $MODES; do
    export KAFKA_MODE=$mode
    bash "$LOCAL" down >/dev/null 2>&1
    bash "$LOCAL" up >/dev/null 2>&1 || true # jars resolved and data formatted before timing
    for ((i = 0; i < BURNER_COUNT; i++)); do (while :; do :; done) & BURNERS+=($!); done
    failures=0 orphaned=0 started=$SECONDS
    for ((round = 1; round <= ROUNDS; round++)); do
        bash "$LOCAL" down >/dev/null 2>&1
        if ! out=$(bash "$LOCAL" up 2>&1); then
            failures=$((failures + 1))
            echo "--- $mode round $round: up failed:" >&2
            tail -n 20 <<<"$out" >&2
        fi
        # JVMs that no pid file names, left by this round ('down' would stop them).
        left=$(bash "$LOCAL" orphans)
        if [[ -n $left ]]; then
            orphaned=$((orphaned + $(wc -l <<<"$left")))
            echo "--- $mode round $round: orphaned JVM(s): $left" >&2
        fi
    done
    stop_burners
    bash "$LOCAL" down >/dev/null 2>&1
    echo "$mode: $ROUNDS down/up rounds with $BURNER_COUNT CPU burners: $failures failed, $orphaned orphaned JVM(s); $((SECONDS - started)) s"
    total_failures=$((total_failures + failures)) total_orphans=$((total_orphans + orphaned))
done
((total_failures == 0 && total_orphans == 0))
