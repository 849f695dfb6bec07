import numpy as np
import pandas as pd
import pytest

from pzforge.combine.columns import INGEST_COLUMNS
from pzforge.combine.homogenize import RuleBook
from pzforge.combine.hooks import preflight
from pzforge.combine.ingest import ingest_catalog
from pzforge.errors import InputDataError
from pzforge.paths import CONFIG_DIR
from pzforge.pipelines import validate as validate_config

BOOK = RuleBook.load(CONFIG_DIR / "surveys.yaml")


def spec_for(path, **kw):
    spec = {
        "name": "t",
        "path": str(path),
        "columns": {"id": "ID", "ra": "RA", "dec": "DEC", "z": "Z", "z_flag": "Q"},
        "survey": {"value": "2dFGRS"},
    }
    spec.update(kw)
    cfg = validate_config({"catalogs": [spec]})
    return cfg["catalogs"][0], cfg["validation"], cfg["homogenization"]


def frame():
    return pd.DataFrame(
        {
            "ID": ["a", "b", "c", "d", "e", "f"],
            "RA": [10.0, 370.0, np.nan, 10.0, 10.0, 359.9],
            "DEC": [0.0, 0.0, 0.0, 95.0, 1.0, -89.0],
            "Z": [0.5, 0.5, 0.5, 0.5, -99.0, 1.2],
            "Q": [4, 4, 4, 4, 4, 5],
        }
    )


def test_invalid_rows_dropped_and_counted(tmp_path):
    path = tmp_path / "c.parquet"
    frame().to_parquet(path)
    df, stats = ingest_catalog(*spec_for(path), BOOK)
    assert list(df.columns) == INGEST_COLUMNS
    assert df["id"].tolist() == ["t:a", "t:f"]
    assert stats.rows_in == 6 and stats.rows_out == 2
    assert stats.dropped == {
        "ra not a finite number": 1,
        "ra outside [0, 360)": 1,
        "dec outside [-90, 90]": 1,
        "z is a sentinel value": 1,
    }
    assert df["z_flag"].tolist() == ["4", "5"] and df["z_flag_homogenized"].tolist() == [4, 4]


def test_on_invalid_error_names_rows(tmp_path):
    path = tmp_path / "c.parquet"
    frame().to_parquet(path)
    spec, val, hom = spec_for(path)
    val["on_invalid"] = "error"
    with pytest.raises(
        InputDataError,
        match=r"catalog 't'.*1 rows with ra not a finite number in column 'RA' \(row 2: nan\)",
    ):
        ingest_catalog(spec, val, hom, BOOK)


def test_ids_made_when_missing_and_duplicates_rejected(tmp_path):
    path = tmp_path / "c.csv"
    df = frame().iloc[[0, 4, 5]]
    df.to_csv(path, index=False)
    spec, val, hom = spec_for(path)
    spec["columns"]["id"] = None
    out, _ = ingest_catalog(spec, val, hom, BOOK)
    assert out["id"].tolist() == ["t:0", "t:2"]  # row numbers in the file
    dup = frame()
    dup["ID"] = "same"
    dup.to_csv(path, index=False)
    with pytest.raises(InputDataError, match="not unique.*'same'.*on_duplicate_id: suffix"):
        ingest_catalog(*spec_for(path), BOOK)
    spec, val, hom = spec_for(path, on_duplicate_id="suffix")
    out, _ = ingest_catalog(spec, val, hom, BOOK)
    assert out["id"].tolist() == ["t:same", "t:same#6"]


def test_z_err_sentinels_become_null(tmp_path):
    path = tmp_path / "c.parquet"
    df = frame().iloc[[0, 5]].assign(E=[-1.0, 0.01])
    df.to_parquet(path)
    spec, val, hom = spec_for(path)
    spec["columns"]["z_err"] = "E"
    out, stats = ingest_catalog(spec, val, hom, BOOK)
    assert out["z_err"].isna().tolist() == [True, False] and stats.z_err_nulled == 1


