"""Hooks of the Combine Redshift Catalogs pipeline (see ``pzforge.pipelines``): cross-key rules,
input paths, and the checks made on the submitting host before any job runs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pzforge import io
from pzforge.combine.columns import COLUMNS, RESOLUTION_COLUMNS
from pzforge.config import check_margin_covers_radius
from pzforge.errors import ConfigError, InputDataError
from pzforge.paths import SHIPPED_SURVEYS_FILE
from pzforge.products.references import locate


def check_config(config: dict[str, Any]) -> None:
    names = [c["name"] for c in config["catalogs"]]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(f"two catalogs are named {name!r}; catalog names must be unique")
        seen.add(name)
    for cat in config["catalogs"]:
        if (cat.get("path") is None) == (cat.get("product") is None):
            raise ConfigError(
                f"catalog {cat['name']!r}: give exactly one of path (a file or HATS directory) "
                "and product (a registry product id or internal name)"
            )
    check_margin_covers_radius(config, "pairs")
    for cat in config["catalogs"]:
        if "survey" not in cat and not cat.get("flags_homogenized"):
            raise ConfigError(
                f"catalog {cat['name']!r}: say where its survey name comes from "
                "(survey: {column: NAME} or survey: {value: SURVEY})"
            )
    extra = union_extra_columns(config)
    taken = set(COLUMNS) | set(RESOLUTION_COLUMNS) | set(extra)
    footprints: set[str] = set()
    for fp in config.get("footprints") or []:
        if fp["name"] in taken or fp["name"] in footprints:
            raise ConfigError(
                f"footprint name {fp['name']!r} is already an output column or another "
                f"footprint's name; give it its own name (e.g. in_{fp['name']})"
            )
        if not fp.get("circles") and not fp.get("moc"):
            raise ConfigError(f"footprint {fp['name']!r}: give circles, a moc file, or both")
        footprints.add(fp["name"])
    unknown = [c for c in config["resolution"]["catalog_priority"] if c not in seen]
    if unknown:
        raise ConfigError(
            f"resolution.catalog_priority names {unknown[0]!r}, which is not a catalog; "
            f"catalogs: {', '.join(names)}"
        )


def catalog_priority(config: Mapping[str, Any]) -> list[str]:
    """Every catalog, best first: resolution.catalog_priority, then the order of ``catalogs:``."""
    listed = list(dict.fromkeys(config["resolution"]["catalog_priority"]))
    return listed + [c["name"] for c in config["catalogs"] if c["name"] not in listed]


def resolution_params(config: Mapping[str, Any]) -> dict[str, Any]:
    """The resolution section a run uses, with the full catalog priority spelled out (so that
    reordering ``catalogs:`` reruns the resolution)."""
    return dict(config["resolution"]) | {"catalog_priority": catalog_priority(config)}


def catalog_products(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Catalogs given as registry products, located (main file, format, product id), by name.

    Called on the submitting host (jobs read the saved answer); the product is read only.
    """
    out = {}
    for cat in config["catalogs"]:
        if cat.get("product") is not None:
            ref = {"product": cat["product"], "format": cat.get("format")}
            out[cat["name"]] = locate(ref, config["registry"]["url"], f"catalog {cat['name']!r}")
    return out


def use_located(config: dict[str, Any], located: Mapping[str, Mapping[str, Any]]) -> None:
    """Point each product catalog at its located main file (in place)."""
    for cat in config["catalogs"]:
        where = located.get(cat["name"])
        if where is not None:
            cat["path"] = where["path"]
            cat["format"] = cat.get("format") or where["format"]


def derived_from(located: Mapping[str, Mapping[str, Any]]) -> list[int]:
    """The products the combined catalog is made from (its lineage)."""
    return sorted({int(w["product_id"]) for w in located.values() if w.get("product_id")})


