"""A pipeline run asked for through the API, checked before it is queued.

Every problem is listed at once (422): the pipeline's JSON schema (all errors, not the first),
its cross-key rules, the profile, and the site's rules for what a run may name:

- inputs are registry products the user can read (403 otherwise); file paths only inside the
  site's ``input_roots`` (none by default);
- the registry is the site's: ``registry.url`` is ignored; a ``registry.release`` must be one
  the user may add to;
- the Dask settings that would write or submit as the worker account where the user chooses
  (``dask.local_directory``, ``dask.job_extra_directives``) are the site's, not the run's.

The worker checks the config again (the same ``pipelines.validate``) when it runs it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import registry
from pzforge import pipelines
from pzforge.config import loading
from pzforge.errors import ConfigError
from pzforge.server.settings import ServerSettings
from registry import NotFound, PermissionDenied

SITE_DASK_KEYS = ("local_directory", "job_extra_directives")


def product_refs(config: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``product:`` reference in a config, with where it is (``catalogs[0].product``)."""
    if isinstance(config, dict):
        for key, value in config.items():
            here = f"{where}.{key}" if where else str(key)
            if key == "product" and value is not None and not isinstance(value, (dict, list)):
                yield here, value
            else:
                yield from product_refs(value, here)
    elif isinstance(config, list):
        for i, value in enumerate(config):
            yield from product_refs(value, f"{where}[{i}]")


def check_run(
    reg: registry.Registry,
    settings: ServerSettings,
    pipeline: str,
    config: dict[str, Any],
    profile: str | None,
) -> tuple[dict[str, Any], str]:
    """The config to queue (as given, less ``registry.url``) and the profile; ConfigError with
    every problem, or PermissionDenied for an input the user may not read."""
    if pipeline in pipelines.TASK_PIPELINES:
        raise ConfigError(
            f"{pipeline} runs are started by the site's own requests (POST /embeddings)"
        )
    if pipeline not in pipelines.submittable():
        raise ConfigError(
            f"unknown pipeline {pipeline!r}; pipelines: {', '.join(pipelines.submittable())}"
        )
    problems: list[str] = []
    profile = profile or settings.profiles[0]
    if profile not in settings.profiles:
        problems.append(
            f"profile {profile!r} is not offered here; profiles: {', '.join(settings.profiles)}"
        )
    config = copy.deepcopy(config)
    if config.setdefault("pipeline", pipeline) != pipeline:
        problems.append(f"the config is for pipeline {config['pipeline']!r}, not {pipeline!r}")
        config["pipeline"] = pipeline
    if isinstance(config.get("registry"), dict):
        config["registry"].pop("url", None)  # the site's registry, always
    dask = config.get("dask")
    if isinstance(dask, dict):
        for key in SITE_DASK_KEYS:
            if dask.get(key):
                problems.append(
                    f"config key dask.{key} is set by the site, not by a run; remove it"
                )
    resolved, schema = loading.schema_problems(config, pipeline)
    problems += schema
    if not schema:
        try:
            resolved = pipelines.validate(resolved, pipeline)
        except ConfigError as exc:
            problems += exc.problems
    if not schema:
        problems += _path_problems(pipeline, resolved, settings.input_roots)
        release = (resolved.get("registry") or {}).get("release")
        if release:
            try:
                if not reg.release_open(release):
                    raise PermissionDenied(
                        f"{reg.user} may not add products to release {release}: it is "
                        "restricted to some groups"
                    )
            except NotFound as exc:
                problems.append(f"registry.release: {exc}")
        for where, ref in product_refs(resolved):
            try:
                if not reg.can_read(ref):
                    raise PermissionDenied(
                        f"{where}: {reg.user} may not read product {ref!r} (its release is "
                        "restricted to some groups)"
                    )
            except NotFound as exc:
                problems.append(f"{where}: {exc}")
    if len(problems) == 1:
        raise ConfigError(problems[0], problems=problems)
    if problems:
        raise ConfigError(
            f"{len(problems)} problems in the run request, all listed: " + "; ".join(problems),
            problems=problems,
        )
    return config, profile


def _path_problems(pipeline: str, config: dict[str, Any], roots: tuple[Path, ...]) -> list[str]:
    """File paths a run names: only inside the site's input roots."""
    fn = getattr(pipelines.hooks(pipeline), "input_paths", None)
    problems = []
    for container, key in fn(config) if fn else []:
        value = container.get(key) if isinstance(container, dict) else None
        if not isinstance(value, str) or not value:
            continue
        if not roots:
            problems.append(
                f"{key} {value!r}: this site takes inputs as registry products (e.g. "
                "catalogs[].product, reference.product), not file paths"
            )
            continue
        path = Path(value)
        resolved = path.resolve() if path.is_absolute() else None
        if resolved is None or not any(resolved.is_relative_to(r) for r in roots):
            problems.append(
                f"{key} {value!r}: a file path must be absolute and inside "
                f"{', '.join(str(r) for r in roots)}; or give a registry product"
            )
    return problems
