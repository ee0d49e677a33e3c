"""scripts/kafka-tool.sh in Docker mode, which needs a Docker engine this machine lacks, and
the jar resolution it shares with scripts/kafka-local.sh.

A stand-in `docker` on PATH answers as `docker compose` would with one broker container
running, and prints the command the wrapper would run in it; `ls` in the container is
the real `ls` under a temporary directory. The tools themselves, against a real broker,
are tested in tests/integration/test_kafka_tool.py.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "scripts" / "kafka-tool.sh"
DATA = "/var/lib/kafka/data"

FAKE_DOCKER = """#!/usr/bin/env bash
# docker info / docker compose version / ps / exec, as with $FAKE_SERVICES running.
case "$1 $2" in
    "info "*) [[ -n $FAKE_SERVICES ]]; exit ;;
    "compose version") exit 0 ;;
esac
shift 3 # compose -f FILE
case $1 in
    ps) printf '%s\\n' $FAKE_SERVICES ;;
    exec)
        shift
        [[ $1 == -T ]] && shift
        shift # the service
        if [[ $1 == ls ]]; then exec ls "${@:2:$#-2}" "$FAKE_ROOT${@: -1}"; fi
        echo "EXEC $*" ;;
esac
"""


@pytest.fixture
def docker(tmp_path):
    """Runs the wrapper with the stand-in docker; no broker of kafka-local.sh's is seen."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    root = tmp_path / "root"
    partition = root / DATA.lstrip("/") / "parsed_recipes-1"
    partition.mkdir(parents=True)
    for name in ("00000000000000000000.log", "00000000000000000000.index", "00000000000000000731.log"):
        (partition / name).touch()
    (root / DATA.lstrip("/") / "parsed_recipes-0").mkdir()

    def run(services: str, *args: str, **env: str) -> subprocess.CompletedProcess:
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith("KAFKA_") and k != "CI"}
        environ.update(PATH=f"{bin_dir}:{os.environ['PATH']}", KAFKA_CACHE_DIR=str(tmp_path / "cache"),
                       FAKE_SERVICES=services, FAKE_ROOT=str(root), **env)
        return subprocess.run(["bash", str(TOOL), *args], env=environ, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60)

    return run


