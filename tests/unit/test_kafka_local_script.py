"""Pieces of scripts/kafka-local.sh that can be checked without starting a broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kafka-local.sh"


def test_new_uuid_never_starts_with_a_dash(tmp_path):
    # StorageTool reads "-t -abc…" as a missing cluster id (a 3-node start failed in CI).
    # The shim makes uuid4's first draw one whose base64 text starts with "-".
    shim = tmp_path / "python"
    shim.write_text(
        "#!/bin/sh\n"
        f'exec {sys.executable} -c "import sys, uuid\n'
        "draws = [uuid.UUID(bytes=bytes([0xF8]) + bytes(15)), uuid.UUID(int=7 << 64)]\n"
        'uuid.uuid4 = lambda: draws.pop(0)\nexec(sys.argv[2])" "$@"\n'
    )
    shim.chmod(0o755)
    function = subprocess.run(
        ["sed", "-n", "/^new_uuid()/,/^}/p", str(SCRIPT)], capture_output=True, text=True, check=True
    ).stdout
    assert function, "new_uuid() not found in kafka-local.sh"
    out = subprocess.run(
        ["bash", "-c", f"{function}\nnew_uuid"], env={"PYTHON": str(shim), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert out == "AAAAAAAAAAcAAAAAAAAAAA"
