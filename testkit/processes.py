"""The scripts as subprocesses, as a user runs them: output in log files, peak memory sampled."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import ROOT
from .broker import script_command, script_env


def vm_hwm_kib(status: str) -> int | None:
    """Peak resident set (VmHWM) from the text of /proc/<pid>/status, in KiB."""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


@dataclass
class PeakRSS:
    """A script's peak memory: the peak (VmHWM) of each of its processes, summed.

    The parse stage runs worker processes; their peaks need not coincide, so
    the sum is an upper bound.
    """

    peaks_kib: dict[int, int] = field(default_factory=dict)

    def add(self, pid: int, status: str) -> None:
        kib = vm_hwm_kib(status)
        if kib:
            self.peaks_kib[pid] = max(self.peaks_kib.get(pid, 0), kib)

    @property
    def mb(self) -> float:
        return sum(self.peaks_kib.values()) / 1024

    @property
    def nbytes(self) -> int:
        return sum(self.peaks_kib.values()) * 1024


def sample_peak_rss(pid: int, peak: PeakRSS) -> None:
    """Add the VmHWM of ``pid`` and of its children to ``peak``.

    Not wait4's ru_maxrss: Linux carries the parent's RSS into it at exec.
    """
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for each in (pid, *map(int, children)):
        try:
            peak.add(each, Path(f"/proc/{each}/status").read_text())
        except OSError:
            pass  # it ended meanwhile


@dataclass
class Script:
    """A script running as a subprocess; stdout and stderr go to log files in ``log_dir``."""

    name: str
    proc: subprocess.Popen
    out_path: Path
    err_path: Path
    started: float
    peak: PeakRSS = field(default_factory=PeakRSS)
    _lines: list[str] = field(default_factory=list)
    _read: int = 0  # bytes of stdout already split into _lines

    SAMPLE_EVERY_S = 0.05

    @classmethod
    def start(cls, script: str, *args: str, log_dir: Path, name: str | None = None,
              env: dict[str, str] | None = None, python: str | None = None) -> "Script":
        log_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{Path(script).stem}.{time.monotonic_ns()}"
        out_path, err_path = log_dir / f"{stem}.out", log_dir / f"{stem}.err"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(script_command(script, *args, python=python), cwd=ROOT, env=script_env(env),
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        started = cls(name or script, proc, out_path, err_path, time.monotonic())
        threading.Thread(target=started._sample_until_exit, daemon=True).start()
        return started

    def _sample_until_exit(self) -> None:
        # VmHWM is per address space: sampled while it runs, workers included.
        while self.proc.poll() is None:
            sample_peak_rss(self.proc.pid, self.peak)
            time.sleep(self.SAMPLE_EVERY_S)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def stdout_lines(self) -> list[str]:
        """The whole lines printed so far; read incrementally, so polling it stays cheap."""
        with open(self.out_path, "rb") as out:
            out.seek(self._read)
            chunk = out.read()
        complete = chunk[:chunk.rfind(b"\n") + 1]
        self._read += len(complete)
        self._lines += complete.decode(errors="replace").splitlines(keepends=True)
        return self._lines

    @property
    def output(self) -> str:
        """Both streams: the data, then the diagnostics."""
        return self.stdout + self.stderr

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.running():
            self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if still running after ``timeout`` seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def finish(self, timeout: float) -> int:
        """Wait for the exit; kill -9 it if it overstays (a hang is reported, not waited out)."""
        code = self.wait(timeout)
        if code is None:
            self.kill()
            raise TimeoutError(f"{self.name} did not exit within {timeout} s:\n{self.tail()}")
        return code

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait(30)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.stderr.splitlines()[-lines:])

    @property
    def peak_rss(self) -> int:
        """Bytes: the peak RSS of the script and its worker processes."""
        return self.peak.nbytes