def executed(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("EXEC "), result.stdout
    return shlex.split(line[5:])


def test_cp_kafka_runs_its_commands_on_path_with_the_internal_listener(docker):
    assert executed(docker("zookeeper kafka", "topics", "--list")) == \
        ["kafka-topics", "--list", "--bootstrap-server", "localhost:29092"]


def test_apache_kafka_runs_the_tarball_scripts(docker):
    assert executed(docker("kafka-kraft", "consumer-groups", "--describe", "--group", "recipe-parser")) == \
        ["/opt/kafka/bin/kafka-consumer-groups.sh", "--describe", "--group", "recipe-parser",
         "--bootstrap-server", "localhost:29092"]


def test_console_flags_are_spelled_for_the_containers_kafka(docker):
    # cp-kafka 7.9 is Kafka 3.9: the 4.x names become the old ones, and the reverse.
    assert executed(docker("kafka", "console-consumer", "--topic", "t", "--formatter-property",
                           "print.headers=true", "--bootstrap-server=kafka:29092")) == \
        ["kafka-console-consumer", "--topic", "t", "--property", "print.headers=true",
         "--bootstrap-server=kafka:29092"]
    assert executed(docker("kafka-kraft", "console-producer", "--topic", "t", "--property", "parse.key=true")) == \
        ["/opt/kafka/bin/kafka-console-producer.sh", "--topic", "t", "--reader-property", "parse.key=true",
         "--bootstrap-server", "localhost:29092"]


def test_dump_log_finds_every_segment_of_the_partition_in_the_container(docker):
    segments = ",".join(f"{DATA}/parsed_recipes-1/{n:020d}.log" for n in (0, 731))
    assert executed(docker("kafka", "dump-log", "--topic", "parsed_recipes", "--partition", "1",
                           "--print-data-log")) == ["kafka-dump-log", "--files", segments, "--print-data-log"]
    assert executed(docker("kafka-kraft", "dump-log", "--topic=parsed_recipes", "--partition=1"))[:2] == \
        ["/opt/kafka/bin/kafka-dump-log.sh", "--files"]


@pytest.mark.parametrize("args, message", [
    (("dump-log", "--topic", "parsed_recipes", "--partition", "5"),
     "topic parsed_recipes has no partition 5 on this broker (partitions here: 0 1)"),
    (("dump-log", "--topic", "parsed_recipes", "--partition", "0"),
     f"{DATA}/parsed_recipes-0 holds no segment (.log) file"),
    (("dump-log", "--topic", "raw_recipes"), f"no topic raw_recipes in the broker's log directory ({DATA})"),
])
def test_dump_log_says_what_it_did_not_find(docker, args, message):
    result = docker("kafka", *args)
    assert result.returncode == 1 and message in result.stderr, result.stderr


@pytest.mark.parametrize("args, message", [
    ((), "no tool named"),
    (("topic", "--list"), "unknown tool 'topic'"),
    (("dump-log",), "dump-log needs --topic TOPIC"),
    (("dump-log", "--topic", "t", "--partition", "one"), "--partition must be a partition number, not 'one'"),
    (("dump-log", "--files", "x.log"), "dump-log finds the segment files itself"),
])
def test_usage_errors_exit_2_before_any_broker_is_looked_for(docker, args, message):
    result = docker("", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_client_config_is_not_carried_into_the_container(docker, tmp_path):
    config = tmp_path / "client.properties"
    config.write_text("security.protocol=SASL_SSL\n")
    result = docker("kafka", "topics", "--list", KAFKA_COMMAND_CONFIG=str(config))
    assert result.returncode == 1 and "a client config is not passed into the container" in result.stderr


def test_no_broker_anywhere_says_how_to_start_one(docker):
    result = docker("", "topics", "--list")
    assert result.returncode == 1
    assert "no Kafka broker is running" in result.stderr and "make kafka-up" in result.stderr


def test_help_prints_the_tools_and_exits_0(docker):
    result = docker("", "--help")
    assert result.returncode == 0
    for name in ("topics", "console-producer", "console-consumer", "consumer-groups", "dump-log"):
        assert f"\n  {name} " in result.stdout


FAKE_MVN = """#!/usr/bin/env bash
# copy-dependencies as Maven would, of the jars named in $FAKE_JARS.
for arg; do [[ $arg == -DoutputDirectory=* ]] && out=${arg#*=}; done
mkdir -p "$out"
for jar in $FAKE_JARS; do echo "$jar" >"$out/$jar"; done
"""


def test_new_jars_go_in_beside_those_a_running_broker_holds(tmp_path):
    # A pom that gains a dependency (kafka-tools) re-resolves the jars; the broker running
    # from that directory must keep every jar it has open, so the files stay, not replaced.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mvn").write_text(FAKE_MVN)
    (bin_dir / "mvn").chmod(0o755)
    libs = tmp_path / "cache" / "libs" / "kraft"
    libs.mkdir(parents=True)
    (libs / "kafka_2.13-4.4.0.jar").write_text("in use")
    (libs / "dropped-1.0.jar").write_text("old")
    (libs / ".complete").write_text("the hash of an older pom\n")
    inode = (libs / "kafka_2.13-4.4.0.jar").stat().st_ino
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "KAFKA_CACHE_DIR": str(tmp_path / "cache"),
           "FAKE_JARS": "kafka_2.13-4.4.0.jar kafka-tools-4.4.0.jar"}
    script = ROOT / "scripts" / "kafka-local.sh"
    subprocess.run(["bash", "-c", f"source {script}; ensure_jars_locked kraft"], env=env, check=True,
                   capture_output=True, timeout=60)
    assert sorted(p.name for p in libs.iterdir()) == [".complete", "kafka-tools-4.4.0.jar", "kafka_2.13-4.4.0.jar"]
    assert (libs / "kafka_2.13-4.4.0.jar").stat().st_ino == inode
    assert (libs / "kafka_2.13-4.4.0.jar").read_text() == "in use"
    pom_hash = subprocess.run(["sha256sum", str(ROOT / "kafka" / "kraft" / "pom.xml")], capture_output=True,
                              text=True, check=True).stdout.split()[0]
    assert (libs / ".complete").read_text().strip() == pom_hash
    assert not list(libs.parent.glob("kraft.tmp.*"))
