"""Named points where the fault tests stop a run, to kill it there (tests/reliability).

``PZFORGE_FAULT_PAUSE=registration`` (comma-separated names) makes the process that reaches the
point write ``$PZFORGE_FAULT_DIR/<name>`` and wait up to ten minutes, so a test can send
SIGKILL or SIGINT at an exact moment. Unset (always, outside tests), a checkpoint does nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "PZFORGE_FAULT_PAUSE"
DIR_ENV = "PZFORGE_FAULT_DIR"


def checkpoint(name: str) -> None:
    wanted = os.environ.get(PAUSE_ENV, "")
    if not wanted or name not in wanted.split(","):
        return
    folder = Path(os.environ.get(DIR_ENV, "."))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"{os.getpid()}\n")
    time.sleep(600)
