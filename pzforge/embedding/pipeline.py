"""The steps of the embedding pipeline, one function per rule of ``workflows/embedding.smk``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from pzforge import io
from pzforge.config import RegistrySettings
from pzforge.embedding import features as feat
from pzforge.embedding import fit
from pzforge.embedding.manifest import embedding_manifest
from pzforge.embedding.metrics import compute_metrics
from pzforge.errors import InputDataError
from pzforge.io import read_json, write_json
from pzforge.io.stamps import parquet_metadata
from pzforge.products.manifest import write_manifest
from pzforge.tables import Block, Lines, Table, key_values, render_text

log = logging.getLogger(__name__)
FEATURE_PREFIX = "feature:"


def write_parquet(df: pd.DataFrame, path: str | Path, stamp: dict[str, Any] | None = None) -> None:
    """Byte-reproducible Parquet (no index, zstd at its default level), written atomically;
    ``stamp``: the provenance the file carries (``pzforge.io.stamps``)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    if stamp:
        table = table.replace_schema_metadata(
            (table.schema.metadata or {}) | parquet_metadata(stamp)
        )
    io.write_parquet(table, path, compression="zstd", compression_level=None)


def needed_columns(columns: dict[str, Any], features: dict[str, Any]) -> list[str]:
    wanted = [columns.get("id"), columns.get("redshift"), columns.get("survey")]
    wanted += list(columns.get("labels") or []) + feat.feature_inputs(features)
    return list(dict.fromkeys(c for c in wanted if c))


