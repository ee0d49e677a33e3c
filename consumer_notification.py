#!/usr/bin/env python3
"""Notifier: print an alert for each parsed recipe over a calorie threshold."""

from __future__ import annotations

import argparse
import sys

from recipe_alert import config, notifier

DESCRIPTION = """\
Consume JSON recipes from --topic and print, for each recipe whose calories per
serving exceed --threshold:

    Alert: <title> calories count is <calories>

Recipes without a calorie count never alert. Offsets are committed only after
the alerts are written, so a crash repeats at most the alerts in flight."""

EPILOG = "exit codes: 0 done or stopped by Ctrl-C/SIGTERM; 2 bad arguments or no broker."


def build_parser():
    parser = config.make_parser("consumer_notification.py", DESCRIPTION, EPILOG)
    parser.add_argument("--topic", type=config.topic_arg, default="parsed_recipes",
                        help="topic of parsed JSON recipes")
    parser.add_argument("--group", default="recipe-notifier",
                        help="consumer group; instances in one group share the partitions")
    parser.add_argument("--threshold", type=float, default=200,
                        help="alert when calories per serving are above this")
    parser.add_argument("--format", dest="output_format", choices=("text", "json"), default="text",
                        help="text: the tutorial's line; json: one JSON object per alert")
    parser.add_argument("--from-beginning", action=argparse.BooleanOptionalAction, default=True,
                        help="where a new group starts: the earliest recipe (default) "
                             "or, with --no-from-beginning, only new ones")
    config.add_timeout_arg(parser)
    config.add_topic_creation_args(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config.setup_logging(args.verbose)
    settings = notifier.NotifySettings(
        bootstrap=config.resolve_bootstrap(args.bootstrap_server),
        topic=args.topic,
        group=args.group,
        threshold=args.threshold,
        output_format=args.output_format,
        from_beginning=args.from_beginning,
        timeout_ms=args.timeout_ms,
        partitions=args.partitions,
        replication_factor=args.replication_factor,
    )
    return config.run_stage(notifier.run, settings)


if __name__ == "__main__":
    sys.exit(main())
