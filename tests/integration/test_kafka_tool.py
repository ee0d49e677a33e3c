"""scripts/kafka-tool.sh: the tutorial's Kafka commands against the running broker.

Each tool runs as a reader would run it: the wrapper picks the broker (zk, kraft, the
secure one or the cluster, as scripts/kafka-local.sh does) and that Kafka version's tool
classes; every check compares the tool's output with what the broker holds.
"""

import json
import re
import shutil
import subprocess

import pytest

from testkit import ROOT
from testkit.broker import (CONNECTION, Names, header, read_topic, run_script, script_env,
                            topic_exists)

TOOL = ROOT / "scripts" / "kafka-tool.sh"
PAGES = ROOT / "tests" / "fixtures" / "pages"
RECIPES = ("jsonld-2021.html", "legacy-2018.html", "mntl-2024.html")
NOT_A_RECIPE = "article-not-recipe.html"


def tool(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(TOOL), *args], cwd=ROOT, env=script_env(), input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def ok(*args: str, **kwargs) -> str:
    result = tool(*args, **kwargs)
    assert result.returncode == 0, f"kafka-tool.sh {' '.join(args)}: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def pipeline(broker, tmp_path_factory) -> Names:
    """Raw pages published and parsed by the pipeline's own scripts, once for the module."""
    names = Names.unique("kafka_tool")
    pages = tmp_path_factory.mktemp("pages")
    for name in (*RECIPES, NOT_A_RECIPE):
        shutil.copy(PAGES / name, pages / name)
    produced = run_script("producer_raw_recipes.py", "--topic", names.raw, "--from-dir", str(pages))
    assert produced.returncode == 0, produced.stderr
    parsed = run_script("producer_consumer_parse_recipes.py", "--input-topic", names.raw,
                        "--output-topic", names.parsed, "--dead-letter-topic", names.dead,
                        "--group", names.parser_group, "--timeout-ms", "2000")
    assert parsed.returncode == 0, parsed.stderr
    assert len(read_topic(names.parsed, expected=len(RECIPES))) == len(RECIPES)
    return names


def test_the_tools_are_those_of_the_running_brokers_kafka_version(broker):
    version = ok("topics", "--version").strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    with CONNECTION.admin() as admin:
        major, _ = admin._client.get_broker_version()  # as kafka-python infers it from ApiVersions
    assert int(version.split(".")[0]) == major


def test_topics_create_list_describe(names):
    created = ok("topics", "--create", "--topic", names.raw, "--partitions", "3")
    assert f"Created topic {names.raw}." in created
    assert topic_exists(names.raw)
    assert names.raw in ok("topics", "--list").splitlines()
    described = ok("topics", "--describe", "--topic", names.raw)
    assert re.search(rf"Topic: {re.escape(names.raw)}\s.*PartitionCount: 3\b", described), described
    assert len(re.findall(r"\bPartition: [012]\b", described)) == 3


def test_console_producer_writes_what_the_console_consumer_reads(names):
    ok("topics", "--create", "--topic", names.raw, "--partitions", "1")
    ok("console-producer", "--topic", names.raw, "--reader-property", "parse.key=true",
       "--reader-property", "key.separator=|", stdin="k1|first record\nk2|second record\n")
    records = read_topic(names.raw, expected=2)
    assert [(r.key, r.value) for r in records] == [(b"k1", b"first record"), (b"k2", b"second record")]
    out = ok("console-consumer", "--topic", names.raw, "--from-beginning", "--max-messages", "2",
             "--formatter-property", "print.key=true", "--timeout-ms", "30000")
    assert out.splitlines() == ["k1\tfirst record", "k2\tsecond record"]


