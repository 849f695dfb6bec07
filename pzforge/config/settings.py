"""Typed views of validated config sections, built once and handed to the science code.

The JSON schema stays the single source of keys, defaults and documentation: these dataclasses
carry no defaults of their own and are built from a section the schema has already filled in
(``from_config``), so a key added to the schema and forgotten here fails loudly in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

from pzforge.config.loading import load_schema
from pzforge.errors import ConfigError


class Section:
    """Mixin: build a dataclass from a validated config section (extra keys are ignored).

    ``SCHEMA`` = (pipeline, key path) names the section in its pipeline's schema, so a partial
    section (a notebook, a test) is completed with the schema's own defaults by ``coerce``.
    """

    SCHEMA: ClassVar[tuple[str, tuple[str, ...]] | None] = None

    @classmethod
    def coerce(cls, values: Self | Mapping[str, Any]) -> Self:
        """``values`` if already typed; else the section with the schema's defaults filled in."""
        if isinstance(values, cls):
            return values
        return cls.from_config(schema_defaults(cls.SCHEMA) | dict(values) if cls.SCHEMA else values)

    @classmethod
    def from_config(cls, values: Mapping[str, Any]) -> Self:
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        missing = [n for n in names if n not in values]
        if missing:
            raise ConfigError(
                f"{cls.__name__}: config section lacks {', '.join(missing)} "
                "(validate the config against its schema first)"
            )
        return cls(**{n: values[n] for n in names})


def schema_defaults(where: tuple[str, tuple[str, ...]]) -> dict[str, Any]:
    """The ``default`` of every key of one section of a pipeline's schema."""
    pipeline, path = where
    node = load_schema(pipeline)
    for key in path:
        node = node["properties"][key]
        if node.get("type") == "array":
            node = node["items"]
    return {k: v["default"] for k, v in node.get("properties", {}).items() if "default" in v}


@dataclass(frozen=True)
class PartitionSettings(Section):
    """HATS partitioning (``partition:``)."""

    SCHEMA: ClassVar = ("combine_redshift", ("partition",))

    pixel_threshold: int
    highest_healpix_order: int
    margin_threshold_arcsec: float


@dataclass(frozen=True)
class RegistrySettings(Section):
    """Where and how a run registers its products (``registry:``)."""

    SCHEMA: ClassVar = ("combine_redshift", ("registry",))

    register: bool
    url: str | None
    product_name: str | None
    description: str
    release: str | None


def check_margin_covers_radius(config: Mapping[str, Any], lost: str) -> None:
    """The margin cache must be at least the crossmatch radius, or ``lost`` go missing at borders."""
    radius = config["crossmatch"]["radius_arcsec"]
    margin = config["partition"]["margin_threshold_arcsec"]
    if margin < radius:
        raise ConfigError(
            f"partition.margin_threshold_arcsec ({margin}) must be at least crossmatch.radius_arcsec "
            f"({radius}), or {lost} across tile borders would be missed"
        )
