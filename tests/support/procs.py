"""Process helpers for the tests that stop a run with a signal."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from gpubench import results

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent that does not reap it has ended: it is not running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def stop_after(argv: list[str], out: Path, records: int, sig: int, env: dict) -> tuple[int, str, str]:
    """Run `python argv...`, wait until `out` holds `records` records, send `sig`; (rc, stdout, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and len(results.read(out).records) == records):
        time.sleep(0.1)
    time.sleep(0.5)  # the workers are inside their sleeping items now
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, stderr