def test_console_consumer_prints_the_parsed_recipes_with_headers_read_committed(pipeline):
    records = read_topic(pipeline.parsed)
    out = ok("console-consumer", "--topic", pipeline.parsed, "--from-beginning",
             "--isolation-level", "read_committed", "--formatter-property", "print.headers=true",
             "--formatter-property", "print.key=true", "--max-messages", str(len(records)),
             "--timeout-ms", "30000")
    printed = {}
    for line in out.splitlines():
        headers, key, value = line.split("\t")
        printed[key] = (dict(h.split(":", 1) for h in headers.split(",")), json.loads(value))
    assert {r.key.decode(): json.loads(r.value) for r in records} == \
        {key: recipe for key, (_, recipe) in printed.items()}
    for record in records:
        headers, recipe = printed[record.key.decode()]
        assert headers["source-topic"] == pipeline.raw
        assert headers["source-offset"] == header(record, "source-offset")
        assert recipe["title"] and recipe["url"] == record.key.decode()


def test_console_consumer_shows_a_dead_letters_error_reason(pipeline):
    (dead,) = read_topic(pipeline.dead, expected=1)
    out = ok("console-consumer", "--topic", pipeline.dead, "--from-beginning", "--max-messages", "1",
             "--formatter-property", "print.headers=true", "--formatter-property", "print.value=false",
             "--formatter-property", "headers.separator=\n", "--timeout-ms", "30000")
    headers = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    assert headers["error-class"] == "NotARecipe"
    assert headers["error-reason"] == header(dead, "error-reason") != ""


def lag_by_partition(out: str, group: str, topic: str) -> dict[int, int | None]:
    """PARTITION -> LAG from kafka-consumer-groups --describe's table ("-": nothing committed)."""
    lines = [line.split() for line in out.splitlines() if line.strip()]
    columns = next(line for line in lines if line[:2] == ["GROUP", "TOPIC"])
    rows = [dict(zip(columns, line)) for line in lines if line[:2] == [group, topic]]
    return {int(row["PARTITION"]): None if row["LAG"] == "-" else int(row["LAG"]) for row in rows}


def test_consumer_groups_describes_the_parsers_offsets_and_lag(pipeline):
    with_records = {r.partition for r in read_topic(pipeline.raw)}
    before = lag_by_partition(ok("consumer-groups", "--describe", "--group", pipeline.parser_group),
                              pipeline.parser_group, pipeline.raw)
    assert {p: before.get(p) for p in with_records} == {p: 0 for p in with_records}, before
    partition = min(with_records)  # one with a committed offset, so its lag is a number
    producer = CONNECTION.producer()
    for n in range(3):
        producer.send(pipeline.raw, key=b"unparsed", value=f"page {n}".encode(), partition=partition)
    producer.flush()
    producer.close()
    after = lag_by_partition(ok("consumer-groups", "--describe", "--group", pipeline.parser_group),
                             pipeline.parser_group, pipeline.raw)
    assert after.get(partition) == 3 and sum(lag or 0 for lag in after.values()) == 3, after


def test_dump_log_shows_a_partitions_transactional_batches(pipeline):
    record = read_topic(pipeline.parsed)[0]
    out = ok("dump-log", "--topic", pipeline.parsed, "--partition", str(record.partition),
             "--deep-iteration", "--print-data-log")
    assert re.search(rf"^Dumping \S+/{re.escape(pipeline.parsed)}-{record.partition}/0+\.log$", out, re.M), out
    assert "isTransactional: true" in out
    assert "endTxnMarker: COMMIT" in out  # the parser's commit
    assert f"key: {record.key.decode()}" in out and f'"url": "{record.key.decode()}"' in out


def test_dump_log_names_the_topic_and_partition_it_cannot_find(pipeline):
    absent = tool("dump-log", "--topic", pipeline.parsed, "--partition", "7")
    assert absent.returncode == 1
    assert f"topic {pipeline.parsed} has no partition 7 on this broker (partitions here: 0 1 2)" \
        in absent.stderr
    unknown = tool("dump-log", "--topic", pipeline.parsed + ".nope")
    assert unknown.returncode == 1 and f"no topic {pipeline.parsed}.nope in" in unknown.stderr


def test_an_unknown_tool_is_refused_with_the_list_of_tools(broker):
    result = tool("kafka-topics")
    assert result.returncode == 2
    assert "unknown tool 'kafka-topics'" in result.stderr
    assert "topics console-producer console-consumer consumer-groups dump-log" in result.stderr
