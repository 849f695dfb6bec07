"""Errors users can fix. The CLI prints them as one line, without a traceback (--debug shows it)."""

from __future__ import annotations


class PzforgeError(Exception):
    """Base class of every error whose message tells the user what to do."""


class ConfigError(PzforgeError):
    """The configuration is invalid (unknown key, wrong type, bad value)."""


class InputDataError(PzforgeError):
    """An input catalog cannot be used as it is (missing file, column, bad values)."""


class HomogenizationError(PzforgeError):
    """A survey's quality flags or types cannot be translated to the common scale."""


class PipelineError(PzforgeError):
    """A pipeline run failed; the message names the rule and its log."""
