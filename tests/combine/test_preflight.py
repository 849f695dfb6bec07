"""Before any job: every input problem in one pass; relative paths against the config file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from pzforge.combine.hooks import input_problems, preflight
from pzforge.errors import InputDataError
from pzforge.pipelines import load, validate
from tests.support.cli import pzforge


def frame(n=20, **extra):
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "ID": [f"r{i}" for i in range(n)],
            "RA": rng.uniform(10, 11, n),
            "DEC": rng.uniform(0, 1, n),
            "Z": rng.uniform(0.1, 1, n),
            "Q": rng.choice([3, 4], n),
            **extra,
        }
    )


def cat(name, path, survey=None, **columns):
    return {
        "name": name,
        "path": str(path),
        "columns": {"id": "ID", "ra": "RA", "dec": "DEC", "z": "Z", "z_flag": "Q", **columns},
        "survey": survey or {"value": "2dFGRS"},
    }


def test_every_problem_in_one_pass(tmp_path):
    good = tmp_path / "good.parquet"
    frame().to_parquet(good)
    no_z = tmp_path / "no_z.parquet"
    frame().drop(columns=["Z"]).to_parquet(no_z)
    mixed = tmp_path / "mixed.parquet"
    frame(survey=["2DFGRS"] * 10 + ["Mystery"] * 5 + ["DESI"] * 5).to_parquet(mixed)
    config = validate(
        {
            "catalogs": [
                cat("good", good),
                cat("missing", tmp_path / "nope.parquet"),
                cat("noz", no_z),
                cat("mixed", mixed, survey={"column": "survey"}),
                cat("unknown", good, survey={"value": "NoSuchSurvey"}),
                cat("twomrs", good, survey={"value": "2MRS"}),  # 2MRS reads z_err: not mapped
            ],
            "footprints": [{"name": "in_x", "moc": str(tmp_path / "nope.fits")}],
        }
    )
    problems = input_problems(config)
    text = "\n".join(problems)
    assert len(problems) == 6, text
    assert "'missing'" in text and "nope.parquet: file not found" in text
    assert "'Z' (for z) not found" in text
    assert "survey 'Mystery' has no homogenization rules" in text
    assert "survey 'NoSuchSurvey'" in text and "homogenization.surveys_file" in text
    assert "survey 2MRS's rules read column(s) z_err" in text
    assert "footprint 'in_x'" in text
    assert "DESI" not in text.replace("Known:", "")[: text.find("Known:")]  # DESI rows are fine
    with pytest.raises(InputDataError, match=r"^6 problems in the inputs, all listed:\n  1\. "):
        preflight(config)


def test_rules_file_problems_are_reported_with_the_rest(tmp_path):
    good = tmp_path / "good.parquet"
    frame().to_parquet(good)
    rules = tmp_path / "rules.yaml"
    rules.write_text("surveys:\n  X: {z_flag: 9, type: s}\n")
    config = validate(
        {
            "catalogs": [cat("good", good), cat("missing", tmp_path / "gone.csv")],
            "homogenization": {"surveys_file": str(rules)},
        }
    )
    problems = input_problems(config)
    assert len(problems) == 2
    assert "rules.yaml" in problems[0] and "not one of" in problems[0]


def test_astrodeep_without_flag_column_passes_preflight(tmp_path):
    path = tmp_path / "astrodeep.parquet"
    frame().drop(columns=["Q"]).to_parquet(path)
    spec = cat("ad", path, survey={"value": "ASTRODEEP"})
    spec["columns"]["z_flag"] = None
    assert input_problems(validate({"catalogs": [spec]})) == []


def test_relative_paths_resolve_against_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "cfg" / "data").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    frame().to_parquet(tmp_path / "cfg" / "data" / "c.parquet")
    (tmp_path / "cfg" / "rules.yaml").write_text("surveys:\n  X: {z_flag: 3, type: s}\n")
    cfg = tmp_path / "cfg" / "combine.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "catalogs": [cat("c", "data/c.parquet")],
                "homogenization": {"surveys_file": "rules.yaml"},
            }
        )
    )
    override = tmp_path / "elsewhere" / "radius.yaml"
    override.write_text("crossmatch: {radius_arcsec: 2.0}\n")
    monkeypatch.chdir(tmp_path / "elsewhere")
    config = load([cfg, override])
    assert config["catalogs"][0]["path"] == str(tmp_path / "cfg" / "data" / "c.parquet")
    assert config["homogenization"]["surveys_file"] == str(tmp_path / "cfg" / "rules.yaml")
    assert config["crossmatch"]["radius_arcsec"] == 2.0
    assert input_problems(config) == []


def test_validate_config_command_lists_all_problems(tmp_path):
    (tmp_path / "sub").mkdir()
    frame().to_parquet(tmp_path / "sub" / "c.parquet")
    cfg = tmp_path / "sub" / "combine.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "catalogs": [
                    cat("c", "c.parquet"),
                    cat("d", "d.parquet"),
                    cat("e", "c.parquet", survey={"value": "Nope"}),
                ]
            }
        )
    )
    proc = pzforge("validate-config", "-c", cfg, cwd=tmp_path)  # cwd is not the config's folder
    assert proc.returncode == 1
    assert "error: 2 problems in the inputs, all listed:" in proc.stderr
    assert "d.parquet: file not found" in proc.stderr and "'Nope'" in proc.stderr
    assert "Traceback" not in proc.stderr
    ok = pzforge(
        "validate-config",
        "-c",
        cfg,
        "--set",
        "catalogs.d.path=sub/c.parquet",
        "--set",
        "catalogs.e.survey.value=VVDS",
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert str(tmp_path / "sub" / "c.parquet") in ok.stdout
