import re

import numpy as np
import pandas as pd
import pytest

from pzforge.combine.homogenize import RuleBook, check_homogenized, homogenize
from pzforge.errors import HomogenizationError
from pzforge.paths import CONFIG_DIR


@pytest.fixture(scope="module")
def book():
    return RuleBook.load(CONFIG_DIR / "surveys.yaml")


def flags(book, survey, **cols):
    n = len(next(iter(cols.values())))
    df = pd.DataFrame({"survey": [survey] * n, "z": [0.5] * n, **cols})
    out = homogenize(df, book)
    return out["z_flag_homogenized"].astype("float64").fillna(-1).astype(int).tolist(), out[
        "type_homogenized"
    ].tolist()


def test_all_required_surveys_have_rules(book):
    for s in [
        "2dFGRS",
        "2dFLenS",
        "2MRS",
        "3D-HST",
        "6dFGS",
        "ASTRODEEP",
        "DESI",
        "JADES",
        "MOSDEF",
        "OzDES",
        "PRIMUS",
        "VVDS",
        "VUDS",
        "VANDELS",
        "VIMOS",
        "zCOSMOS",
        "DEIMOS",
        "SDSS",
        "GAMA",
        "CANDELS",
    ]:
        book.resolve(s)


def test_aliases_ignore_case_and_punctuation(book):
    assert book.resolve("2DFGRS") == book.resolve("2dfgrs") == "2dFGRS"
    assert book.resolve("3dhst") == book.resolve("3D_HST") == "3D-HST"
    assert book.resolve("OZDES") == "OzDES"


def test_value_map(book):
    assert flags(book, "2DFGRS", z_flag=[1, 2, 3, 4, 5]) == ([0, 1, 3, 4, 4], ["s"] * 5)
    assert flags(book, "JADES", z_flag=list("ABCDE"))[0] == [4, 3, 2, 1, 0]
    assert flags(book, "6dFGS", z_flag=[6, 4])[0] == [6, 4]


def test_last_digit(book):
    """VVDS: prefixes 1x/2x/21x keep the class of their last digit; negatives are not usable."""
    assert flags(book, "VVDS", z_flag=[0, 1, 2, 3, 4, 9, 12, 23, 219, 214, -99, -29, -11])[0] == [
        0,
        1,
        2,
        3,
        4,
        2,
        2,
        3,
        2,
        4,
        0,
        0,
        0,
    ]


def test_last_digit_map_ignores_negative_flags():
    book = RuleBook.from_dict(
        {"surveys": {"X": {"z_flag": {"map": {2: 2, 9: 2}, "last_digit": True}, "type": "s"}}}
    )
    out = homogenize(
        pd.DataFrame({"survey": ["X"] * 3, "z_flag": [12, -99, -12]}), book, on_unknown_flag="null"
    )
    assert out["z_flag_homogenized"].astype("float64").fillna(-1).tolist() == [2, -1, -1]


def test_ranges(book):
    assert flags(book, "CANDELS", z_flag=[1.0, 0.99, 0.93, 0.7, 0.5, 0.0], type=list("sspgps")) == (
        [4, 4, 3, 2, 1, 0],
        ["s", "s", "p", "g", "p", "s"],
    )


def test_conditions_over_several_columns(book):
    f, t = flags(
        book,
        "3D-HST",
        z_best_s=[0, 1, 2, 2, 3, 3],
        z_spec=[0, 0.5, -1, -1, -1, -1],
        use_zgrism=[-1, -1, 1, 0, -1, -1],
        flag1=[0, 0, 0, 0, 0, 0],
        flag2=[0, 0, 0, 0, 0, 0],
        use_phot=[0, 0, 0, 0, 1, 0],
    )
    assert f == [6, 3, 3, 0, 1, 0] and t == ["s", "s", "g", "g", "p", "p"]
    f, _ = flags(
        book,
        "DESI",
        z_flag=[0, 0, 0, 4, 0, 0, 4],
        DELTACHI2=[100.0, 30.0, 12.0, 100.0, 100.0, 100.0, 100.0],
        SPECTYPE=["GALAXY", "GALAXY", "GALAXY", "QSO", "STAR", "GALAXY", "STAR"],
        ZCAT_PRIMARY=[True, True, True, True, True, False, True],
    )
    # Delta chi2 >= 40 -> 4, >= 25 -> 3, else 2; warnings -> 1; a STAR fit with warnings is no star
    assert f == [4, 3, 2, 1, 6, 0, 1]


def test_optional_column_default(book):
    f, _ = flags(book, "DESI", z_flag=[0], z_err=[1e-4])  # no ZCAT_PRIMARY, DELTACHI2, SPECTYPE
    assert f == [3]


def test_2mrs_from_z_err(book):
    assert flags(book, "2MRS", z_err=[0.0, 0.0005, 0.002])[0] == [3, 4, 3]