def prepare_features(
    source: dict[str, Any],
    columns: dict[str, Any],
    features: dict[str, Any],
    sampling: dict[str, Any],
    out_parquet: str | Path,
    out_json: str | Path,
    min_rows: int = 20,
    row_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Read the input, build and clean the features, sample, standardise, write both files.

    ``row_settings`` (``umap``, ``metrics``, ``stability``, ``redshift``) are checked against
    the number of rows to embed as soon as it is known, before anything is fitted.
    """
    path, fmt = source["path"], source["format"]
    needed = needed_columns(columns, features)
    available = io.list_columns(path, fmt, hdf5_key=source.get("hdf5_key"))
    missing = [c for c in needed if c not in available]
    if missing:
        raise InputDataError(
            f"{path}: column {missing[0]!r} not found; columns are: {', '.join(available[:60])}"
        )
    limits = feat.limit_columns(features, available)
    marks = [c for m in limits.values() for c in m.values()]
    raw = io.read_table(
        path, fmt, list(dict.fromkeys([*needed, *marks])), hdf5_key=source.get("hdf5_key")
    )

    def check_rows(n: int, dropped: dict[str, int]) -> None:
        if row_settings:
            check_enough_rows(n, **row_settings, source=str(path), dropped=dropped)

    fs = feat.prepare(
        raw,
        features=features,
        columns=columns,
        sampling=sampling,
        source=str(path),
        min_rows=min_rows,
        limits=limits,
        check_rows=check_rows,
    )
    table = fs.meta.copy()
    for i, name in enumerate(fs.names):
        table[FEATURE_PREFIX + name] = fs.X[:, i]
    write_parquet(table, out_parquet)
    stats = {"source": {k: v for k, v in source.items() if v is not None}, **fs.stats}
    stats["limit_columns"] = limits
    write_json(stats, out_json)
    log.info(
        "%d rows in, %d valid, %d sampled; dropped: %s",
        stats["rows_in"],
        stats["rows_valid"],
        stats["rows_sampled"],
        stats["dropped"],
    )
    return stats


def read_features(path: str | Path) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    table = pd.read_parquet(path)
    names = [c for c in table.columns if c.startswith(FEATURE_PREFIX)]
    X = table[names].to_numpy(dtype="float64")
    meta = table.drop(columns=names)
    return meta, X, [n[len(FEATURE_PREFIX) :] for n in names]


def row_requirements(
    umap: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    stability: dict[str, Any] | None = None,
    redshift: bool = True,
) -> list[tuple[int, str, str]]:
    """(rows needed, setting, how to fix) for every setting that depends on the row count n.

    n is the number of rows embedded: min(valid rows, sampling.sample_size).
    """
    k = int(umap["n_neighbors"])
    needs = [(k + 1, f"umap.n_neighbors = {k} needs n > {k}", "lower umap.n_neighbors")]
    if stability is not None:
        size = int(stability["sample_size"])
        needs.append(
            (
                k + 1 if size > k else 10**9,
                f"the stability fits (stability.sample_size = {size} rows) need more rows than "
                f"umap.n_neighbors = {k}",
                "raise stability.sample_size or lower umap.n_neighbors",
            )
        )
    if metrics is not None:
        kmax, rank = max(int(v) for v in metrics["k"]), int(metrics["rank_sample_size"])
        needs.append(
            (
                2 * kmax + 1 if rank > 2 * kmax else 10**9,
                f"metrics.k = {kmax} needs 2 x {kmax} + 1 = {2 * kmax + 1} rows"
                + ("" if rank > 2 * kmax else f" in metrics.rank_sample_size ({rank})"),
                "lower metrics.k",
            )
        )
        knn = int(metrics["knn_k"])
        needs.append((knn + 1, f"metrics.knn_k = {knn} needs n > {knn}", "lower metrics.knn_k"))
        if redshift:
            pk, folds = int(metrics["photoz_k"]), int(metrics["photoz_folds"])
            need = pk * folds
            needs.append(
                (
                    need,
                    f"the photo-z score (metrics.photoz_k x metrics.photoz_folds = {pk} x {folds})"
                    f" needs {need} rows",
                    "lower metrics.photoz_k or metrics.photoz_folds",
                )
            )
    return needs


def check_enough_rows(
    n: int,
    umap: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    stability: dict[str, Any] | None = None,
    redshift: bool = True,
    source: str = "input",
    dropped: dict[str, int] | None = None,
) -> None:
    """Every row-count-dependent setting holds for ``n`` rows, else one InputDataError naming
    each setting that fails, the rows it needs and the fix (checked before any fit)."""
    failed = [
        (need, what, fix)
        for need, what, fix in row_requirements(umap, metrics, stability, redshift)
        if n < need
    ]
    if failed:
        why = "; ".join(f"{what} ({fix})" for _, what, fix in failed)
        drops = f" (dropped: {dropped})" if dropped else ""
        raise InputDataError(
            f"{source}: only {n} rows will be embedded{drops}, too few for the settings: {why}; "
            "or give an input with more valid rows"
        )


def fit_embedding(
    features_parquet: str | Path,
    umap_params: dict[str, Any],
    stability: dict[str, Any],
    out_embedding: str | Path,
    out_replicates: str | Path,
    row_settings: dict[str, Any] | None = None,
) -> dict[str, float]:
    """UMAP fit of the sample plus the stability replicates; returns seconds per step.

    ``row_settings`` (``metrics``, and the stability settings) are checked with the UMAP ones
    against the rows before the fit, so a setting too large for the data stops the run here.
    """
    import time

    meta, X, _names = read_features(features_parquet)
    check_enough_rows(len(X), umap_params, **(row_settings or {}), redshift="z" in meta)
    t0 = time.perf_counter()
    Y = fit.fit_umap(X, umap_params)
    t1 = time.perf_counter()
    rows, fits = fit.stability_replicates(X, umap_params, stability)
    t2 = time.perf_counter()
    coords = pd.DataFrame({"id": meta["id"]})
    for i in range(Y.shape[1]):
        coords[f"umap_{i + 1}"] = Y[:, i]
    write_parquet(coords, out_embedding)
    parts = []
    for name, R in fits.items():
        part = pd.DataFrame({"replicate": name, "row": rows.astype("int64")})
        for i in range(R.shape[1]):
            part[f"c_{i + 1}"] = R[:, i]
        parts.append(part)
    if not parts:  # no replicate asked for: keep an empty table with the right columns
        parts.append(pd.DataFrame({"replicate": pd.Series([], dtype=object), "row": []}))
    write_parquet(pd.concat(parts, ignore_index=True), out_replicates)
    timings = {"fit": t1 - t0, "stability_fits": t2 - t1}
    log.info("UMAP fit of %d rows: %.1f s; stability fits: %.1f s", len(X), *timings.values())
    return timings


def _replicates(
    X: np.ndarray,
    Y_umap: np.ndarray,
    replicates: pd.DataFrame,
    umap_params: dict[str, Any],
) -> dict[str, dict[str, Any]]:
    """Stability inputs of UMAP (from the fit rule) and of PCA (refitted here, it is cheap)."""
    if replicates.empty:
        return {}
    cols = [c for c in replicates.columns if c.startswith("c_")]
    main = f"seed_{int(umap_params['random_state'])}"
    groups = {name: part for name, part in replicates.groupby("replicate", sort=True)}
    rows = next(iter(groups.values()))["row"].to_numpy()
    same = groups.pop(main, None)
    others = [part[cols].to_numpy() for part in groups.values()]
    umap = {
        "rows": rows,
        "same_seed": None if same is None else same[cols].to_numpy(),
        "other_seeds": others,
    }
    pca = {"rows": rows, "same_seed": None, "other_seeds": []}
    if len(rows) < len(X):
        pca["same_seed"] = fit.fit_pca(X[rows], Y_umap.shape[1])
    return {"umap": umap, "pca": pca}


def compute_embedding_metrics(
    features_parquet: str | Path,
    features_json: str | Path,
    embedding_parquet: str | Path,
    replicates_parquet: str | Path,
    *,
    settings: dict[str, Any],
    umap_params: dict[str, Any],
    stability: dict[str, Any],
    out_parquet: str | Path,
    out_json: str | Path,
    stamp: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Metrics of the UMAP embedding and of a PCA baseline; the output table with scores."""
    meta, X, names = read_features(features_parquet)
    check_enough_rows(len(X), umap_params, settings, stability, redshift="z" in meta)
    coords = pd.read_parquet(embedding_parquet)
    ucols = [c for c in coords.columns if c.startswith("umap_")]
    Y = coords[ucols].to_numpy(dtype="float64")
    P = fit.fit_pca(X, Y.shape[1])
    reps = _replicates(X, Y, pd.read_parquet(replicates_parquet), umap_params)
    z = meta["z"].to_numpy(dtype="float64") if "z" in meta else None
    metrics, per_point, timings = compute_metrics(
        X,
        {"umap": Y, "pca": P},
        settings=settings,
        metric=umap_params["metric"],
        z=z,
        replicates=reps,
    )
    out = meta.copy()
    for i, c in enumerate(ucols):
        out[c] = Y[:, i]
    for i in range(P.shape[1]):
        out[f"pca_{i + 1}"] = P[:, i]
    out["knn_preservation"] = per_point["umap"]
    out["knn_preservation_pca"] = per_point["pca"]
    write_parquet(out, out_parquet, stamp)
    stats = read_json(features_json)
    result = {
        "description": (
            "Quality of a UMAP embedding of photometric features and of a PCA baseline of the "
            "same data; definitions in docs/embedding.md."
        ),
        "input": stats,
        "features": names,
        "umap": dict(umap_params),
        "settings": dict(settings),
        "stability": dict(stability),
        "metrics": metrics,
    }
    write_json(result, out_json)
    for name, secs in timings.items():
        log.info("metric %s: %.2f s", name, secs)
    return result, timings


def make_plots(
    embedding_parquet: str | Path, out_dir: str | Path, html: str | Path, run_name: str
) -> list[Path]:
    from pzforge.embedding import plots

    df = pd.read_parquet(embedding_parquet)
    made = plots.png_plots(df, out_dir, run_name)
    made.append(plots.html_plot(df, html, f"{run_name}: UMAP embedding"))
    return made


def summary_tables(summary: dict[str, Any]) -> list[Block]:
    """The run's summary as tables (``summary``: metrics.json plus ``outputs``)."""
    stats, m = summary["input"], summary["metrics"]
    dropped = ", ".join(f"{k}: {v}" for k, v in stats["dropped"].items()) or "none"
    u = summary["umap"]
    facts = [
        ("embedding of", stats["source"].get("product_name") or stats["source"]["path"]),
        ("rows in", stats["rows_in"]),
        ("dropped", f"{stats['rows_dropped']} ({dropped})"),
        ("valid", stats["rows_valid"]),
        ("sampled", stats["rows_sampled"]),
        (f"features ({len(summary['features'])})", ", ".join(summary["features"])),
        (
            "UMAP",
            f"metric={u['metric']} n_neighbors={u['n_neighbors']} min_dist={u['min_dist']} "
            f"n_components={u['n_components']} random_state={u['random_state']}",
        ),
    ]
    rows: list[list[Any]] = []

    def row(label: str, a: Any, b: Any) -> None:
        rows.append([label, *("-" if v is None else f"{v:.4f}" for v in (a, b))])

    ks = sorted(m["umap"]["trustworthiness"], key=int)
    for k in ks:
        row(
            f"trustworthiness k={k}",
            m["umap"]["trustworthiness"][k],
            m["pca"]["trustworthiness"][k],
        )
    for k in ks:
        row(f"continuity k={k}", m["umap"]["continuity"][k], m["pca"]["continuity"][k])
    for label, key in (
        ("kNN preservation", ("knn_preservation", "mean_jaccard")),
        ("distance Spearman", ("distance_spearman",)),
        ("TriMap global score", ("trimap_global_score",)),
    ):
        a, b = m["umap"], m["pca"]
        for part in key:
            a, b = a[part], b[part]
        row(label, a, b)
    for key in ("seed_disparity", "subsample_disparity"):
        row(
            f"Procrustes {key.split('_')[0]}",
            m["umap"]["stability"].get(key),
            m["pca"]["stability"].get(key),
        )
    notes = []
    if "photoz" in m["umap"]:
        pu, pp = m["umap"]["photoz"], m["pca"]["photoz"]
        row("photo-z sigma_NMAD", pu["sigma_nmad"], pp["sigma_nmad"])
        row("sigma_NMAD / features' own", pu["sigma_nmad_ratio"], pp["sigma_nmad_ratio"])
        row("photo-z scatter", pu["scatter"], pp["scatter"])
        notes.append(
            f"features' own photo-z sigma_NMAD {m['features_photoz']['sigma_nmad']:.4f}, "
            f"scatter {m['features_photoz']['scatter']:.4f}"
        )
    blocks: list[Block] = [
        key_values(facts),
        Table(["metric", "UMAP", "PCA"], rows, "quality of the embedding (PCA: the baseline)"),
    ]
    if notes:
        blocks.append(Lines(notes))
    if summary.get("outputs"):
        blocks.append(Lines([f"  {p}" for p in summary["outputs"]], "outputs:"))
    return blocks


def summary_text(metrics_json: str | Path, outputs: list[str]) -> str:
    """The run's readable summary (printed by `pzforge run`), no line broken inside a value."""
    return render_text(summary_tables(read_json(metrics_json) | {"outputs": list(outputs)}))


def fit_embedding_step(
    features_parquet: str | Path,
    umap_params: dict[str, Any],
    stability: dict[str, Any],
    refit: str,
    out_embedding: str | Path,
    out_replicates: str | Path,
    out_token: str | Path,
    metrics: dict[str, Any] | None = None,
) -> dict[str, float]:
    """The ``fit_embedding`` rule: the fit, and the token a later run without refit reuses.

    ``metrics`` (not a param of the rule: changing it must not refit) is only checked against
    the rows before the fit."""
    if refit:
        log.info("refit: true - fitting again (run %s)", refit)
    timings = fit_embedding(
        features_parquet,
        umap_params,
        stability,
        out_embedding,
        out_replicates,
        row_settings={"metrics": metrics, "stability": stability},
    )
    io.write_text(refit + "\n", out_token)
    return timings


def plot_embedding(
    table: str | Path, out_pngs: list[str], out_html: str | Path, run_name: str
) -> None:
    """PNG plots (by redshift, survey, per-point score; UMAP next to PCA) and an offline HTML plot."""
    made = make_plots(table, Path(out_pngs[0]).parent, out_html, run_name)
    log.info("plots: %s", ", ".join(map(str, made)))


def summarize_embedding(
    metrics_json: str | Path,
    outputs: list[str],
    out_text: str | Path,
    out_json: str | Path | None = None,
) -> None:
    """The readable summary `pzforge run` prints (counts, settings, metrics, outputs), and the
    same as JSON (the metrics with the outputs) for the provenance report."""
    io.write_text(summary_text(metrics_json, outputs), out_text)
    if out_json is not None:
        write_json(read_json(metrics_json) | {"outputs": list(outputs)}, out_json)
    log.info("summary written")


def write_embedding_manifest(
    *,
    table: str | Path,
    aux_files: list[str | Path],
    metrics_json: str | Path,
    registry: RegistrySettings,
    run_name: str,
    out_manifest: str | Path,
) -> None:
    """What to register: the embedding table (main) with metrics, plots and HTML."""
    manifest = embedding_manifest(
        embedding_parquet=table,
        aux_files=aux_files,
        metrics_json=metrics_json,
        settings=registry,
        run_name=run_name,
    )
    write_manifest(manifest, out_manifest)
    log.info("manifest of %s written", manifest.name)
