"""What the three scripts share at their command line, and nothing deeper.

Argument types, the common flags, logging set-up, settings built from the
flags, and the boundary where a stage's errors become a message and an exit
code. Precedence is flag, then environment variable, then default; flag names
follow Kafka's console tools.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading

from kafka.errors import KafkaError

from . import metrics
from .connection import Connection
from .errors import InvalidTopicName, RecipeAlertError
from .topics import validate_topic
from .urls import secret_parts

log = logging.getLogger("recipe_alert")

# Every script can meet these, at any Kafka call.
SECURITY_EXIT_CODES = ("5 the cluster refused our credentials, or we refused its certificate; "
                       "6 an ACL denies what this script needs (the message gives the grant).")


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
    Connection.add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more diagnostics on stderr (-vv for Kafka client internals)")
    parser.add_argument("--metrics-addr", metavar="[HOST:]PORT",
                        help="serve Prometheus metrics on http://HOST:PORT/metrics: the counters "
                             "of the summary line, consumer lag, timings (HOST defaults to "
                             "127.0.0.1; PORT 0 picks a free port and logs it; default: off)")
    return parser


def add_topic_creation_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partitions", type=positive_int, default=3, metavar="N",
                        help="partitions for topics this script creates on first use")
    parser.add_argument("--replication-factor", type=positive_int, default=1, metavar="N",
                        help="replication factor for topics this script creates on first use; at "
                             "most the number of brokers; from 3 on, the topics get "
                             "min.insync.replicas=2 unless the brokers' default is that or more")


def add_timeout_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout-ms", type=positive_int, default=None, metavar="MS",
        help="exit after this long with nothing to consume, not counting time spent "
             "joining or rebalancing the group (default: run until Ctrl-C)")


class SecretFilter(logging.Filter):
    """Shows each known secret as ``…`` in every record, however it got there.

    The net under kafka-python's DEBUG output (it logs the SASL PLAIN request
    and the admin client's whole config) and under exception text.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def hide(self, secrets) -> None:
        for secret in secrets:
            if secret:
                self.secrets |= {secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]}

    def scrub(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "…")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg, record.args = self.scrub(record.getMessage()), ()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.scrub(record.exc_text)
        return True


SECRETS = SecretFilter()


def secrets_of(settings) -> list[str]:
    """The secrets a settings object holds: its connection's, and its ``repr=False`` strings."""
    found = []
    for field in dataclasses.fields(settings) if dataclasses.is_dataclass(settings) else ():
        value = getattr(settings, field.name)
        if isinstance(value, Connection):
            found += value.secrets
        elif dataclasses.is_dataclass(value):
            found += secrets_of(value)
        elif isinstance(value, str) and not field.repr:
            found += secret_parts(value) if "://" in value else [value]
    return found


def setup_logging(verbose: int) -> None:
    """Diagnostics to stderr, secrets hidden; kafka-python's own chatter only with -vv."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(SECRETS)
    # kafka-python logs every refused connection as an ERROR; we report the outcome once.
    logging.getLogger("kafka").setLevel(
        {0: logging.CRITICAL, 1: logging.WARNING}.get(verbose, logging.DEBUG))
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


def settings_from(cls, args: argparse.Namespace, **values):
    """A frozen settings object: each field from the flag of its name, or from ``values``.

    A field that neither gives, and that is not marked ``recipe_alert.tuning``, is a flag
    that was forgotten or misnamed: that raises TypeError rather than let its
    default pass for the user's choice.
    """
    found = dict(values)
    for field in dataclasses.fields(cls):
        if field.name in found:
            continue
        if field.name == "connection":
            found["connection"] = Connection.from_args(args)
        elif hasattr(args, field.name):
            found[field.name] = getattr(args, field.name)
        elif field.metadata.get("flag", True):
            raise TypeError(f"{cls.__name__}.{field.name} has no flag of that name (dest) and was "
                            f"not given; add the flag, or declare the field with tuning()")
    return cls(**found)


class StopSignal:
    """Set by SIGINT/SIGTERM, so loops finish their current step and exit cleanly.

    A second signal interrupts at once, for a user who really means it.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous = {}

    def __bool__(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    def _handle(self, signum, _frame) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        log.info("%s received: finishing the current step, then stopping",
                 signal.Signals(signum).name)
        self._event.set()

    def __enter__(self) -> "StopSignal":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def run_stage(run, make_settings, metrics_addr: str | None = None) -> int:
    """The CLI boundary: run a stage until done or signalled; errors become exit codes.

    ``make_settings()`` reads the flags and environment (a bad value is a
    ConfigError, exit 2); ``run(settings, stop)`` returns stats with a
    ``summary()``, the counters of ``metrics``, and, optionally, an ``exit_code``.
    """
    try:
        settings = make_settings()
        SECRETS.hide(secrets_of(settings))
        if metrics_addr:
            host, port = metrics.serve(metrics_addr)
            log.info("metrics on http://%s:%d/metrics", host, port)
        settings.connection.warn_unanswered()
        with StopSignal() as stop:
            stats = run(settings, stop)
    except RecipeAlertError as exc:
        log.error("%s", exc)
        if exc.stats is not None:
            log.info("done: %s", exc.stats.summary())
        return exc.exit_code
    except KafkaError as exc:
        log.error("Kafka error: %s: %s", type(exc).__name__, exc)
        log.debug("where it was raised", exc_info=exc)
        return 1
    log.info("done: %s", stats.summary())
    return getattr(stats, "exit_code", 0)
