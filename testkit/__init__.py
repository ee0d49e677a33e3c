"""What the tests and the benchmarks share: pages, a local HTTP server, broker helpers and fault drivers.

- ``pages``: realistic bloated recipe pages built from the fixture pages;
- ``httpserver``: a stdlib HTTP server on 127.0.0.1 with scripted routes;
- ``broker``: unique topic names, reading topics, waiting, running the scripts;
- ``processes``: scripts as subprocesses, with their peak memory;
- ``chaos``: kill -9, SIGTERM and broker-restart drivers, and their tally.

Every Kafka client here is made from ``broker.CONNECTION``, like the scripts'.
Nothing in this package imports from ``tests`` or ``bench``.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
