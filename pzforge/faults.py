"""Named points where the fault tests stop a run, to kill it there (tests/reliability).

``PZFORGE_FAULT_PAUSE=registration`` (comma-separated names) makes the process that reaches the
point write ``$PZFORGE_FAULT_DIR/<name>`` and wait up to ten minutes, so a test can send
SIGKILL or SIGINT at an exact moment; ``PZFORGE_FAULT_FAIL=rule:summarize_run`` makes it raise
instead (a crash in that step). Points: ``rule:<rule>`` (a job starting), ``finish`` (the run's
end, before provenance is ingested), ``registration`` (provenance ingested, products not yet
registered). Unset (always, outside tests), a checkpoint does nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "PZFORGE_FAULT_PAUSE"
FAIL_ENV = "PZFORGE_FAULT_FAIL"
DIR_ENV = "PZFORGE_FAULT_DIR"


class InjectedFault(RuntimeError):
    """The crash a fault test asked for."""


def checkpoint(name: str) -> None:
    if name in os.environ.get(FAIL_ENV, "").split(","):
        raise InjectedFault(f"fault injected at {name} ({FAIL_ENV})")
    wanted = os.environ.get(PAUSE_ENV, "")
    if not wanted or name not in wanted.split(","):
        return
    folder = Path(os.environ.get(DIR_ENV, "."))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"{os.getpid()}\n")
    time.sleep(600)
