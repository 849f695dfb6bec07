"""Typed views of the Combine Redshift Catalogs config sections (schema: combine_redshift)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pzforge.config import Section


@dataclass(frozen=True)
class CatalogSpec(Section):
    """One entry of ``catalogs:``: where the file is and how its columns map to ours."""

    name: str
    path: str
    format: str | None
    product: int | str | None
    hdf5_key: str | None
    fits_hdu: int | str
    columns: dict[str, str | None]
    survey: dict[str, str]
    on_duplicate_id: str
    flags_homogenized: bool
    extra_columns: dict[str, str]

    SCHEMA: ClassVar = ("combine_redshift", ("catalogs",))

    @classmethod
    def from_config(cls, values: Mapping[str, Any]) -> Self:
        # ``survey`` has no default in the schema (a homogenized catalog needs none)
        return super().from_config({"survey": {}} | dict(values))

    @property
    def where(self) -> str:
        """How messages name this catalog."""
        return f"catalog {self.name!r} ({self.path})"


@dataclass(frozen=True)
class ValidationSettings(Section):
    """``validation:``: which rows are invalid and what to do with them."""

    SCHEMA: ClassVar = ("combine_redshift", ("validation",))

    on_invalid: str
    z_sentinels: list[float]
    z_min: float
    z_max: float
    no_redshift: str


@dataclass(frozen=True)
class HomogenizationSettings(Section):
    """``homogenization:``: the survey rules file and unknown flags."""

    SCHEMA: ClassVar = ("combine_redshift", ("homogenization",))

    surveys_file: str | None
    on_unknown_flag: str


@dataclass(frozen=True)
class ResolutionSettings(Section):
    """``resolution:``: how duplicate groups are decided and what the output keeps."""

    SCHEMA: ClassVar = ("combine_redshift", ("resolution",))

    mode: str
    ties: str
    seed: int
    delta_z: float
    criteria: list[dict[str, Any]]
    survey_priority: list[str]
    catalog_priority: list[str]
