"""Run the installed ``pzforge`` command as a user would (a subprocess, with a timeout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PZFORGE = str(Path(sys.executable).parent / "pzforge")
RUN_TIMEOUT = 600  # a hang (e.g. a Dask deadlock) fails loudly instead of stalling CI


def pzforge(*args, cwd, env=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [PZFORGE, *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
