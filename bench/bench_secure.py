"""What security costs the pipeline: `make bench-secure`.

Runs ``bench.bench_pipeline --only replay`` once per connection, alternating
them round after round. This VM's speed drifts by up to 1.8x within minutes,
so each figure is compared with its own round's PLAINTEXT run:

- PLAINTEXT: the plaintext local broker (``$KAFKA_BOOTSTRAP_SERVERS``, else localhost:9092);
- SASL_PLAINTEXT and SASL_SSL: the secured local broker, as its ``admin`` (SCRAM-SHA-512),
  on 9195 and on 9192. Between these two, only TLS differs.

Pages are the JSON-LD mix by default: the parser's fast path, as most real pages
take it, so the Kafka and TLS work is not hidden behind parsing.

    .venv/bin/python -m bench.bench_secure [--pages N] [--rounds R] [--mix all|jsonld]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from recipe_alert.connection import BOOTSTRAP_ENV, COMMAND_CONFIG_ENV, SECURITY_ENV
from testkit import ROOT, secure

from .bench_pipeline import MIXES
from .stats import ratio

log = logging.getLogger("bench.secure")

FIGURES = (("producer", "producer --from-dir"), ("eos", "parse stage, EOS, from start"),
           ("eos_steady", "  once it held its partitions"), ("eos_workers_0", "  with --workers 0"),
           ("parse_only", "parse-only (scrape_html, in-process)"))


def connections(workdir: Path) -> dict[str, dict[str, str | None]]:
    """Each connection's environment changes (None: unset)."""
    admin = secure.client_config_path(secure.ADMIN)
    # The same user and mechanism on the SASL_PLAINTEXT listener: the file without TLS.
    plain_sasl = workdir / "admin.sasl-plaintext.properties"
    lines = [line for line in admin.read_text(encoding="utf-8").splitlines()
             if not line.startswith("ssl.")]
    lines = [f"bootstrap.servers={secure.SASL_PLAINTEXT}" if line.startswith("bootstrap.servers=")
             else "security.protocol=SASL_PLAINTEXT" if line.startswith("security.protocol=")
             else line for line in lines]
    fd = os.open(plain_sasl, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    unset_security = {name: None for name in SECURITY_ENV.values()}
    return {
        "PLAINTEXT": {**unset_security, COMMAND_CONFIG_ENV: None},
        "SASL_PLAINTEXT": {**unset_security, BOOTSTRAP_ENV: None, COMMAND_CONFIG_ENV: str(plain_sasl)},
        "SASL_SSL": {**unset_security, BOOTSTRAP_ENV: None, COMMAND_CONFIG_ENV: str(admin)},
    }


def one_run(name: str, changes: dict, args, workdir: Path, round_: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in changes}
    env.update({k: v for k, v in changes.items() if v is not None})
    figures = workdir / f"{name}.{round_}.json"
    command = [sys.executable, "-m", "bench.bench_pipeline", "--only", "replay",
               "--pages", str(args.pages), "--mix", args.mix, "--figures", str(figures)]
    log.warning("round %d: %s", round_, name)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name}, round {round_}: bench_pipeline exited {done.returncode}:\n"
                           f"{done.stderr[-3000:]}")
    return json.loads(figures.read_text(encoding="utf-8"))


def render(results: dict[str, list[dict]], rounds: int) -> str:
    names = list(results)
    first = results[names[0]][0]
    out = [f"pages/s, {first['pages']} pages (mean {first['mean_kb']:.0f} KB), published twice; "
           f"ratios against PLAINTEXT in the same round"]
    header = f"{'':38s}" + "".join(f"{name:>22s}" for name in names)
    for r in range(rounds):
        out += ["", f"round {r + 1}", header]
        base = results["PLAINTEXT"][r]
        for key, label in FIGURES:
            cells = []
            for name in names:
                value = results[name][r][key]
                share = "" if name == "PLAINTEXT" else f" ({ratio(value, base[key]):.2f}x)"
                cells.append(f"{value:7.1f}{share:>9s}".rjust(22))
            out.append(f"{label:38s}" + "".join(cells))
    out += ["", f"geometric mean of the {rounds} rounds' ratios against PLAINTEXT", header]
    for key, label in FIGURES:
        cells = []
        for name in names:
            shares = [ratio(results[name][r][key], results["PLAINTEXT"][r][key]) for r in range(rounds)]
            cells.append(f"{statistics.geometric_mean(shares):.2f}x".rjust(22))
        out.append(f"{label:38s}" + "".join(cells))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300, help="pages per run (default 300)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    parser.add_argument("--mix", choices=MIXES, default="jsonld",
                        help="page layouts (default jsonld, the parser's fast path)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    if not secure.client_config_path(secure.ADMIN).exists():
        log.error("%s", secure.NOT_STARTED)
        return 1
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-secure-") as tmp:
        workdir = Path(tmp)
        runs = connections(workdir)
        try:
            for r in range(args.rounds):
                order = list(runs) if r % 2 == 0 else list(reversed(runs))  # no seat is always first
                for name in order:
                    results.setdefault(name, []).append(one_run(name, runs[name], args, workdir, r + 1))
        except RuntimeError as exc:
            log.error("%s", exc)
            return 1
    results = {name: results[name] for name in runs}
    print(render(results, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
