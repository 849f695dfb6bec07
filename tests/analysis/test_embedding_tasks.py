"""Embeddings as asynchronous tasks (hydro-vis's API) on a real site (server + worker, SQLite):
the request validated by the schema, a task id, PENDING -> SUCCESS with coordinates equal to
the embedding pipeline's fit of the same features and settings, labels, per-point scores, top-100
neighbours and metrics; the fitted map reused by the next task (no refit); a production product
embedded onto the trained map; stored parameters; ``supported`` with its reason."""

from __future__ import annotations

import signal
import time

import numpy as np
import pandas as pd
import pytest

from tests.server.conftest import running_site

pytestmark = [pytest.mark.timeout(600)]
FEATURES = ["mag_g", "mag_r", "mag_i", "mag_z"]


def catalog(path, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kind = rng.choice(["galaxy", "qso"], n)
    z = rng.uniform(0.05, 1.5, n) + (kind == "qso")
    base = 20 + rng.normal(0, 1, n)
    df = pd.DataFrame({"objid": np.arange(n), "z": z, "kind": kind})
    for i, band in enumerate(FEATURES):
        df[band] = base + i * 0.3 * z + rng.normal(0, 0.05, n)
    df.to_parquet(path, index=False)
    return df


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embeddings")
    url = f"sqlite:///{folder / 'registry.sqlite'}"
    with running_site(url, folder, worker=True) as site:
        site.add_user("bob")
        site.add_user("eve")
        yield site


def test_embedding_tasks(site, tmp_path):
    from pzforge.client import PzClientError
    from pzforge.embedding import fit
    from pzforge.embedding.task import compute

    bob = site.client("bob")
    train_df = catalog(tmp_path / "train.parquet", 300, 1)
    catalog(tmp_path / "prod.parquet", 120, 2)
    pd.DataFrame({"objid": range(50), "z": np.linspace(0.1, 1, 50), "name": ["x"] * 50}).to_parquet(
        tmp_path / "thin.parquet", index=False
    )
    train = bob.upload("train", "Training Set", tmp_path / "train.parquet", columns={"z": "z"})
    prod = bob.upload("prod", "Training Set", tmp_path / "prod.parquet", columns={"z": "z"})
    thin = bob.upload("thin", "Training Set", tmp_path / "thin.parquet", columns={"z": "z"})

    ok = bob.embedding_supported(train["id"])
    assert (
        ok["supported"] and set(FEATURES) <= set(ok["features"]) and "objid" not in ok["features"]
    )
    no = bob.embedding_supported(thin["id"])
    assert not no["supported"] and "1 numeric feature column" in no["reason"], no
    with pytest.raises(PzClientError) as refused:
        bob.embed(thin["id"])
    assert refused.value.status == 422 and "at least 2" in str(refused.value)

    for bad in (
        {"parameters": {"n_neighbours": 1}},
        {"parameters": {"n_neighbours": 201}},
        {"parameters": {"metric": "hamming"}},
        {"parameters": {"min_dist": 0.995}},
        {"parameters": {"n_components": 4}},
        {"transformer": "tsne"},
        {"training_data_sample_size": 5},
    ):
        with pytest.raises(PzClientError) as invalid:
            bob.embed(train["id"], bad)
        assert invalid.value.status == 422, bad

    params = {
        "transformer": "umap",
        "parameters": {"metric": "euclidean", "n_neighbours": 10, "min_dist": 0.2,
                       "n_components": 2, "random_state": 7},
        "features": FEATURES,
        "label": "kind",
        "training_data_sample_size": 250,
        "production_data_sample_size": 100,
    }  # fmt: skip
    t0 = time.perf_counter()
    task = bob.embed(train["id"], params)
    assert task["state"] == "PENDING" and task["result"] is None
    first = bob.wait_embedding(task["task_id"], timeout=300, poll_s=0.3)
    t_first = time.perf_counter() - t0
    assert first["state"] == "SUCCESS", (first["error"], site.logs()[-3000:])
    r = first["result"]
    assert r["data_shape"] == [250, 2] and len(r["data"]) == 250
    assert np.array(r["top_100"]).shape == (250, 100)
    assert r["class_labels"]["kind"]["coloring_type"] == "class"
    assert set(r["class_labels"]["kind"]["data"]) == {"galaxy", "qso"}
    assert len(r["metrics"]["knn_preservation"]["data"]) == 250
    assert 0.5 < r["visualization_metrics"]["trustworthiness_k15"] <= 1
    assert set(r["visualization_metrics"]) == {"trustworthiness_k15", "continuity_k15",
                                               "global_score"}  # fmt: skip
    assert r["fit"]["cached"] is False and r["fit"]["cached_in"] is None

    # a run of the embedding_task pipeline (same id) through the run queue, recorded by the
    # pipeline's provenance: parameters, products, user, software, the job and its input
    run = bob.get_run(task["task_id"]).info
    assert run["pipeline"] == "embedding_task" and run["state"] == "success", run
    prov = site.http("bob").get(f"/provenance/runs/{task['task_id']}").json()
    assert prov["pipeline"] == "embedding_task" and prov["user"] == "bob"
    assert prov["config"]["input"]["product"] == train["id"] and "umap-learn" in prov["software"]

    # the same coordinates as the embedding pipeline's own code on the same features/settings
    fs = compute.prepare(train_df, FEATURES, "kind", 250, 42, "train")
    expected = fit.fit_umap(fs.X, compute.umap_params(params))
    assert np.allclose(np.array(r["data"]), expected, atol=1e-5)

    # the next task reuses the fitted map (no refit) and embeds production data onto it
    t0 = time.perf_counter()
    again = bob.wait_embedding(bob.embed(train["id"], params, production=prod["id"])["task_id"],
                               timeout=300, poll_s=0.3)  # fmt: skip
    t_second = time.perf_counter() - t0
    assert again["state"] == "SUCCESS", again["error"]
    g = again["result"]
    assert (
        g["fit"]["cached"]
        and g["fit"]["cached_in"] == "artefact"
        and g["fit"]["key"] == r["fit"]["key"]
    )
    assert g["fit"]["fitted_at"] == r["fit"]["fitted_at"]
    assert g["data"] == r["data"]
    p = g["production"]
    assert p["product_id"] == prod["id"] and p["data_shape"] == [100, 2]
    assert 0.5 < p["trustworthiness"]["k15"] <= 1
    print(f"embedding task: first {t_first:.1f} s (fit {r['fit']['fit_seconds']:.1f} s), "
          f"second with production {t_second:.1f} s (no refit)")  # fmt: skip

    # a production product without the map's features: FAILURE with the reason
    failed = bob.wait_embedding(bob.embed(train["id"], params, production=thin["id"])["task_id"],
                                timeout=300, poll_s=0.3)  # fmt: skip
    assert failed["state"] == "FAILURE" and "lacks feature column(s) mag_g" in failed["error"]
    assert failed["result"] is None

    # stored parameters per product: defaults, then what the owner stores, used by default
    assert bob.get_embedding_params(train["id"])["parameters"]["n_neighbours"] == 15
    stored = bob.set_embedding_params(train["id"], params)
    assert stored["parameters"]["n_neighbours"] == 10
    with pytest.raises(PzClientError) as not_owner:
        site.client("eve").set_embedding_params(train["id"], params)
    assert not_owner.value.status == 403
    third = bob.wait_embedding(bob.embed(train["id"])["task_id"], timeout=300, poll_s=0.3)
    assert third["params"]["parameters"]["n_neighbours"] == 10 and third["result"]["fit"]["cached"]
    with pytest.raises(PzClientError) as not_yours:
        site.client("eve").get_embedding(task["task_id"])
    assert not_yours.value.status == 403

    # the fitted map is a server-owned artefact (plain arrays, no pickle): a restarted worker
    # reuses it without fitting, and puts the production rows exactly where the first map did
    restart_worker(site)
    after = bob.wait_embedding(bob.embed(train["id"], params, production=prod["id"])["task_id"],
                               timeout=300, poll_s=0.3)  # fmt: skip
    assert after["state"] == "SUCCESS", (after["error"], site.logs()[-3000:])
    a = after["result"]
    assert a["fit"] | {"cached": True, "cached_in": "artefact", "key": r["fit"]["key"]} == a["fit"]
    assert a["data"] == r["data"] and a["production"]["data"] == g["production"]["data"]
    fits = list((site.folder / "site" / "embedding_fits").iterdir())
    assert len(fits) == 1 and not list((site.folder / "site" / "embedding_fits").glob("*/*.pkl"))


def restart_worker(site) -> None:
    """Stop the site's worker (as a deploy does) and start a new process."""
    for proc, _log in site.procs:
        if "worker" in proc.args and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    site.start_worker()


@pytest.mark.slow
def test_a_task_matches_the_embedding_pipeline_run_on_the_site(site, tmp_path):
    """The same product and settings through POST /runs (the embedding pipeline under Snakemake,
    run by the worker) and through POST /embeddings: the same coordinates."""
    bob = site.client("bob")
    catalog(tmp_path / "same.parquet", 260, 3)
    product = bob.upload("same", "Training Set", tmp_path / "same.parquet", columns={"z": "z"})
    umap = {"metric": "euclidean", "n_neighbors": 12, "min_dist": 0.1, "n_components": 2,
            "random_state": 5}  # fmt: skip
    config = {
        "run_name": "same_settings",
        "input": {"product": product["id"]},
        "features": {"columns": FEATURES},
        "sampling": {"sample_size": 200, "seed": 11},
        "umap": umap,
        "stability": {"seeds": []},
    }
    t0 = time.perf_counter()
    run = bob.submit_run("embedding", config).wait(timeout=500, progress=False)
    t_run = time.perf_counter() - t0
    assert run["state"] == "success", (run["error"], site.logs()[-3000:])
    (made,) = [p for p in run["products"] if p["name"] == "same_settings"]
    table = bob.get_product(made["id"])
    params = {
        "parameters": {"metric": "euclidean", "n_neighbours": 12, "min_dist": 0.1,
                       "n_components": 2, "random_state": 5},
        "features": FEATURES,
        "training_data_sample_size": 200,
        "seed": 11,
    }  # fmt: skip
    t0 = time.perf_counter()
    task = bob.wait_embedding(bob.embed(product["id"], params)["task_id"], timeout=300)
    t_task = time.perf_counter() - t0
    assert task["state"] == "SUCCESS", task["error"]
    r = task["result"]
    assert r["request_ids"] == table["id"].tolist()
    expected = table[["umap_1", "umap_2"]].to_numpy()
    assert np.allclose(np.array(r["data"]), expected, atol=1e-5)
    print(f"the pipeline run through the site: {t_run:.1f} s; the task: {t_task:.1f} s")
