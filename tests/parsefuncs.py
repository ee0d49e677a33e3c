"""Stand-ins for parse_stage.workers.parse_page that worker processes can import by name."""

import multiprocessing
import os
import time

from recipe_alert.parse_stage.workers import parse_page


def who_parsed(value, key):
    """A slow page (50 ms); its result names the process that parsed it."""
    time.sleep(0.05)
    return os.getpid(), value


def dies_in_a_worker(value, key):
    """A page b"die" ends the worker process at once, as a crash in a C extension would."""
    if value == b"die" and multiprocessing.parent_process() is not None:
        os._exit(70)
    return parse_page(value, key)
