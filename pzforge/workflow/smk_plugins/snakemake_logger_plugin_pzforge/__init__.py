"""Snakemake finds logger plugins by package name on ``sys.path``; this shim names pzforge's."""

from pzforge.workflow.smk_events import LogHandler, LogHandlerSettings

__all__ = ["LogHandler", "LogHandlerSettings"]
