#!/usr/bin/env python3
"""Parse stage: raw_recipes -> parsed_recipes, or local files -> stdout."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from recipe_alert import cli, parse_stage
from recipe_alert.errors import NotARecipe
from recipe_alert.parser import scrape_html

log = logging.getLogger("parse_recipes")

DESCRIPTION = """\
Consume raw recipe pages from --input-topic, parse each one into a JSON recipe
and publish it to --output-topic, keyed by the recipe's URL. Pages that are not
recipes go to --dead-letter-topic with the reason in headers; the stream goes on.

Each polled batch is one Kafka transaction (outputs + consumed offsets), so a
crash never loses or doubles a recipe for read_committed consumers.

With --from-file, parse local HTML files instead, without Kafka, and print one
JSON object per file, in order, one per line."""

EPILOG = """\
exit codes: 0 done or stopped by Ctrl-C/SIGTERM; 1 some --from-file input was
not a recipe or unreadable, or a transaction hung (restart it: nothing is lost);
2 bad arguments or no broker; 3 fenced by another instance with the same
--transactional-id; """ + cli.SECURITY_EXIT_CODES


def build_parser():
    parser = cli.make_parser("producer_consumer_parse_recipes.py", DESCRIPTION, EPILOG)
    parser.add_argument("--input-topic", type=cli.topic_arg, default="raw_recipes",
                        help="topic of raw HTML pages to consume")
    parser.add_argument("--output-topic", type=cli.topic_arg, default="parsed_recipes",
                        help="topic to publish JSON recipes to")
    parser.add_argument("--dead-letter-topic", type=cli.topic_arg, default="raw_recipes_dead_letter",
                        help="topic for pages that could not be parsed (original value kept)")
    parser.add_argument("--group", default="recipe-parser",
                        help="consumer group; instances in one group share the partitions")
    parser.add_argument("--transactional-id", default=None,
                        help="stable id unique to this instance; a restarted instance with the "
                             "same id fences its predecessor (default: GROUP.HOSTNAME)")
    parser.add_argument("--from-beginning", action=argparse.BooleanOptionalAction, default=True,
                        help="where a new group starts: the earliest page (default) "
                             "or, with --no-from-beginning, only new pages")
    defaults = parse_stage.ParseSettings
    parser.add_argument("--batch-size", type=cli.positive_int, default=defaults.batch_size,
                        help="most pages per poll and per transaction")
    parser.add_argument("--workers", type=cli.non_negative_int, default=defaults.workers, metavar="N",
                        help="worker processes that parse pages while this one reads and "
                             "commits (it parses too rather than wait); 0 parses here only. "
                             "To use more cores or machines, run more instances in the group")
    cli.add_timeout_arg(parser)
    cli.add_topic_creation_args(parser)
    parser.add_argument("--from-file", nargs="+", metavar="PATH",
                        help="parse these local files without Kafka; print one JSON line each")
    return parser


def parse_files(paths: list[str]) -> int:
    """The offline contract: one JSON object per input file, in input order."""
    failed = 0
    for path in paths:
        try:
            with open(path, "rb") as handle:
                out = scrape_html(handle.read(), None)
        except (OSError, NotARecipe) as exc:
            failed += 1
            log.error("%s: %s", path, exc)
            out = {"file": path, "error": type(exc).__name__, "reason": str(exc)}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 1 if failed else 0


def settings(args) -> parse_stage.ParseSettings:
    return cli.settings_from(
        parse_stage.ParseSettings, args,
        transactional_id=args.transactional_id or parse_stage.default_transactional_id(args.group))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli.setup_logging(args.verbose)
    if args.from_file:
        return parse_files(args.from_file)
    return cli.run_stage(parse_stage.run, lambda: settings(args), args.metrics_addr)


if __name__ == "__main__":
    sys.exit(main())
