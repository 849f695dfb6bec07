"""A Snakemake logger plugin: one JSON line per Snakemake event, for live progress.

Snakemake finds it as ``snakemake_logger_plugin_pzforge`` (a shim package in
``pzforge/workflow/smk_plugins/`` that ``pzforge run`` puts on ``PYTHONPATH``) and uses it with
``--logger pzforge --logger-pzforge-path FILE``. Only the main Snakemake process (the submitting
host) writes events; jobs (local, SLURM) never load it. ``pzforge.workflow.progress`` reads the
file while the run goes on. The last line is ``{"event": "_closed"}`` when Snakemake stops.

Every Snakemake command imports every plugin it can find, so this module stays cheap to import
and has no ``from __future__ import annotations`` (Snakemake hands the settings' field types to
argparse, which needs real types, not strings).
"""

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

# Attributes every LogRecord has; anything else on a Snakemake record came in as an event field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Fields worth keeping (the rest - shell commands, resources objects - is noise for progress).
_KEEP = {
    "jobid", "job_id", "jobs", "rule_name", "rule_msg", "wildcards", "log", "done", "total",
    "stats", "exception", "aux", "local",
}  # fmt: skip


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    path: Optional[Path] = field(  # noqa: UP045 - argparse needs a real type here
        default=None,
        metadata={"help": "File to append one JSON object per Snakemake event to."},
    )


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "items") and callable(value.items):  # Namedlist, Resources
        try:
            return {str(k): _plain(v) for k, v in value.items()}
        except Exception:
            return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return str(value)


class LogHandler(LogHandlerBase):
    def __post_init__(self) -> None:
        self._fh = None
        self._lock = threading.Lock()
        path = self.settings.path if self.settings else None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", buffering=1)  # noqa: SIM115 - line-buffered until close

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "event", None)
        if self._fh is None:
            return
        try:
            data: dict[str, Any] = {"t": round(record.created, 3)}
            if event is None:
                # plain messages: only the one that carries a SLURM job id is of use
                text = str(record.msg)
                if "SLURM jobid" not in text:
                    return
                data |= {"event": "message", "msg": text[:500]}
            else:
                data["event"] = str(event)
                for key, value in vars(record).items():
                    if key in _KEEP and key not in _STANDARD:
                        data[key] = _plain(value)
                if str(event) == "error":
                    data["msg"] = str(record.msg)[:2000]
            line = json.dumps(data, default=str)
            with self._lock:
                if self._fh is not None and not self._fh.closed:
                    self._fh.write(line + "\n")
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None and not self._fh.closed:
                self._fh.write(json.dumps({"t": round(time.time(), 3), "event": "_closed"}) + "\n")
                self._fh.close()
        super().close()

    @property
    def writes_to_stream(self) -> bool:
        return False  # Snakemake keeps its own console output

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True  # every event, whatever --quiet or -p say

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False
