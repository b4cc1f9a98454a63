"""The ``daskbench`` command as the integration tests run it: a subprocess of this Python."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def daskbench(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``daskbench ARGS`` in ``cwd`` with ``env`` added to this environment; never raises on
    a non-zero exit (the tests assert on it)."""
    return subprocess.run(
        [sys.executable, "-m", "daskbench.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
