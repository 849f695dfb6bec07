"""Glue for Snakemake scripts: log to the rule's log file, turn user errors into one line."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pzforge.errors import PzforgeError
from pzforge.faults import checkpoint
from pzforge.provenance.recording import JobRecorder

ERROR_MARK = "PZFORGE-ERROR:"


@contextlib.contextmanager
def snakemake_job(snakemake: Any) -> Iterator[logging.Logger]:
    """Send logging to ``snakemake.log[0]``; a PzforgeError ends the job with one clear line.

    The line is written to the log with ERROR_MARK so ``pzforge run`` can show it to the user.
    Success or failure, the job's provenance sidecar is written (pzforge.provenance.recording).
    """
    log_path = Path(snakemake.log[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    log = logging.getLogger(f"pzforge.rule.{snakemake.rule}")
    log.info("rule %s started", snakemake.rule)
    recorder = JobRecorder(snakemake)
    try:
        checkpoint(f"rule:{snakemake.rule}")
        yield log
    except PzforgeError as exc:
        log.error("%s %s", ERROR_MARK, exc)
        print(f"{ERROR_MARK} {exc}", file=sys.stderr)
        recorder.write("failed", str(exc))
        handler.flush()
        sys.exit(1)
    except BaseException as exc:
        log.exception("rule %s failed", snakemake.rule)
        recorder.write("failed", f"{type(exc).__name__}: {exc}")
        raise
    sidecar = recorder.write("success")
    log.info("rule %s finished%s", snakemake.rule, f"; provenance in {sidecar}" if sidecar else "")
