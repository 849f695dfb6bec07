"""Pipeline configuration: load YAML files, apply ``--set`` overrides, validate with defaults.

The JSON schemas in ``config/schemas/`` are the single source of truth for keys, types, defaults
and their documentation; this module only applies them and turns schema errors into messages
that name the key and what to do. Cross-key rules of one pipeline live with that pipeline
(``<pipeline>/hooks.py``); ``pzforge.pipelines`` runs both.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from pzforge.errors import ConfigError
from pzforge.paths import SCHEMA_DIR, schema_file


def schema_path(pipeline: str) -> Path:
    """Path of the JSON schema (YAML) of ``pipeline``."""
    path = schema_file(str(pipeline))
    if not path.is_file():
        known = sorted(p.name.split(".")[0] for p in SCHEMA_DIR.glob("*.schema.yaml"))
        raise ConfigError(f"unknown pipeline {pipeline!r}; known pipelines: {', '.join(known)}")
    return path


def load_schema(pipeline: str) -> dict[str, Any]:
    with open(schema_path(pipeline)) as fh:
        return yaml.safe_load(fh)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read one YAML config file; a missing or malformed file is a ConfigError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of keys, not {type(data).__name__}"
        )
    return data


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``update`` into a copy of ``base``; nested mappings merge, everything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``a.b.c=value`` (value read as YAML, so numbers, lists and booleans work)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. crossmatch.radius_arcsec=2.0")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {text!r}: the key is empty")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML: {exc}") from exc
    return parts, value


def apply_overrides(config: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides. Catalog entries are addressed by name: catalogs.NAME.key=value."""
    out = copy.deepcopy(config)
    for text in overrides:
        parts, value = parse_override(text)
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            if isinstance(node, list):
                node = _find_named(node, part, ".".join(parts[: i + 1]))
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, (dict, list)):
                    raise ConfigError(
                        f"--set {text!r}: {'.'.join(parts[: i + 1])} is not a mapping"
                    )
        if isinstance(node, list):
            raise ConfigError(f"--set {text!r}: address catalog keys as catalogs.NAME.KEY=VALUE")
        node[parts[-1]] = value
    return out


def _find_named(items: list[Any], name: str, where: str) -> dict[str, Any]:
    for item in items:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    names = [str(i.get("name")) for i in items if isinstance(i, dict)]
    raise ConfigError(f"--set: no entry named {name!r} in {where}; names: {', '.join(names)}")


def _extend_with_default(validator_class: type) -> type:
    """A jsonschema validator that fills in ``default`` values while validating (as Snakemake's)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, subschema in properties.items():
                if "default" in subschema and prop not in instance:
                    instance[prop] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _extend_with_default(jsonschema.Draft202012Validator)


def _error_message(err: jsonschema.ValidationError) -> str:
    where = _path_text(err.absolute_path, err.instance)
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        return (
            f"config key {where + '.' if where else ''}{extra[0] if extra else '?'} is not known; "
            f"allowed keys{' under ' + where if where else ''}: {', '.join(allowed)}"
        )
    if err.validator == "required":
        return f"config {where or 'top level'}: {err.message}"
    if err.validator in ("type", "enum", "minimum", "maximum", "exclusiveMinimum", "pattern"):
        desc = err.schema.get("description", "")
        return f"config key {where}: {err.message}" + (f" ({desc})" if desc else "")
    return f"config key {where or 'top level'}: {err.message}"


def _path_text(path: Iterable[Any], _instance: Any) -> str:
    parts: list[str] = []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else p)
    return ".".join(parts).replace(".[", "[")


def pipeline_of(config: Mapping[str, Any], pipeline: str | None = None) -> str:
    """The pipeline a config is for: given, else its ``pipeline`` key, else combine_redshift."""
    return pipeline or config.get("pipeline") or "combine_redshift"


def schema_problems(
    config: Mapping[str, Any], pipeline: str | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The config with defaults filled, and every schema problem (one line each, in key order)."""
    resolved = copy.deepcopy(dict(config))
    validator = _DefaultFillingValidator(load_schema(pipeline_of(resolved, pipeline)))
    errors = sorted(
        validator.iter_errors(resolved), key=lambda e: [str(p) for p in e.absolute_path]
    )
    return resolved, list(dict.fromkeys(_error_message(e) for e in errors))


def validate_schema(config: Mapping[str, Any], pipeline: str | None = None) -> dict[str, Any]:
    """Validate against the pipeline's schema and fill defaults (no cross-key rules).

    Returns the resolved config (a new dict). Raises ConfigError naming the problem, or listing
    every problem when there are several (``problems`` holds them, one line each).
    """
    resolved, problems = schema_problems(config, pipeline)
    if len(problems) == 1:
        raise ConfigError(problems[0], problems=problems)
    if problems:
        raise ConfigError(
            f"{len(problems)} problems in the config, all listed:\n"
            + "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1)),
            problems=problems,
        )
    return resolved


def read_config(paths: Iterable[str | Path], overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Read and merge config files (later files win) and apply overrides; not yet validated."""
    merged: dict[str, Any] = {}
    for path in paths:
        merged = deep_merge(merged, read_yaml(path))
    return apply_overrides(merged, overrides)
