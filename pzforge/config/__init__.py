"""Configuration: YAML files + ``--set`` overrides, validated against the JSON schemas in
``config/schemas/`` (the single source of keys, defaults and docs), and typed views of sections.

- ``loading``: read, merge, override, validate with defaults;
- ``settings``: typed sections shared by pipelines (partition, registry) and shared checks;
- ``reference``: ``config/README.md`` generated from the schemas.

Each pipeline's own sections and cross-key rules live in its package (``<pipeline>/settings.py``,
``<pipeline>/hooks.py``); ``pzforge.pipelines`` runs schema and rules together.
"""

from pzforge.config.loading import (
    apply_overrides,
    deep_merge,
    load_schema,
    parse_override,
    pipeline_of,
    read_config,
    read_yaml,
    schema_path,
    validate_schema,
)
from pzforge.config.settings import (
    PartitionSettings,
    RegistrySettings,
    Section,
    check_margin_covers_radius,
)

__all__ = [
    "PartitionSettings",
    "RegistrySettings",
    "Section",
    "apply_overrides",
    "check_margin_covers_radius",
    "deep_merge",
    "load_schema",
    "parse_override",
    "pipeline_of",
    "read_config",
    "read_yaml",
    "schema_path",
    "validate_schema",
]