def test_unknown_survey_lists_known(book):
    with pytest.raises(
        HomogenizationError, match="NoSuch.*known surveys: .*VVDS.*flags_homogenized"
    ):
        flags(book, "NoSuch", z_flag=[1])


def test_unknown_flag_policies(book):
    df = pd.DataFrame({"survey": ["2dFGRS"] * 3, "z": [0.1] * 3, "z_flag": [4, 17, 17]})
    with pytest.raises(
        HomogenizationError, match=r"'17' \(2 rows\).*rows \[1, 2\].*on_unknown_flag: null"
    ):
        homogenize(df, book, context="catalog 'x' (x.parquet)")
    out = homogenize(df, book, on_unknown_flag="null")
    assert out["z_flag_homogenized"].isna().tolist() == [False, True, True]


def test_missing_flag_value_is_unknown_not_an_error(book):
    out = homogenize(
        pd.DataFrame({"survey": ["2dFGRS"] * 2, "z": [0.1, 0.1], "z_flag": [4, np.nan]}), book
    )
    assert out["z_flag_homogenized"].isna().tolist() == [False, True]


def test_missing_required_column(book):
    with pytest.raises(
        HomogenizationError, match="flag1, flag2, use_phot, use_zgrism, z_best_s, z_spec"
    ):
        homogenize(pd.DataFrame({"survey": ["3D-HST"], "z": [1.0]}), book)


def test_malformed_rules_are_rejected():
    with pytest.raises(HomogenizationError, match="exactly one of"):
        RuleBook.from_dict(
            {"surveys": {"X": {"z_flag": {"map": {1: 2}, "rules": []}, "type": "s"}}}
        )
    with pytest.raises(HomogenizationError, match="unknown operator"):
        RuleBook.from_dict(
            {
                "surveys": {
                    "X": {
                        "z_flag": {"rules": [{"when": {"a": {"like": 1}}, "value": 3}]},
                        "type": "s",
                    }
                }
            }
        )
    with pytest.raises(HomogenizationError, match="not one of"):
        RuleBook.from_dict({"surveys": {"X": {"z_flag": {"map": {1: 5}}, "type": "s"}}})
    with pytest.raises(HomogenizationError, match="not one of"):
        RuleBook.from_dict({"surveys": {"X": {"z_flag": 3, "type": "q"}}})


def test_rule_strings_are_never_executed(tmp_path):
    evil = {
        "surveys": {
            "X": {
                "z_flag": {
                    "rules": [{"when": {"__import__('os').system('touch pwned')": 1}, "value": 3}],
                    "default": 0,
                },
                "type": "s",
            }
        }
    }
    book = RuleBook.from_dict(evil)
    df = pd.DataFrame({"survey": ["X"], "__import__('os').system('touch pwned')": [2]})
    assert homogenize(df, book)["z_flag_homogenized"].tolist() == [0]


def test_explain(book):
    text = book.explain("vvds")
    assert "z_flag in [9, 19, 29, 219] -> 2" in text and "z_flag < 0 -> 0" in text
    assert "no redshift (z is a placeholder) when z > 9.99" in text
    # one notation: symbols for every comparison, never the rule file's eq/ne/lt/gt names
    assert not re.search(r"\b(eq|ne|lt|le|gt|ge)\b", text), text
    assert "if z_flag == 4 -> 4" in book.explain("6dfgs")
    assert book.scales("6dfgs") == ("z_flag (5 values) -> 0, 1, 3, 4, 6", "always 's'")
    assert book.to_dict("6dfgs")["z_flag"]["map"][6] == 6


def test_check_homogenized(shared_data):
    df = pd.read_parquet(
        shared_data / "failure-modes" / "test_homogenized_columns_out_of_range.parquet"
    )
    with pytest.raises(HomogenizationError, match="not on the homogenized scale"):
        check_homogenized(df.rename(columns={"instrument_type_homogenized": "type_homogenized"}))
    check_homogenized(
        pd.DataFrame(
            {"z_flag_homogenized": [0, 4, 6, None], "type_homogenized": ["s", "g", "p", None]}
        )
    )


def test_real_sample_2dfgrs_matches_readme_rule(shared_data, book):
    df = pd.read_parquet(shared_data / "specz" / "2dfgrs_final_release_random_sample.parquet")
    df = df.rename(columns={"quality": "z_flag", "survey_name": "survey"})
    df = df.loc[~book.no_redshift(df)]  # z = -9: no redshift
    out = homogenize(df, book)
    q = df["z_flag"]
    h = out["z_flag_homogenized"]
    star = (q >= 3) & (df["z"] < 0.002)  # 2dFGRS has no star flag: the documented heuristic
    assert (h == 6).sum() == star.sum() == 44
    assert (h == 4).sum() == (q.isin([4, 5]) & ~star).sum()
    assert (h == 3).sum() == ((q == 3) & ~star).sum() and (h == 0).sum() == (q == 1).sum()