@pytest.mark.parametrize("fmt", ["csv", "parquet", "fits", "hdf5"])
def test_every_format_gives_the_same_rows(tmp_path, fmt):
    df = frame().iloc[[0, 5]]
    path = tmp_path / f"c.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        df.to_parquet(path)
    elif fmt == "fits":
        from astropy.table import Table

        Table.from_pandas(df).write(path)
    else:
        df.to_hdf(path, key="t", format="table")
    out, _ = ingest_catalog(*spec_for(path), BOOK)
    assert out["id"].tolist() == ["t:a", "t:f"] and out["ra"].tolist() == [10.0, 359.9]


def test_hats_input(tmp_path):
    import lsdb

    df = frame().iloc[[0, 4, 5]]
    lsdb.from_dataframe(df, ra_column="RA", dec_column="DEC").write_catalog(
        tmp_path / "h", as_collection=False, progress_bar=False
    )
    out, stats = ingest_catalog(*spec_for(tmp_path / "h"), BOOK)
    assert sorted(out["id"]) == ["t:a", "t:f"] and stats.dropped == {"z is a sentinel value": 1}


def test_errors_name_file_and_column(tmp_path):
    path = tmp_path / "c.parquet"
    frame().drop(columns=["DEC"]).to_parquet(path)
    with pytest.raises(
        InputDataError, match=r"c.parquet.*'DEC' \(for dec\) not found; the file has: ID, RA, Z, Q"
    ):
        ingest_catalog(*spec_for(path), BOOK)
    bad = frame().assign(RA="x")
    bad.to_csv(path.with_suffix(".csv"), index=False)
    with pytest.raises(InputDataError, match="'RA'.*not numeric"):
        ingest_catalog(*spec_for(path.with_suffix(".csv")), BOOK)


def test_preflight(tmp_path):
    cfg = validate_config({"catalogs": [spec_for(tmp_path / "missing.csv")[0]]})
    with pytest.raises(InputDataError, match="catalog 't'.*missing.csv: file not found"):
        preflight(cfg)
    (tmp_path / "x.dat").write_text("1")
    cfg["catalogs"][0]["path"] = str(tmp_path / "x.dat")
    with pytest.raises(InputDataError, match="set `format:`"):
        preflight(cfg)


def test_rows_without_redshift_dropped_or_kept(tmp_path):
    path = tmp_path / "c.parquet"
    df = pd.DataFrame(
        {
            "ID": ["a", "b", "c", "d", "e"],
            "RA": [10.0, 10.1, 10.2, 10.3, 10.4],
            "DEC": [1.0] * 5,
            "Z": [0.5, np.nan, 9.9999, 9.9994, -5.0],
            "Q": [4, 4, 4, 4, 4],
        }
    )
    df.to_parquet(path)
    spec, val, hom = spec_for(path, survey={"value": "VVDS"})
    dropped, stats = ingest_catalog(spec, val, hom, BOOK)
    assert dropped["id"].tolist() == ["t:a"]
    assert stats.dropped == {
        "z missing (null)": 1,
        "z is a sentinel value": 1,  # 9.9999 is in validation.z_sentinels
        "z is the survey's no-redshift placeholder": 1,  # VVDS: z > 9.99 (9.9994)
        "z outside [-0.01, 20.0]": 1,
    }
    val["no_redshift"] = "keep"
    kept, stats = ingest_catalog(spec, val, hom, BOOK)
    assert kept["id"].tolist() == ["t:a", "t:b", "t:c", "t:d"]
    assert kept["z"].isna().tolist() == [False, True, True, True]  # a placeholder is no redshift
    assert kept["z_flag_homogenized"].tolist() == [4, 0, 0, 0]
    assert stats.kept_without_redshift == {
        "z missing (null)": 1,
        "z is a sentinel value": 1,
        "z is the survey's no-redshift placeholder": 1,
    }
    assert stats.dropped == {"z outside [-0.01, 20.0]": 1}


def test_survey_names_one_spelling_whatever_the_case(tmp_path):
    path = tmp_path / "c.parquet"
    frame().iloc[[0, 5]].assign(S=["2DFGRS", "2dfgrs"]).to_parquet(path)
    df, stats = ingest_catalog(*spec_for(path, survey={"column": "S"}), BOOK)
    assert df["survey"].tolist() == ["2dFGRS", "2dFGRS"] and stats.surveys == {"2dFGRS": 2}
