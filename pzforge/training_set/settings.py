"""Typed views of the Training Set Maker's config sections (schema: training_set).

``reference:`` and ``photometry:`` stay validated mappings: their column names are templates
(``{band}_{flux_type}Flux``) read by name by the photometry helpers and the tests' partial blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pzforge.config import Section


@dataclass(frozen=True)
class CrossmatchSettings(Section):
    """``crossmatch:``: the match radius and how many candidates lsdb returns per object."""

    SCHEMA: ClassVar = ("training_set", ("crossmatch",))

    radius_arcsec: float
    n_neighbors: int


@dataclass(frozen=True)
class SplitSettings(Section):
    """``split:``: none, a seeded random split, or train/test from a column."""

    SCHEMA: ClassVar = ("training_set", ("split",))

    method: str
    training_fraction: float
    seed: int
    column: str | None
    train_values: list[Any]
    output: str


@dataclass(frozen=True)
class TrainingSetSettings:
    """Everything the step after partitioning needs, built once from the validated config."""

    crossmatch: CrossmatchSettings
    photometry: dict[str, Any]
    magnitudes: dict[str, Any]
    split: SplitSettings
    allow_empty: bool

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TrainingSetSettings:
        return cls(
            crossmatch=CrossmatchSettings.from_config(config["crossmatch"]),
            photometry=dict(config["photometry"]),
            magnitudes=dict(config["magnitudes"]),
            split=SplitSettings.from_config(config["split"]),
            allow_empty=bool(config["allow_empty"]),
        )
