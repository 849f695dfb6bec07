"""The embedding_task pipeline without a site: `pzforge run embedding_task` on registry products
(what a site's worker runs for POST /embeddings) writes hydro-vis's result; a second run reuses
the stored fit; a product that cannot be embedded or does not exist is one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PZFORGE = Path(sys.executable).parent / "pzforge"
FEATURES = ["mag_g", "mag_r", "mag_i"]


def pzforge(*args, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([PZFORGE, *map(str, args)], cwd=cwd, env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture
def products(tmp_path):
    from registry import Registry

    rng = np.random.default_rng(5)
    df = pd.DataFrame({"objid": np.arange(120), "z": rng.uniform(0, 1, 120)})
    for i, band in enumerate(FEATURES):
        df[band] = 20 + i * df["z"] + rng.normal(0, 0.05, 120)
    df.to_parquet(tmp_path / "train.parquet", index=False)
    df.iloc[:40].to_parquet(tmp_path / "prod.parquet", index=False)
    df[["objid", "z"]].to_parquet(tmp_path / "thin.parquet", index=False)
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    reg = Registry.from_url(url, user="tests")
    ids = {
        name: reg.register_product(name=name, product_type="Other",
                                   main_file=tmp_path / f"{name}.parquet").id
        for name in ("train", "prod", "thin")
    }  # fmt: skip
    return ids, {"PZFORGE_REGISTRY_URL": url, "COLUMNS": "200"}


def test_a_local_task_run_writes_the_result_and_reuses_its_fit(products, tmp_path):
    ids, env = products
    (tmp_path / "task.yaml").write_text("pipeline: embedding_task\n")
    args = ["-c", "task.yaml", "--set", f"input.product={ids['train']}",
            "--set", "params.parameters.n_neighbours=8"]  # fmt: skip
    first = pzforge("run", "embedding_task", *args, "--set", f"production.product={ids['prod']}",
                    cwd=tmp_path, env=env)  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    result = json.loads((tmp_path / "results" / "embedding_task" / "result.json").read_text())
    assert result["data_shape"] == [120, 2] and result["features"] == ["z", *FEATURES]
    assert np.array(result["top_100"]).shape == (120, 100)
    assert result["fit"]["cached"] is False and result["production"]["data_shape"] == [40, 2]
    fits = list((tmp_path / "results" / "embedding_task" / "fits").iterdir())
    assert [sorted(p.name for p in f.iterdir()) for f in fits] == [
        ["fit.json", "fit.npz", "meta.parquet"]
    ]

    # the same map again (another output folder): the stored fit, the same coordinates
    again = pzforge("run", "embedding_task", *args, "--set", "run_name=again", "--set",
                    f"fits_dir={fits[0].parent}", cwd=tmp_path, env=env)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    second = json.loads((tmp_path / "results" / "again" / "result.json").read_text())
    assert second["fit"]["cached_in"] == "artefact" and second["data"] == result["data"]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("thin", "input.product {id}: the product has 1 numeric feature column(s) (z); an "
                 "embedding needs at least 2"),
        ("999_nothing", "input.product '999_nothing': no product"),
    ],
)  # fmt: skip
def test_a_product_that_cannot_be_embedded_is_one_line(products, tmp_path, ref, message):
    ids, env = products
    ref = ids.get(ref, ref)
    (tmp_path / "task.yaml").write_text("pipeline: embedding_task\n")
    proc = pzforge("run", "embedding_task", "-c", "task.yaml", "--set", f"input.product={ref}",
                   cwd=tmp_path, env=env)  # fmt: skip
    assert proc.returncode != 0
    assert message.format(id=ref) in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "results" / "embedding_task" / "result.json").exists()
