"""The shipped example configs run as given, from any working directory (paths in a config are
relative to its own folder): the real spec-z samples combined into `specz_combined`, then the
Training Set Maker naming that product by name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import registry
from tests.support.cli import pzforge

pytestmark = pytest.mark.slow
CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_combine_then_training_set_as_shipped(shared_data, tmp_path):
    if shared_data.resolve() != (CONFIG.parent.parent / "shared" / "data").resolve():
        pytest.skip("the shipped configs name ../shared/data beside the checkout")
    env = {"PZFORGE_REGISTRY_URL": f"sqlite:///{tmp_path / 'registry.sqlite'}"}
    combine = pzforge("run", "combine_redshift", "-c", CONFIG / "specz_combined.yaml",
                      cwd=tmp_path, env=env)  # fmt: skip
    assert combine.returncode == 0, combine.stdout + combine.stderr
    assert "registered product: 1_specz_combined" in combine.stdout
    training = pzforge("run", "training_set", "-c", CONFIG / "training_set.yaml",
                       cwd=tmp_path, env=env)  # fmt: skip
    assert training.returncode == 0, training.stdout + training.stderr
    reg = registry.open(env["PZFORGE_REGISTRY_URL"])
    ts = reg.get_product("goodss_training_set")
    assert [u["internal_name"] for u in reg.upstream(ts.id)][0] == "1_specz_combined"
    rows = reg.get_dataframe(ts.id)
    # spectroscopic-quality rows only, by default; no placeholder redshift (VVDS 9.9999)
    assert len(rows) > 0 and (rows["z_flag_homogenized"] >= 3).all()
    assert set(rows["type_homogenized"]) <= {"s", "g"} and (rows["z"] < 9.99).all()
    assert isinstance(rows, pd.DataFrame)
