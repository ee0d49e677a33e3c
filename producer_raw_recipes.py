#!/usr/bin/env python3
"""Producer: crawl recipe pages and publish their raw HTML to Kafka."""

from __future__ import annotations

import sys

from recipe_alert import cli, produce_stage
from recipe_alert.crawler import CrawlSettings

DESCRIPTION = """\
Fetch recipe pages and publish each page's raw HTML to --topic as soon as it is
fetched, keyed by the page's canonical URL (normalised).

Sources, pick one:
  (default)        crawl the Allrecipes category --category-url, then each recipe
  --url URL ...    these recipe pages, from any site
  --from-dir DIR   .html files saved from a browser (works when a site blocks crawlers)

The crawler obeys robots.txt, waits --delay seconds between requests to a host
and names itself in its User-Agent. Pages are compressed with zstd (about 5x),
so real pages of several MB pass a stock broker's 1 MB message limit."""

EPILOG = """\
exit codes: 0 all pages published; 1 some pages failed; 2 bad arguments or no
broker; 4 nothing could be fetched (blocked, unreachable or no recipe links);
""" + cli.SECURITY_EXIT_CODES


def build_parser():
    defaults = CrawlSettings()
    parser = cli.make_parser("producer_raw_recipes.py", DESCRIPTION, EPILOG)
    parser.add_argument("--topic", type=cli.topic_arg, default="raw_recipes",
                        help="topic to publish raw pages to")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--category-url", default=produce_stage.DEFAULT_CATEGORY_URL,
                        help="listing page whose recipes are crawled")
    source.add_argument("--url", nargs="+", dest="urls", metavar="URL", default=None,
                        help="fetch these recipe pages instead of crawling a category")
    source.add_argument("--from-dir", metavar="DIR",
                        help="publish the .html files in DIR instead of fetching")
    parser.add_argument("--limit", type=cli.positive_int, default=None, metavar="N",
                        help="most recipe pages to fetch (default: all listed)")
    parser.add_argument("--max-pages", type=cli.positive_int, default=defaults.max_pages,
                        metavar="N",
                        help="listing pages to follow through pagination")
    parser.add_argument("--delay", type=cli.non_negative_float, default=defaults.delay,
                        metavar="SECONDS",
                        help="seconds between requests to the same host")
    parser.add_argument("--request-timeout", type=cli.non_negative_float,
                        default=defaults.timeout, metavar="SECONDS", dest="timeout",
                        help="seconds before a request is abandoned")
    parser.add_argument("--max-page-bytes", type=cli.positive_int, default=defaults.max_bytes,
                        metavar="BYTES", dest="max_bytes",
                        help="larger responses are skipped, read no further")
    parser.add_argument("--user-agent", default=defaults.user_agent, metavar="TEXT",
                        help="User-Agent header sent with every request")
    parser.add_argument("--ignore-robots", action="store_false", dest="obey_robots",
                        help="do not obey robots.txt; only where the site owner allows it: "
                             "you are responsible")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar even when stderr is a terminal")
    cli.add_topic_creation_args(parser)
    return parser


def settings(args) -> produce_stage.ProduceSettings:
    return cli.settings_from(
        produce_stage.ProduceSettings, args,
        urls=tuple(args.urls or ()),
        crawl=cli.settings_from(CrawlSettings, args),
        progress=sys.stderr.isatty() and not args.no_progress,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli.setup_logging(args.verbose)
    return cli.run_stage(produce_stage.run, lambda: settings(args), args.metrics_addr)


if __name__ == "__main__":
    sys.exit(main())
