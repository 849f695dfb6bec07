"""Errors users can fix. The CLI prints them as one line, without a traceback (--debug shows it)."""

from __future__ import annotations


class PzforgeError(Exception):
    """Base class of every error whose message tells the user what to do."""


class ConfigError(PzforgeError):
    """The configuration is invalid (unknown key, wrong type, bad value); ``problems`` lists
    each problem on one line when several were found at once."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = list(problems) if problems else [message]


class InputDataError(PzforgeError):
    """An input catalog cannot be used as it is (missing file, column, bad values)."""


class HomogenizationError(PzforgeError):
    """A survey's quality flags or types cannot be translated to the common scale."""


class PipelineError(PzforgeError):
    """A pipeline run failed; the message names the rule and its log."""
