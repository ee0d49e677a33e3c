#!/usr/bin/env python3
"""Notifier: print an alert for each parsed recipe over a calorie threshold."""

from __future__ import annotations

import argparse
import os
import sys

from recipe_alert import cli, notify_stage
from recipe_alert.notify_stage.sinks import FORMATS

DESCRIPTION = """\
Consume JSON recipes from --topic and print, for each recipe whose calories per
serving exceed --threshold:

    Alert: <title> calories count is <calories>

Recipes without a calorie count never alert. Each recipe alerts once per
--group: alerts are recorded in the compacted --alerts-topic, keyed by group and
recipe URL, and every notifier in the group reads it, so a re-crawl, a restart
or a second notifier in the group does not repeat an alert. Each group is a
subscriber of its own: another --group (say, a webhook with its own
--threshold) alerts the same recipes once for itself (--repeat-alerts restores
the tutorial's behaviour).

Offsets are committed only after the alerts are written and recorded, so a
crash repeats at most the alerts that were in flight."""

EPILOG = ("exit codes: 0 done or stopped by Ctrl-C/SIGTERM; 2 bad arguments or no broker; "
          + cli.SECURITY_EXIT_CODES)


def build_parser():
    parser = cli.make_parser("consumer_notification.py", DESCRIPTION, EPILOG)
    parser.add_argument("--topic", type=cli.topic_arg, default="parsed_recipes",
                        help="topic of parsed JSON recipes")
    parser.add_argument("--group", default="recipe-notifier",
                        help="consumer group: one subscriber; its instances share the "
                             "partitions and alert each recipe once between them")
    parser.add_argument("--threshold", type=float, default=200, metavar="KCAL",
                        help="alert when calories per serving are above this")
    parser.add_argument("--min-calories", type=float, default=None, metavar="KCAL",
                        help="alert at or above this instead of above --threshold")
    parser.add_argument("--max-calories", type=float, default=None, metavar="KCAL",
                        help="never alert above this (with --min-calories: alert on a range)")
    parser.add_argument("--alerts-topic", type=cli.topic_arg, default="calorie_alerts",
                        help="compacted topic recording which recipes each group already alerted")
    parser.add_argument("--repeat-alerts", action="store_true",
                        help="alert every time a recipe is seen, as the tutorial did")
    parser.add_argument("--webhook", metavar="URL", default=None,
                        help="also POST each alert as JSON {\"text\": ...} to this "
                             "Slack/Mattermost-style incoming webhook (default: "
                             f"${notify_stage.WEBHOOK_ENV}); logs show only its host")
    parser.add_argument("--webhook-timeout", type=cli.non_negative_float, default=5.0,
                        metavar="SECONDS",
                        help="seconds per webhook request")
    parser.add_argument("--format", dest="output_format", choices=tuple(FORMATS), default="text",
                        help="; ".join(f"{name}: {sink.help}" for name, sink in FORMATS.items()))
    parser.add_argument("--from-beginning", action=argparse.BooleanOptionalAction, default=True,
                        help="where a new group starts: the earliest recipe (default) "
                             "or, with --no-from-beginning, only new ones")
    cli.add_timeout_arg(parser)
    cli.add_topic_creation_args(parser)
    return parser


def settings(args) -> notify_stage.NotifySettings:
    webhook = args.webhook or os.environ.get(notify_stage.WEBHOOK_ENV) or None
    return cli.settings_from(notify_stage.NotifySettings, args, webhook=webhook)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli.setup_logging(args.verbose)
    return cli.run_stage(notify_stage.run, lambda: settings(args), args.metrics_addr)


if __name__ == "__main__":
    sys.exit(main())
