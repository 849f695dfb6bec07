"""Embedding pipeline: metrics against independent computations, features, config validation,
quality on real data (DC2, ASTRODEEP), and one end-to-end `pzforge run embedding`.

Every process that fits UMAP pays umap-learn's numba compilation once (about 7 s here), so the
in-process fits share one fixture and the end-to-end run uses a 2,000-row sample.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.manifold import trustworthiness

from pzforge.embedding import features as feat
from pzforge.embedding import metrics as M
from pzforge.embedding.fit import UMAP_METRICS, fit_pca, fit_umap
from pzforge.errors import ConfigError, InputDataError
from pzforge.io import read_table
from pzforge.pipelines import validate as validate_config

PZFORGE = str(Path(sys.executable).parent / "pzforge")
DC2 = "photometry/test_dc2_training_9816.hdf5"
ASTRODEEP = "photometry/astrodeep-gs43_random_sample.parquet"
DC2_BANDS = [f"mag_{b}_lsst" for b in "ugrizy"]
ASTRODEEP_FLUXES = ["f_B435_HLF", "f_V606_HLF", "f_I775_HLF", "f_Z850_HLF", "f_f125w", "f_f160w"]


# --- metrics against independent computations ---------------------------------------------


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6))
    Y = X[:, :2] + 0.4 * rng.normal(size=(400, 2))
    return X, Y


def test_trustworthiness_and_continuity_match_scikit_learn(toy):
    X, Y = toy
    for metric in ("euclidean", "manhattan", "cosine"):
        got = M.trustworthiness_continuity(X, Y, [5, 15, 50], metric)
        for k, (t, c) in got.items():
            assert t == pytest.approx(
                trustworthiness(X, Y, n_neighbors=k, metric=metric), abs=1e-12
            )
            # continuity is trustworthiness with the roles of the spaces swapped
            ref = trustworthiness(Y, X, n_neighbors=k)
            if metric == "euclidean":
                assert c == pytest.approx(ref, abs=1e-12)


def test_identity_embedding_scores_one_and_random_about_half(toy):
    X, _ = toy
    ident = M.trustworthiness_continuity(X, X, [5, 15])
    assert all(t == 1.0 and c == 1.0 for t, c in ident.values())
    rand = np.random.default_rng(2).normal(size=(len(X), 2))
    t, c = M.trustworthiness_continuity(X, rand, [15])[15]
    assert abs(t - 0.5) < 0.05 and abs(c - 0.5) < 0.05
    assert M.knn_preservation(X, X, 10).min() == 1.0
    assert M.distance_correlation(X, X) == pytest.approx(1.0)
    assert M.trimap_global_score(X, fit_pca(X, 2)) == pytest.approx(1.0)


def test_knn_preservation_is_the_jaccard_of_neighbour_sets(toy):
    X, Y = toy
    from scipy.spatial.distance import cdist

    def sets(Z):
        D = cdist(Z, Z)
        np.fill_diagonal(D, np.inf)
        return [set(np.argsort(row)[:8]) for row in D]

    expected = [len(a & b) / len(a | b) for a, b in zip(sets(X), sets(Y), strict=True)]
    np.testing.assert_allclose(M.knn_preservation(X, Y, 8), expected, atol=1e-15)


def test_global_and_stability_scores(toy):
    X, Y = toy
    from scipy.stats import spearmanr

    sub = M.subsample(len(X), 100, 0)
    d = lambda Z: np.linalg.norm(Z[:, None] - Z[None], axis=-1)[np.triu_indices(len(Z), 1)]  # noqa: E731
    assert M.distance_correlation(X[sub], Y[sub]) == pytest.approx(
        spearmanr(d(X[sub]), d(Y[sub])).statistic, abs=1e-12
    )
    assert 0 < M.trimap_global_score(X, Y) < 1
    theta = 0.7
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    assert M.procrustes_disparity(Y, 3 * Y @ rot + 5) == pytest.approx(0, abs=1e-12)


def test_photoz_scores_follow_their_definition():
    rng = np.random.default_rng(3)
    z = rng.uniform(0.1, 2, 600)
    X = np.c_[z + 0.05 * rng.normal(size=600), rng.normal(size=600)]
    s = M.photoz_scores(X, z, k=5, folds=5, seed=0)
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.neighbors import KNeighborsRegressor

    pred = cross_val_predict(
        KNeighborsRegressor(5), X, z, cv=KFold(5, shuffle=True, random_state=0)
    )
    dz = (pred - z) / (1 + z)
    assert s["sigma_nmad"] == pytest.approx(1.4826 * np.median(np.abs(dz - np.median(dz))))
    assert s["scatter"] == pytest.approx(np.std(dz))


# --- features ---------------------------------------------------------------------------------


def test_colours_sentinels_and_fluxes():
    raw = pd.DataFrame(
        {
            "mag_g": [20.0, 21.0, 99.0, 22.0, np.nan, 23.0],
            "mag_r": [19.5, 20.0, 20.0, -99.0, 21.0, np.inf],
            "mag_i": [19.0, 19.8, 19.0, 21.0, 20.0, 22.0],
        }
    )
    table, dropped = feat.build_features(raw, {"magnitudes": ["mag_g", "mag_r", "mag_i"]})
    assert list(table.columns) == ["g-r", "r-i"]
    assert table.iloc[0].tolist() == pytest.approx([0.5, 0.5])
    assert table.notna().all(axis=1).tolist() == [True, True, False, False, False, False]
    assert dropped == {
        "mag_g is a sentinel value": 1,
        "mag_g is not a number": 1,
        "mag_r is a sentinel value": 1,
        "mag_r is infinite": 1,
    }
    pairs = feat.colour_pairs(["u", "g", "r"], "all_pairs")
    assert pairs == [("u", "g"), ("u", "r"), ("g", "r")]
    flux = pd.DataFrame({"f_a": [1.0, 3631e6, 0.0, -99.0], "f_b": [10.0, 3631e6, 1.0, 1.0]})
    table, dropped = feat.build_features(
        flux, {"fluxes": ["f_a", "f_b"], "include_magnitude": "f_a", "sentinels": [-99]}
    )
    assert table["mag_a"].iloc[:2].tolist() == pytest.approx([23.9, 0.0], abs=1e-3)
    assert table["a-b"].iloc[0] == pytest.approx(2.5)
    assert dropped == {"f_a is a non-positive flux": 1, "f_a is a sentinel value": 1}


def test_prepare_samples_standardises_and_counts(shared_data):
    from pzforge.io import read_table

    raw = read_table(shared_data / DC2, "hdf5", hdf5_key="photometry")
    kwargs = {
        "features": {"magnitudes": DC2_BANDS, "sentinels": [99, -99]},
        "columns": {"id": "id", "redshift": "redshift", "labels": ["mag_err_i_lsst"]},
        "sampling": {"sample_size": 1000, "seed": 7},
    }
    fs = feat.prepare(raw, **kwargs)
    assert list(fs.meta.columns) == ["id", "z", "mag_err_i_lsst"]
    assert fs.X.shape == (1000, 5) and fs.stats["rows_in"] == len(raw)
    assert fs.stats["rows_valid"] + fs.stats["rows_dropped"] == len(raw)
    assert sum(fs.stats["dropped"].values()) == fs.stats["rows_dropped"] > 0
    np.testing.assert_allclose(fs.X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(fs.X.std(axis=0), 1, atol=1e-12)
    again = feat.prepare(raw, **kwargs)
    assert again.meta["id"].tolist() == fs.meta["id"].tolist()
    with pytest.raises(InputDataError, match="feature column 'mag_q' not found"):
        feat.prepare(raw, **{**kwargs, "features": {"magnitudes": ["mag_g_lsst", "mag_q"]}})
    from pzforge.embedding.pipeline import check_enough_rows

    settings = {"k": [5, 50], "knn_k": 15, "photoz_k": 10, "photoz_folds": 5}
    settings["rank_sample_size"] = 4000
    with pytest.raises(InputDataError, match=r"only 90 rows.*metrics.k = 50 needs 2 x 50 \+ 1"):
        check_enough_rows(90, {"n_neighbors": 15}, settings)


def test_limits_and_placeholder_redshifts_are_never_embedded():
    raw = pd.DataFrame(
        {
            "mag_g": [20.0, 21.0, 22.0, 23.0, 24.0, 20.9],
            "magerr_g": [0.01, np.nan, 0.02, 0.03, 0.02, 0.01],  # row 1: an upper limit
            "mag_r": [19.5, 20.0, 20.0, 21.0, 21.0, 20.0],
            "status_r": [0, 0, 1, 0, 0, 0],  # row 2: a non-detection (Training Set Maker)
            "mag_i": [19.0, 19.8, 19.0, 21.0, 20.0, 19.2],
            "z": [0.5, 0.6, 0.7, float(np.float32(9.9999)), -99.0, 0.4],
        }
    )
    features = {"magnitudes": ["mag_g", "mag_r", "mag_i"], "sentinels": [99, -99]}
    limits = feat.limit_columns(features, list(raw.columns))
    assert limits == {"mag_g": {"error": "magerr_g"}, "mag_r": {"status": "status_r"}}
    table, dropped = feat.build_features(raw, features, limits=limits)
    assert table.notna().all(axis=1).tolist() == [True, False, False, True, True, True]
    assert dropped == {
        "mag_g is an upper limit (no valid magerr_g)": 1,
        "mag_r is a non-detection (status_r not 0)": 1,
    }
    assert feat.limit_columns({**features, "exclude_limits": False}, list(raw.columns)) == {}
    columns = {"id": None, "redshift": "z", "redshift_sentinels": [-99.0, 9.9999]}
    fs = feat.prepare(
        raw,
        features=features,
        columns=columns,
        sampling={"sample_size": 100, "seed": 0},
        min_rows=1,
        limits=limits,
    )
    assert fs.meta["z"].tolist() == [0.5, 0.4]  # 9.9999 (as float32) and -99 are placeholders
    assert fs.stats["dropped"]["z is missing, negative or a placeholder (sentinel)"] == 2


def test_redshift_placeholders_match_the_training_set_makers():
    ours = validate_config(config())["columns"]["redshift_sentinels"]
    theirs = validate_config(
        {"pipeline": "training_set", "reference": {"path": "x"}, "photometry": {"path": "y"}}
    )
    assert ours == theirs["reference"]["z_sentinels"] and 9.9999 in ours


def test_settings_needing_rows_fail_before_any_fit(shared_data, tmp_path):
    """The issue's case: 45 rows and default settings stop in the features step, naming every
    setting that needs more rows, and nothing is fitted or written."""
    from pzforge.embedding.pipeline import prepare_features

    raw = read_table(shared_data / DC2, "hdf5", hdf5_key="photometry")
    small = raw.loc[(raw["mag_u_lsst"] < 90) & (raw["mag_g_lsst"] < 90)].head(45)
    small.to_parquet(tmp_path / "small.parquet")
    cfg = validate_config(
        config(input={"path": str(tmp_path / "small.parquet")}, columns={"redshift": "redshift"})
    )
    row_settings = {k: cfg[k] for k in ("umap", "metrics", "stability")} | {"redshift": True}
    with pytest.raises(InputDataError) as err:
        prepare_features(
            {"path": str(tmp_path / "small.parquet"), "format": "parquet"},
            cfg["columns"],
            cfg["features"],
            cfg["sampling"],
            tmp_path / "features.parquet",
            tmp_path / "features.json",
            row_settings=row_settings,
        )
    message = str(err.value)
    assert "only 45 rows will be embedded" in message and "\n" not in message
    assert "metrics.k = 50 needs 2 x 50 + 1 = 101 rows" in message
    assert "photoz_k x metrics.photoz_folds = 10 x 5) needs 50 rows" in message
    assert "umap.n_neighbors" not in message.split("too few for the settings")[1].split(";")[0]
    assert not (tmp_path / "features.parquet").exists()


@pytest.mark.slow
def test_small_input_stops_in_the_first_job(shared_data, tmp_path):
    """Through `pzforge run`: the features job fails with the settings to change; no fit ran."""
    raw = read_table(shared_data / DC2, "hdf5", hdf5_key="photometry")
    raw.head(45).to_parquet(tmp_path / "small.parquet")
    cfg = yaml.safe_load((Path(__file__).parents[2] / "config" / "embedding.yaml").read_text())
    cfg["input"] = {"path": str(tmp_path / "small.parquet")}
    cfg["registry"] = {"register": False}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    proc = pzforge("run", "embedding", "-c", "cfg.yaml", cwd=tmp_path, env={})
    assert proc.returncode == 1
    assert "metrics.k = 50 needs 2 x 50 + 1 = 101 rows" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results" / "dc2_embedding" / "embedding" / "umap.parquet").exists()


def test_html_plot_is_byte_reproducible(tmp_path):
    from pzforge.embedding.plots import html_plot

    df = pd.DataFrame(
        {
            "id": np.arange(30),
            "umap_1": np.linspace(0, 1, 30),
            "umap_2": np.linspace(1, 0, 30) ** 2,
            "z": np.linspace(0, 2, 30),
            "survey": ["A", "B", "C"] * 10,
            "knn_preservation": np.linspace(0, 1, 30),
        }
    )
    a = html_plot(df, tmp_path / "a.html", "t").read_bytes()
    from bokeh.plotting import figure

    figure()  # other bokeh objects made in between (ids come from a process-wide counter)
    b = html_plot(df, tmp_path / "b.html", "t").read_bytes()
    assert a == b


# --- configuration ----------------------------------------------------------------------------


def config(**sections):
    base = {
        "pipeline": "embedding",
        "input": {"path": "x.parquet"},
        "features": {"magnitudes": DC2_BANDS},
    }
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return base


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("umap", {"n_neighbors": 1}, r"umap.n_neighbors: 1 is less than the minimum of 2.*2-200"),
        ("umap", {"n_neighbors": 500}, r"greater than the maximum of 200.*2-200"),
        ("umap", {"min_dist": 1.5}, r"umap.min_dist.*maximum of 0.99.*0-0.99"),
        ("umap", {"n_components": 4}, r"umap.n_components: 4 is not one of \[2, 3\]"),
        ("umap", {"metric": "hamming"}, r"umap.metric: 'hamming' is not one of \['euclidean'"),
        ("sampling", {"sample_size": 10}, r"sampling.sample_size.*minimum of 100"),
        ("sampling", {"sample_size": 100}, r"metrics.k \(50\) must be below half"),
        ("umap", {"n_neighbors": 150, "n_epochs": 5}, r"umap.n_epochs: 5 is less than"),
        ("input", {"product": "3_x"}, r"exactly one of input.product"),
        ("features", {"magnitudes": ["mag_g"]}, r"at least two magnitude"),
        ("stability", {"seeds": [42]}, r"stability.seeds must differ"),
        ("metrics", {"k": [5, 15, 3000]}, r"metrics.k.*maximum of 500"),
    ],
)
def test_bad_settings_are_clear_errors(section, value, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(config(**{section: value}))


def test_n_neighbors_must_be_below_the_sample_size():
    bad = config(umap={"n_neighbors": 150}, sampling={"sample_size": 120}, metrics={"k": [5]})
    with pytest.raises(ConfigError, match=r"n_neighbors \(150\) must be smaller.*allowed.*2-119"):
        validate_config(bad)


def test_defaults_and_every_metric_exists_in_umap_and_scikit_learn():
    cfg = validate_config(config())
    assert cfg["umap"] == {
        "metric": "euclidean",
        "n_neighbors": 15,
        "min_dist": 0.1,
        "n_components": 2,
        "random_state": 42,
        "n_epochs": None,
    }
    assert cfg["sampling"]["sample_size"] == 5000
    import umap.distances
    from scipy.spatial.distance import _METRICS_NAMES
    from sklearn.metrics.pairwise import distance_metrics

    from pzforge.config import load_schema

    schema = load_schema("embedding")
    assert tuple(schema["properties"]["umap"]["properties"]["metric"]["enum"]) == UMAP_METRICS
    for metric in UMAP_METRICS:
        assert metric in umap.distances.named_distances
        assert metric in distance_metrics() or metric in _METRICS_NAMES


def test_shipped_configs_validate():
    from pzforge.paths import CONFIG_DIR
    from pzforge.pipelines import load as load_config

    for name in ("embedding.yaml", "embedding_astrodeep.yaml"):
        assert load_config([CONFIG_DIR / name], pipeline="embedding")["pipeline"] == "embedding"


# --- quality on real photometry (in-process UMAP) -------------------------------------------


@pytest.fixture(scope="module")
def astrodeep(shared_data):
    raw = pd.read_parquet(shared_data / ASTRODEEP)
    fs = feat.prepare(
        raw,
        features={"fluxes": ASTRODEEP_FLUXES, "flux_unit": "uJy", "include_magnitude": "f_f160w"},
        columns={"id": "ID", "redshift": "z_best"},
        sampling={"sample_size": 5000, "seed": 0},
    )
    params = {"metric": "euclidean", "n_neighbors": 15, "min_dist": 0.1, "n_components": 2}
    Y = fit_umap(fs.X, {**params, "random_state": 3})
    return fs, params, Y


def test_astrodeep_embedding_quality(astrodeep):
    fs, _params, Y = astrodeep
    assert fs.stats["rows_valid"] > 700  # negative and zero fluxes dropped, most rows kept
    settings = {
        "k": [5, 15, 50],
        "knn_k": 15,
        "rank_sample_size": 5000,
        "global_sample_size": 500,
        "photoz_k": 10,
        "photoz_folds": 5,
        "seed": 0,
    }
    z = fs.meta["z"].to_numpy()
    m, per_point, _t = M.compute_metrics(
        fs.X, {"umap": Y, "pca": fit_pca(fs.X, 2)}, settings=settings, z=z
    )
    assert m["umap"]["trustworthiness"]["15"] > 0.85
    assert m["umap"]["trustworthiness"]["15"] > m["pca"]["trustworthiness"]["15"]
    assert m["umap"]["photoz"]["sigma_nmad_ratio"] < 1.5
    assert m["umap"]["photoz"]["scatter_ratio"] < 1.5
    assert per_point["umap"].shape == (len(Y),)


def test_same_seed_same_coordinates(astrodeep):
    fs, params, Y = astrodeep
    assert np.array_equal(fit_umap(fs.X, {**params, "random_state": 3}), Y)


# --- end to end ---------------------------------------------------------------------------------


def pzforge(*args, cwd, env):
    return subprocess.run(
        [PZFORGE, *map(str, args)],
        cwd=cwd,
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def e2e(shared_data, tmp_path_factory):
    """DC2 registered as a product, embedded by internal name (2,000 rows), run three times."""
    from registry import Registry

    workdir = tmp_path_factory.mktemp("embedding")
    url = f"sqlite:///{workdir / 'registry.sqlite'}"
    env = {"PZFORGE_REGISTRY_URL": url, "COLUMNS": "200"}
    source = Registry.from_url(url, user="tests").register_product(
        name="DC2 training sample", product_type="Other", main_file=shared_data / DC2
    )
    cfg = yaml.safe_load((Path(__file__).parents[2] / "config" / "embedding.yaml").read_text())
    cfg["run_name"] = "dc2_e2e"
    cfg["input"] = {"product": source.internal_name, "hdf5_key": "photometry"}
    cfg["sampling"]["sample_size"] = 2000
    cfg["stability"] = {"sample_size": 500}
    (workdir / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    results = workdir / "results" / "dc2_e2e"
    runs = {}
    mtimes = {}
    for name, extra in (("first", []), ("again", []), ("refit", ["--set", "refit=true"])):
        proc = pzforge("run", "embedding", "-c", "cfg.yaml", *extra, cwd=workdir, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs[name] = proc
        mtimes[name] = (results / "embedding" / "umap.parquet").stat().st_mtime_ns
        mtimes[name + "_bytes"] = (results / "embedding" / "dc2_e2e.parquet").read_bytes()
    return {
        "workdir": workdir,
        "results": results,
        "url": url,
        "source": source,
        "runs": runs,
        "mtimes": mtimes,
    }


@pytest.mark.slow
def test_run_writes_every_output(e2e):
    res = e2e["results"] / "embedding"
    table = pd.read_parquet(res / "dc2_e2e.parquet")
    assert len(table) == 2000 and table["id"].is_unique
    for col in ("id", "z", "umap_1", "umap_2", "pca_1", "pca_2", "knn_preservation"):
        assert col in table
    assert table["knn_preservation"].between(0, 1).all()
    for png in ("by_redshift", "by_knn_preservation"):
        assert (res / "plots" / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    html = (res / "dc2_e2e.html").read_text()
    assert "Bokeh" in html and "cdn.bokeh.org" not in html  # resources inline: works offline
    text = e2e["runs"]["first"].stdout
    assert "trustworthiness k=15" in text and "registered product" in text


@pytest.mark.slow
def test_dc2_quality_thresholds(e2e):
    m = json.loads((e2e["results"] / "embedding" / "metrics.json").read_text())["metrics"]
    assert m["umap"]["trustworthiness"]["15"] > 0.85
    assert m["umap"]["trustworthiness"]["15"] > m["pca"]["trustworthiness"]["15"]
    assert m["umap"]["photoz"]["sigma_nmad_ratio"] < 1.5
    assert m["umap"]["photoz"]["scatter_ratio"] < 1.5
    assert m["umap"]["stability"]["seed_disparity"] < 0.2
    for key in ("continuity", "knn_preservation", "distance_spearman", "trimap_global_score"):
        assert key in m["umap"] and key in m["pca"]


@pytest.mark.slow
def test_registered_as_validation_results_with_lineage(e2e):
    from registry import Registry

    reg = Registry.from_url(e2e["url"])
    [product] = reg.list_products(product_type="Validation Results")
    detail = reg.get_product(product.id)
    assert detail.name == "DC2 training embedding"
    assert "UMAP embedding" in detail.description and "T@15=" in detail.description
    assert [f for f in detail.files if f.role == "main"][0].name == "dc2_e2e.parquet"
    manifest = json.loads((e2e["results"] / "products" / "embedding.json").read_text())
    assert manifest["derived_from"] == [e2e["source"].id]
    assert e2e["source"].id in [p["id"] for p in reg.upstream(product.id)]


@pytest.mark.slow
def test_identical_run_reuses_and_refit_refits(e2e):
    assert e2e["mtimes"]["again"] == e2e["mtimes"]["first"]  # nothing refit
    assert "Nothing to be done" in _snakemake_log(e2e, e2e["runs"]["again"])
    assert e2e["mtimes"]["refit"] > e2e["mtimes"]["again"]
    assert "fit_embedding" in _snakemake_log(e2e, e2e["runs"]["refit"])
    # same seed, same data: the refit gives a byte-identical table, so the product is unchanged
    assert e2e["mtimes"]["refit_bytes"] == e2e["mtimes"]["first_bytes"]
    assert "unchanged" in e2e["runs"]["refit"].stdout


def _snakemake_log(e2e, proc) -> str:
    run_id = next(
        line.split(":", 1)[1].strip()
        for line in proc.stdout.splitlines()
        if line.startswith("run id:")
    )
    return (e2e["workdir"] / ".pzforge" / "runs" / run_id / "snakemake.log").read_text()


def test_unknown_product_and_missing_column_are_clear_errors(shared_data, tmp_path):
    from pzforge.embedding.hooks import preflight

    cfg = validate_config(
        config(
            input={"path": None, "product": "99_nothing", "hdf5_key": "photometry"},
            registry={"url": f"sqlite:///{tmp_path / 'r.sqlite'}"},
        )
    )
    with pytest.raises(InputDataError, match=r"input.product '99_nothing': no product"):
        preflight(cfg)
    cfg = validate_config(
        config(
            input={"path": str(shared_data / DC2), "hdf5_key": "photometry"},
            columns={"redshift": "zspec"},
        )
    )
    with pytest.raises(InputDataError, match=r"column 'zspec' \(from the config\) not found"):
        preflight(cfg)


def test_exact_knn_has_umap_layout(toy):
    from scipy.spatial.distance import cdist

    from pzforge.embedding.fit import exact_knn

    X, _ = toy
    idx, dist = exact_knn(X, 10, "euclidean")
    assert idx.shape == dist.shape == (len(X), 10)
    assert (idx[:, 0] == np.arange(len(X))).all() and (dist[:, 0] == 0).all()
    D = cdist(X, X)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_array_equal(
        np.sort(idx[:, 1:], axis=1), np.sort(np.argsort(D)[:, :9], axis=1)
    )


def test_three_dimensional_outputs(toy, tmp_path):
    from pzforge.embedding.plots import html_plot, png_plots

    X, _ = toy
    Y = np.random.default_rng(5).normal(size=(len(X), 3)) + X[:, :3]
    P = fit_pca(X, 3)
    settings = {
        "k": [5, 15],
        "knn_k": 10,
        "rank_sample_size": 300,
        "global_sample_size": 200,
        "photoz_k": 5,
        "photoz_folds": 3,
        "seed": 0,
    }
    m, per_point, _ = M.compute_metrics(X, {"umap": Y, "pca": P}, settings=settings)
    assert m["rank_sample_size"] == 300 and "photoz" not in m["umap"]
    df = pd.DataFrame({"id": np.arange(len(X)), "survey": ["a", "b"] * (len(X) // 2)})
    for i in range(3):
        df[f"umap_{i + 1}"], df[f"pca_{i + 1}"] = Y[:, i], P[:, i]
    df["knn_preservation"] = per_point["umap"]
    made = png_plots(df, tmp_path, "toy")
    assert [p.name for p in made] == ["by_survey.png", "by_knn_preservation.png"]
    html = html_plot(df, tmp_path / "toy.html", "toy").read_text()
    assert "cdn.bokeh.org" not in html


def test_agrees_with_zadu_when_installed(toy):
    """zadu (not a dependency: it requires hdbscan) implements the same measures."""
    pytest.importorskip("zadu.measures", reason="zadu is not installed (optional check)")
    from zadu.measures import spearman_rho, trustworthiness_continuity

    X, Y = toy
    for k in (5, 15, 50):
        ref = trustworthiness_continuity.measure(X, Y, k=k)
        t, c = M.trustworthiness_continuity(X, Y, [k])[k]
        assert t == pytest.approx(ref["trustworthiness"], abs=1e-14)
        assert c == pytest.approx(ref["continuity"], abs=1e-14)
    ref = spearman_rho.measure(X, Y)["spearman_rho"]
    assert M.distance_correlation(X, Y) == pytest.approx(ref, abs=1e-14)
