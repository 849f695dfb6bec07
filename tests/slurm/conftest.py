"""A live SLURM (scripts/system/slurm.sh) for these tests: skipped where it cannot run, but under
CI=true a missing SLURM is a failure, so CI always runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def slurm_ready() -> str | None:
    """None when both test nodes answer, else the reason."""
    if shutil.which("sinfo") is None:
        return "SLURM is not installed (run scripts/system/slurm.sh start as root)"
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"sinfo failed: {exc}"
    nodes = [line.split() for line in out.stdout.splitlines() if line.strip()]
    usable = [n for n, state in nodes if state.rstrip("*~#") in ("idle", "mix", "alloc", "comp")]
    if len(usable) < 2:
        return f"SLURM test nodes not up ({out.stdout.strip() or out.stderr.strip()}); run scripts/system/slurm.sh start"
    return None


@pytest.fixture(scope="session")
def slurm():
    reason = slurm_ready()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return True
