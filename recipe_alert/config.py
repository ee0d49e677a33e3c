"""Command-line conventions shared by the three scripts.

Precedence is flag, then environment variable, then default. Flag names
follow Kafka's console tools.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import sys

from .errors import InvalidTopicName

DEFAULT_BOOTSTRAP = "localhost:9092"
BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"

_TOPIC_CHARS = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_LENGTH = 249


def validate_topic(name: str) -> str:
    """Return ``name`` if Kafka would accept it as a topic name, else raise."""
    if not name:
        raise InvalidTopicName("topic name is empty")
    if name in (".", ".."):
        raise InvalidTopicName(f"topic name {name!r} is not allowed")
    if len(name) > MAX_TOPIC_LENGTH:
        raise InvalidTopicName(
            f"topic name is {len(name)} characters long; Kafka allows at most {MAX_TOPIC_LENGTH}")
    if not _TOPIC_CHARS.match(name):
        bad = "".join(sorted({c for c in name if not re.match(r"[a-zA-Z0-9._-]", c)}))
        raise InvalidTopicName(
            f"topic name {name!r} contains {bad!r}; Kafka allows only letters, digits, '.', '_' and '-'")
    return name


def topic_arg(value: str) -> str:
    """argparse ``type=`` for topic names: refuses bad names before any Kafka call."""
    try:
        return validate_topic(value)
    except InvalidTopicName as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def at_least(minimum: float, kind: type = int):
    """An argparse ``type=`` that reads a ``kind`` and refuses values below ``minimum``."""
    def read(value: str):
        number = kind(value)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return number
    read.__name__ = kind.__name__  # argparse names the type in "invalid int value" errors
    return read


positive_int = at_least(1)
non_negative_int = at_least(0)
non_negative_float = at_least(0, float)


def resolve_bootstrap(flag: str | None, environ: dict[str, str] | None = None) -> str:
    """Flag, then ``KAFKA_BOOTSTRAP_SERVERS``, then ``localhost:9092``."""
    environ = os.environ if environ is None else environ
    return flag or environ.get(BOOTSTRAP_ENV) or DEFAULT_BOOTSTRAP


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks and shows meaningful defaults."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default in (None, argparse.SUPPRESS) or action.nargs == 0 \
                or "default" in text or action.option_strings == ["-v", "--verbose"]:
            return text
        return text + " (default: %(default)s)"


def make_parser(prog: str, description: str, epilog: str = "") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=description, epilog=epilog, formatter_class=HelpFormatter)
    parser.add_argument(
        "--bootstrap-server", metavar="HOST:PORT", default=None,
        help=f"Kafka broker(s) to connect to, comma-separated "
             f"(default: ${BOOTSTRAP_ENV}, else {DEFAULT_BOOTSTRAP})")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more diagnostics on stderr (-vv for Kafka client internals)")
    return parser


def add_topic_creation_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partitions", type=positive_int, default=3, metavar="N",
                        help="partitions for topics this script creates on first use")
    parser.add_argument("--replication-factor", type=positive_int, default=1, metavar="N",
                        help="replication factor for topics this script creates on first use")


def add_timeout_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout-ms", type=positive_int, default=None, metavar="MS",
        help="exit after this long with nothing to consume, not counting time spent "
             "joining or rebalancing the group (default: run until Ctrl-C)")


def setup_logging(verbose: int) -> None:
    """Diagnostics to stderr; kafka-python's own chatter only with -vv."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # kafka-python logs every refused connection as an ERROR; we report the outcome once.
    logging.getLogger("kafka").setLevel(
        {0: logging.CRITICAL, 1: logging.WARNING}.get(verbose, logging.DEBUG))
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


def settings_from(cls, args: argparse.Namespace, **values):
    """A frozen settings object from the parsed flags that match its fields."""
    fields = {f.name for f in dataclasses.fields(cls)}
    found = {name: value for name, value in vars(args).items() if name in fields}
    if "bootstrap" in fields:
        found["bootstrap"] = resolve_bootstrap(args.bootstrap_server)
    return cls(**{**found, **values})


def run_stage(run, settings) -> int:
    """The CLI boundary: run a stage until done or signalled; errors become exit codes.

    ``run(settings, stop)`` returns stats with a ``summary()``.
    """
    from kafka.errors import KafkaError

    from .errors import RecipeAlertError
    from .kafka_io import StopSignal

    log = logging.getLogger("recipe_alert")
    try:
        with StopSignal() as stop:
            stats = run(settings, stop)
    except RecipeAlertError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except KafkaError as exc:
        log.error("Kafka error: %s: %s", type(exc).__name__, exc)
        return 1
    log.info("done: %s", stats.summary())
    return getattr(stats, "exit_code", 0)
