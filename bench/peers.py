"""What make bench measures the parse stage against; runs in .venv-bench, never the runtime venv.

    python bench/peers.py quix --input-topic RAW --output-topic OUT --group G
        The parse stage as a Quix Streams user would write it: exactly-once,
        this project's scrape_html in .apply(), its JSON to the output topic.
        Runs until SIGTERM.
    python bench/peers.py consume --client confluent-kafka|kafka-python|kafka-python-undecoded
                                  --topic T --count N
        Reads N records of T from the beginning, read_committed, doing nothing
        with them; prints {"records", "bytes", "seconds"} as JSON. The clock
        runs from the first fetch to the Nth record.

The broker is KAFKA_BOOTSTRAP_SERVERS (default localhost:9092), PLAINTEXT.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")


def parse_or_none(value: bytes, key: bytes | None, _timestamp, _headers) -> bytes | None:
    from recipe_alert.errors import NotARecipe
    from recipe_alert.parser import scrape_html
    try:
        recipe = scrape_html(value, key.decode("utf-8", "replace") if key else None)
    except NotARecipe:
        return None
    return json.dumps(recipe, ensure_ascii=False).encode("utf-8")


def quix(args) -> int:
    from quixstreams import Application
    app = Application(broker_address=BOOTSTRAP, consumer_group=args.group,
                      auto_offset_reset="earliest", processing_guarantee="exactly-once",
                      loglevel="WARNING", auto_create_topics=False, use_changelog_topics=False)
    raw = app.topic(args.input_topic, key_deserializer="bytes", value_deserializer="bytes")
    out = app.topic(args.output_topic, key_serializer="bytes", value_serializer="bytes")
    sdf = app.dataframe(raw).apply(parse_or_none, metadata=True).filter(lambda v: v is not None)
    sdf.to_topic(out)
    app.run()
    return 0


def consume_confluent(topic: str, count: int) -> tuple[int, int, float]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"bench-floor-{os.getpid()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records = nbytes = 0
        started = time.perf_counter()
        while records < count:
            # One at a time, as Quix Streams polls: consume(num_messages=500) waits out its
            # timeout whenever librdkafka's 64 MB prefetch queue holds fewer pages than that.
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                records += 1
                nbytes += len(message.value())
        return records, nbytes, time.perf_counter() - started
    finally:
        consumer.close()


def consume_kafka_python(topic: str, count: int, undecoded: bool = False) -> tuple[int, int, float]:
    """With the parse stage's own consumer settings, outside any group; ``undecoded``: its
    record batches handed on whole, as the stage's main process gets them (bytes counted
    as received, compressed)."""
    from kafka import TopicPartition
    from recipe_alert import kafka_compat
    from recipe_alert.connection import Connection
    from recipe_alert.parse_stage import ParseSettings
    fetch = ParseSettings.max_partition_fetch_bytes
    consumer = Connection(BOOTSTRAP).reader(max_partition_fetch_bytes=fetch, fetch_max_bytes=4 * fetch)
    if undecoded:
        kafka_compat.hand_on_undecoded(consumer)
    try:
        consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])
        consumer.seek_to_beginning()
        records = nbytes = 0
        started = time.perf_counter()
        while records < count:
            for batch in consumer.poll(timeout_ms=1000, max_records=500).values():
                records += len(batch)  # one page per batch: pages of 200 KB-2 MB fill a batch each
                nbytes += sum(len(r.data if undecoded else r.value) for r in batch)
        return records, nbytes, time.perf_counter() - started
    finally:
        consumer.close()


CLIENTS = {"confluent-kafka": consume_confluent, "kafka-python": consume_kafka_python,
           "kafka-python-undecoded": lambda topic, count: consume_kafka_python(topic, count, True)}


def consume(args) -> int:
    records, nbytes, seconds = CLIENTS[args.client](args.topic, args.count)
    print(json.dumps({"records": records, "bytes": nbytes, "seconds": seconds}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    peer = commands.add_parser("quix", help="the parse stage written with Quix Streams")
    peer.add_argument("--input-topic", required=True)
    peer.add_argument("--output-topic", required=True)
    peer.add_argument("--group", required=True)
    floor = commands.add_parser("consume", help="consume-only: read N records, keep nothing")
    floor.add_argument("--client", choices=CLIENTS, required=True)
    floor.add_argument("--topic", required=True)
    floor.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    return quix(args) if args.command == "quix" else consume(args)


if __name__ == "__main__":
    sys.exit(main())
