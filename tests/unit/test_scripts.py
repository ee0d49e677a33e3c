"""The three scripts' command-line contracts that need no broker, run as a user runs them."""

import dataclasses
import importlib
import json
import socket
import subprocess
import sys

import pytest

from testkit import ROOT

SCRIPTS = ["producer_raw_recipes.py", "producer_consumer_parse_recipes.py", "consumer_notification.py"]
PAGES = ROOT / "tests" / "fixtures" / "pages"


def run(script, *args, env=None, timeout=60):
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_explains_the_flags(script):
    result = run(script, "--help")
    assert result.returncode == 0
    for flag in ("--bootstrap-server", "KAFKA_BOOTSTRAP_SERVERS", "--verbose", "exit codes"):
        assert flag in result.stdout


@pytest.mark.parametrize("script, flag", [
    ("producer_raw_recipes.py", "--topic"),
    ("producer_consumer_parse_recipes.py", "--input-topic"),
    ("producer_consumer_parse_recipes.py", "--output-topic"),
    ("producer_consumer_parse_recipes.py", "--dead-letter-topic"),
    ("consumer_notification.py", "--topic"),
])
def test_illegal_topic_is_refused_before_touching_kafka(script, flag):
    # An unroutable bootstrap address: reaching Kafka would hang, refusing is instant.
    result = run(script, flag, "bad/topic", "--bootstrap-server", "127.0.0.1:1", timeout=10)
    assert result.returncode == 2
    assert "bad/topic" in result.stderr and "'/'" in result.stderr


def test_unreachable_broker_gives_one_clear_line_and_exit_2():
    address = f"127.0.0.1:{free_port()}"
    procs = [subprocess.Popen([sys.executable, str(ROOT / script), "--bootstrap-server", address,
                               *(["--from-dir", str(PAGES)] if script == SCRIPTS[0] else [])],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for script in SCRIPTS]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, err
        assert out == ""
        errors = [line for line in err.splitlines() if "ERROR" in line]
        assert len(errors) == 1, err
        assert address in errors[0] and "make kafka-up" in errors[0]


def test_env_variable_sets_the_bootstrap_server_when_no_flag():
    address = f"127.0.0.1:{free_port()}"
    env = {"KAFKA_BOOTSTRAP_SERVERS": address, "PATH": "/usr/bin:/bin"}
    result = run("consumer_notification.py", env=env)
    assert result.returncode == 2
    assert address in result.stderr


def test_from_file_prints_one_json_line_per_file_in_order(tmp_path):
    recipes = sorted(p for p in PAGES.glob("*.html")
                     if json.loads(p.with_suffix(".json").read_text()).get("title"))[:3]
    not_html = tmp_path / "notes.html"
    not_html.write_bytes(b"\x00\x01 not a page")
    paths = [recipes[0], not_html, recipes[1], tmp_path / "missing.html", recipes[2]]
    result = run("producer_consumer_parse_recipes.py", "--from-file", *map(str, paths))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(paths)
    for path, line in zip(paths, lines):
        if path in recipes:
            assert line == json.loads(path.with_suffix(".json").read_text())
        else:
            assert line["error"] in ("NotARecipe", "FileNotFoundError") and line["file"] == str(path)
    assert result.returncode == 1  # some inputs were not recipes


def test_from_file_exits_0_when_every_file_is_a_recipe():
    page = PAGES / "mntl-2024.html"
    result = run("producer_consumer_parse_recipes.py", "--from-file", str(page))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["title"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_settings_field_comes_from_a_flag_or_the_script(script):
    """cli.settings_from refuses a field no flag fills: each script's defaults build its settings."""
    module = importlib.import_module(script[:-3])
    settings = module.settings(module.build_parser().parse_args([]))
    assert settings.connection.bootstrap_servers


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_flag_left_out_gives_the_settings_default(script):
    """A flag's own default must not shadow the one its settings field documents and tunes."""
    module = importlib.import_module(script[:-3])
    settings = module.settings(module.build_parser().parse_args([]))
    differing = {field.name: (getattr(settings, field.name), field.default)
                 for field in dataclasses.fields(settings)
                 if field.default is not dataclasses.MISSING and getattr(settings, field.name) != field.default}
    assert not differing, f"flag default -> settings default: {differing}"


def test_webhook_url_comes_from_the_flag_then_the_environment_and_never_shows_in_repr(monkeypatch):
    notifier = importlib.import_module("consumer_notification")
    secret = "https://hooks.example.com/services/T0/B0/SECRETtoken"
    monkeypatch.setenv("ALERT_WEBHOOK_URL", secret)
    from_env = notifier.settings(notifier.build_parser().parse_args([]))
    assert from_env.webhook == secret
    assert "SECRET" not in repr(from_env)
    flag = notifier.settings(notifier.build_parser().parse_args(["--webhook", "http://127.0.0.1/x"]))
    assert flag.webhook == "http://127.0.0.1/x"
    monkeypatch.delenv("ALERT_WEBHOOK_URL")
    assert notifier.settings(notifier.build_parser().parse_args([])).webhook is None
