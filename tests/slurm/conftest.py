"""The live SLURM of scripts/system/slurm.sh for the tests in this folder.

Every test here is marked ``slurm`` and needs both test nodes. When they are not up, the fixture
runs ``scripts/system/slurm.sh start`` once (as root; PZFORGE_SLURM_AUTOSTART=0 turns that off);
when SLURM still cannot run, the tests are skipped with the reason (pytest -ra prints it), except
under CI=true, where that is a failure: CI must run them.

Other people's jobs may share the cluster: tests look only at their own jobs (by id, name or
working directory), never at the whole queue.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "system" / "slurm.sh"
_state: dict[str, str | None] = {}


def _nodes_up() -> str | None:
    """None when node1 and node2 answer, else what is wrong."""
    if shutil.which("sinfo") is None:
        return "SLURM is not installed (scripts/system/slurm.sh start installs it, as root)"
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"sinfo failed: {exc}"
    states = dict(line.split()[:2] for line in out.stdout.splitlines() if line.strip())
    usable = {n for n, s in states.items() if s.rstrip("*~#$@^-") in ("idle", "mix", "alloc")}
    if not {"node1", "node2"} <= usable:
        return f"SLURM test nodes not up ({(out.stdout or out.stderr).strip() or 'no answer'})"
    return None


def slurm_unavailable() -> str | None:
    """Why the SLURM tests cannot run here (None: they can); tries to start SLURM once."""
    if "reason" in _state:
        return _state["reason"]
    reason = _nodes_up()
    if reason and os.environ.get("PZFORGE_SLURM_AUTOSTART", "1") != "0":
        if os.geteuid() != 0:
            reason += "; not root, so scripts/system/slurm.sh cannot start it"
        else:
            try:
                done = subprocess.run(
                    [str(SCRIPT), "start"], capture_output=True, text=True, timeout=600
                )
                output = (done.stderr or done.stdout).strip().splitlines()
                reason = _nodes_up()
                if reason and output:
                    reason += f"; scripts/system/slurm.sh start said: {output[-1]}"
            except (OSError, subprocess.SubprocessError) as exc:
                reason += f"; scripts/system/slurm.sh start failed: {exc}"
    _state["reason"] = reason
    return reason


@pytest.fixture(autouse=True)
def slurm(request):
    """Skip (or under CI=true fail) a ``slurm``-marked test when SLURM cannot run here."""
    if request.node.get_closest_marker("slurm") is None:
        return
    reason = slurm_unavailable()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and SLURM cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
