"""recipe_alert.cli: argument types, settings from flags, and the exit-code boundary."""

import argparse
import dataclasses
import logging

import pytest

from recipe_alert import cli, tuning
from recipe_alert.connection import Connection
from recipe_alert.errors import BrokerUnavailable, Fenced, NothingFetched


@dataclasses.dataclass(frozen=True)
class Settings:
    connection: Connection
    topic: str = "raw_recipes"
    batch_size: int = 50
    budget_s: float = tuning(10.0)


def parser() -> argparse.ArgumentParser:
    parser = cli.make_parser("test", "a test script")
    parser.add_argument("--topic", type=cli.topic_arg, default="raw_recipes")
    parser.add_argument("--batch-size", type=cli.positive_int, default=50)
    return parser


def test_settings_take_each_field_from_the_flag_of_its_name():
    args = parser().parse_args(["--topic", "t1", "--batch-size", "7", "--bootstrap-server", "b:1"])
    assert cli.settings_from(Settings, args) == Settings(Connection("b:1"), "t1", 7)


def test_values_given_by_the_script_win_over_flags():
    args = parser().parse_args(["--topic", "t1"])
    assert cli.settings_from(Settings, args, topic="t2").topic == "t2"


def test_a_settings_field_without_a_flag_is_refused_unless_it_is_tuning():
    @dataclasses.dataclass(frozen=True)
    class Forgotten(Settings):
        workers: int = 1  # a new field whose flag was never added

    args = parser().parse_args([])
    with pytest.raises(TypeError, match=r"Forgotten\.workers has no flag"):
        cli.settings_from(Forgotten, args)
    assert cli.settings_from(Forgotten, args, workers=2).workers == 2


@pytest.mark.parametrize("value, error", [("0", "must be at least 1"), ("x", "invalid int value")])
def test_numeric_flags_refuse_bad_values_with_the_reason(value, error, capsys):
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["--batch-size", value])
    assert exit_.value.code == 2
    assert error in capsys.readouterr().err


def test_an_illegal_topic_is_an_argument_error(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--topic", "bad/topic"])
    assert "'/'" in capsys.readouterr().err


class Stats:
    def __init__(self, exit_code=0):
        self.exit_code = exit_code

    def summary(self):
        return "did 3 things"


@pytest.mark.parametrize("error, code", [
    (BrokerUnavailable("no broker"), 2), (Fenced("taken over"), 3),
    (NothingFetched("nothing fetched", Stats()), 4),
])
def test_run_stage_turns_each_error_into_its_exit_code_and_one_message(error, code, caplog):
    def run(settings, stop):
        raise error

    with caplog.at_level(logging.INFO, logger="recipe_alert"):
        assert cli.run_stage(run, lambda: Settings(Connection())) == code
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [str(error)]
    assert ("done: did 3 things" in caplog.text) is isinstance(error, NothingFetched)


def test_run_stage_returns_the_stages_own_exit_code_after_its_summary(caplog):
    with caplog.at_level(logging.INFO, logger="recipe_alert"):
        assert cli.run_stage(lambda settings, stop: Stats(exit_code=1),
                             lambda: Settings(Connection())) == 1
    assert "done: did 3 things" in caplog.text


def test_a_stop_signal_is_false_until_set():
    stop = cli.StopSignal()
    assert not stop
    stop.set()
    assert stop


SECRET = "pw-Zq81xV"


def test_the_secret_filter_hides_a_secret_in_messages_args_reprs_and_tracebacks():
    secrets = cli.SecretFilter()
    secrets.hide([SECRET])
    records = []
    logger = logging.getLogger("test.secrets")
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(secrets)
    logger.addHandler(handler)
    try:
        logger.warning("config %s", {"sasl_plain_password": SECRET})
        logger.warning("request %r", SECRET.encode() + b"\x00")
        try:
            raise ValueError(f"failed with {SECRET}")
        except ValueError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    shown = "\n".join(logging.Formatter().format(r) for r in records)
    assert SECRET not in shown and shown.count("…") == 3


def test_secrets_of_finds_the_connection_and_the_hidden_fields():
    from recipe_alert.connection import Connection
    from recipe_alert.notify_stage import NotifySettings

    settings = NotifySettings(
        connection=Connection("a:1", "SASL_SSL", "PLAIN", "u", SECRET),
        webhook="https://hooks.example/services/T0/B0/tok")
    found = cli.secrets_of(settings)
    assert SECRET in found and "/services/T0/B0/tok" in found