def input_paths(config: Mapping[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Config entries holding input paths (tolerates a partial config: one file of several)."""
    pairs = [(cat, "path") for cat in config.get("catalogs") or [] if isinstance(cat, dict)]
    if isinstance(config.get("homogenization"), dict):
        pairs.append((config["homogenization"], "surveys_file"))
    pairs += [(fp, "moc") for fp in config.get("footprints") or [] if isinstance(fp, dict)]
    return pairs


# A catalog file up to this size is "small": its ingest costs less than starting the job's
# Python process and importing pandas (about 1.5 s of CPU), so small catalogs share jobs.
SMALL_CATALOG_BYTES = 4 * 2**20


def ingest_batches(
    config: Mapping[str, Any], n_batches: int, small_bytes: int = SMALL_CATALOG_BYTES
) -> dict[str, list[str]]:
    """Small catalogs (files up to ``small_bytes``) in at most ``n_batches`` batches of two or
    more, balanced by file size: batch name -> catalog names, in name order. A catalog in no
    batch (large, a HATS folder, alone in its batch) is ingested by its own job; ``n_batches``
    0: no batch."""
    if n_batches < 1:
        return {}
    small = []
    for cat in config["catalogs"]:
        path = Path(cat["path"]) if cat.get("path") else None
        if path is not None and path.is_file() and path.stat().st_size <= small_bytes:
            small.append((path.stat().st_size, cat["name"]))
    bins: list[tuple[int, list[str]]] = [(0, []) for _ in range(n_batches)]
    for size, name in sorted(small, key=lambda sn: (-sn[0], sn[1])):
        i = min(range(len(bins)), key=lambda k: (bins[k][0], k))
        bins[i] = (bins[i][0] + size, [*bins[i][1], name])
    members = [sorted(names) for _, names in bins if len(names) > 1]
    return {str(i + 1): names for i, names in enumerate(sorted(members))}


def unbatched_pattern(catalogs: Iterable[str], batched: set[str]) -> str:
    """The wildcard pattern of catalogs ingested one per job (never matches when none is)."""
    names = [re.escape(name) for name in catalogs if name not in batched]
    return "|".join(names) if names else "(?!)"


def surveys_files(config: Mapping[str, Any]) -> list[str]:
    """The survey rules the run uses: the shipped file, then the config's own file (which adds
    to and overrides the shipped rules survey by survey)."""
    own = config["homogenization"]["surveys_file"]
    return [str(SHIPPED_SURVEYS_FILE), *([own] if own else [])]


def footprint_files(config: Mapping[str, Any]) -> list[str]:
    """MOC files of the footprints (inputs of the write rule)."""
    return [fp["moc"] for fp in config["footprints"] if fp.get("moc")]


def union_extra_columns(config: Mapping[str, Any]) -> dict[str, str]:
    """Extra columns of all catalogs (each catalog's output carries all of them, null-filled).

    The same column declared with two different types is a ConfigError.
    """
    extra: dict[str, str] = {}
    for cat in config["catalogs"]:
        for name, kind in (cat.get("extra_columns") or {}).items():
            if name in extra and extra[name] != kind:
                raise ConfigError(
                    f"extra column {name!r} is {extra[name]} in one catalog and {kind} in "
                    f"catalog {cat['name']!r}; give it one type"
                )
            extra[name] = kind
    clash = sorted(set(extra) & (set(COLUMNS) | set(RESOLUTION_COLUMNS)))
    if clash:
        raise ConfigError(
            f"extra column {clash[0]!r} has the name of a standard output column; map it in "
            "`columns:` instead, or rename it"
        )
    return dict(sorted(extra.items()))


def preflight(config: dict[str, Any], base: Path | None = None) -> None:
    """Every input problem at once, before any job runs: missing or unreadable files, unknown
    formats, missing columns (from each catalog's header), unknown surveys (from the survey
    column's values), survey rules that read columns a catalog lacks, broken rules files and
    MOC files. One problem is one line; several are listed together in one error."""
    problems = input_problems(config, base)
    if len(problems) == 1:
        raise InputDataError(problems[0])
    if problems:
        raise InputDataError(
            f"{len(problems)} problems in the inputs, all listed:\n"
            + "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
        )


def input_problems(config: dict[str, Any], base: Path | None = None) -> list[str]:
    """The problems :func:`preflight` reports, as a list of one-line messages."""
    from pzforge.combine.footprints import read_moc
    from pzforge.combine.homogenize import RuleBook
    from pzforge.errors import HomogenizationError

    def where_is(value: str) -> Path:
        path = Path(value)
        return base / path if base is not None and not path.is_absolute() else path

    problems: list[str] = []
    book = None
    files = surveys_files(config)
    try:
        book = RuleBook.load_layers([where_is(f) for f in files])
    except HomogenizationError as exc:
        problems.append(f"{exc} (homogenization.surveys_file)")
    for spec in config["catalogs"]:
        if spec.get("product") is not None:
            try:
                ref = {"product": spec["product"], "format": spec.get("format")}
                found = locate(ref, config["registry"]["url"], f"catalog {spec['name']!r}")
            except InputDataError as exc:
                problems.append(str(exc))
                continue
            spec = {**spec, "path": found["path"], "format": spec.get("format") or found["format"]}
        problems += _catalog_problems(spec, where_is(spec["path"]), book)
    for fp in config.get("footprints") or []:
        if fp.get("moc"):
            try:
                read_moc(where_is(fp["moc"]))
            except InputDataError as exc:
                problems.append(f"footprint {fp['name']!r}: {exc}")
    return problems


def _catalog_problems(spec: dict[str, Any], path: Path, book: Any) -> list[str]:
    """One catalog's problems, read from its header and its survey column only."""
    from pzforge.combine.homogenize import RuleBook

    where = f"catalog {spec['name']!r} ({path})"
    if not path.exists():
        return [
            f"catalog {spec['name']!r}: {path}: file not found; check the catalog's `path` in "
            "the config (a relative path resolves against the config file's directory)"
        ]
    if path.is_file() and path.stat().st_size == 0:
        return [f"catalog {spec['name']!r}: {path}: the file is empty"]
    try:
        fmt = io.detect_format(path, spec.get("format"))
        kw = {"hdf5_key": spec.get("hdf5_key"), "fits_hdu": spec.get("fits_hdu", 1)}
        available = io.list_columns(path, fmt, **kw)
    except InputDataError as exc:
        return [f"{where}: {exc}"]
    problems = []
    missing = [
        f"{src!r} (for {std})"
        for std, src in spec["columns"].items()
        if src and src not in available
    ]
    survey = spec.get("survey") or {}
    if "column" in survey and survey["column"] not in available:
        missing.append(f"{survey['column']!r} (survey column)")
    missing += [
        f"{c!r} (extra column)" for c in spec.get("extra_columns") or {} if c not in available
    ]
    if missing:
        shown = ", ".join(available[:30]) + (" ..." if len(available) > 30 else "")
        problems.append(
            f"{where}: column {', '.join(missing)} not found; the file has: {shown}. "
            "Fix the column map in the config"
        )
    if not isinstance(book, RuleBook):
        return problems
    names = _survey_names(spec, path, fmt, available, kw)
    mapped = {std for std, src in spec["columns"].items() if src}
    raw_available = (set(available) - {"z_flag", "z_err", "type"}) | mapped
    for name in names:
        rule = book.find(name)
        if rule is None:
            if not spec.get("flags_homogenized"):
                problems.append(
                    f"{where}: survey {name!r} has no homogenization rules; write a rule for it "
                    "in your own rules file and name it in homogenization.surveys_file (it adds "
                    "to the shipped rules; docs/surveys.md), or set flags_homogenized: true if "
                    f"the catalog's flags are already on the common scale. Known: "
                    f"{', '.join(book.known_surveys())}"
                )
            continue
        if spec.get("flags_homogenized"):
            continue
        lacking = book.missing_columns(rule, raw_available)
        if lacking:
            problems.append(
                f"{where}: survey {rule}'s rules read column(s) {', '.join(lacking)}, which the "
                "catalog does not provide; map z_flag / z_err / type in `columns:`, or override "
                "the rule (with `defaults:` for columns a file may lack) in "
                f"homogenization.surveys_file; see `pzforge surveys explain {rule}`"
            )
    return problems


def _survey_names(
    spec: dict[str, Any], path: Path, fmt: str, available: list[str], kw: dict[str, Any]
) -> list[str]:
    """The survey names of a catalog: its value, or the distinct values of its survey column
    (the one column read beyond the header)."""
    survey = spec.get("survey") or {}
    if "value" in survey:
        return [survey["value"]]
    column = survey.get("column")
    if not column or column not in available:
        return []
    try:
        values = io.read_table(path, fmt, [column], **kw)[column]
    except InputDataError:
        return []
    return sorted({str(v).strip() for v in values.dropna().unique()})


def qa_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the QA report uses and shows (the params of its rule)."""
    return {
        "radius_arcsec": config["crossmatch"]["radius_arcsec"],
        "delta_z": config["resolution"]["delta_z"],
        "mode": config["resolution"]["mode"],
        "ties": config["resolution"]["ties"],
        "seed": config["resolution"]["seed"],
        "max_points": config["qa"]["max_points"],
    }


def stamp_inputs(config: Mapping[str, Any]) -> list[dict[str, str]]:
    """The inputs a combined catalog's stamp names: each catalog by name and file format."""
    out = []
    for cat in config["catalogs"]:
        try:
            fmt = io.detect_format(cat["path"], cat.get("format"))
        except InputDataError:
            fmt = "unknown"
        out.append({"name": cat["name"], "format": fmt})
    return out


def summary_tables(summary: dict[str, Any]) -> list:
    """The run's summary.json as tables (``pzforge run`` prints them, the provenance report
    shows them)."""
    from pzforge.combine.summary import summary_tables as tables

    return tables(summary)
