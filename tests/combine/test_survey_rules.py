"""The shipped survey rules, one test per survey on a few hand-made rows (docs/surveys.md cites
each definition), and the rule-language features they use; user rules layered over them."""

import numpy as np
import pandas as pd
import pytest
import yaml

from pzforge.combine.homogenize import RuleBook, homogenize
from pzforge.errors import HomogenizationError
from pzforge.paths import CONFIG_DIR


@pytest.fixture(scope="module")
def book():
    return RuleBook.load(CONFIG_DIR / "surveys.yaml")


def run(book, survey, z=None, on_unknown_flag="error", **cols):
    n = len(next(iter(cols.values())))
    df = pd.DataFrame({"survey": [survey] * n, "z": z if z is not None else [0.5] * n, **cols})
    out = homogenize(df, book, on_unknown_flag=on_unknown_flag)
    flags = out["z_flag_homogenized"].astype("float64").fillna(-1).astype(int).tolist()
    return flags, out["type_homogenized"].tolist()


def test_every_shipped_rule_cites_a_reference(book):
    for name in book.known_surveys():
        survey = book.surveys[name]
        assert survey.reference and survey.description, name


def test_vvds_negative_flags_and_placeholder(book):
    f, _ = run(book, "VVDS", z_flag=[4, 14, 24, 214, 9, 219, -10, -11, -21, -99])
    assert f == [4, 4, 4, 4, 2, 2, 0, 0, 0, 0]
    df = pd.DataFrame({"survey": ["VVDS"] * 3, "z": [9.9999, 9.9994, 1.2], "z_flag": [0, 0, 3]})
    assert book.no_redshift(df).tolist() == [True, True, False]


def test_vvds_undocumented_prefix_is_outside_the_documented_values(book):
    with pytest.raises(HomogenizationError, match="'33'"):
        run(book, "VVDS", z_flag=[33])


def test_vipers_decimals_float32(book):
    flags = np.array(
        [
            0.1,
            2.1,
            2.2,
            2.4,
            2.5,
            3.1,
            3.5,
            4.5,
            9.1,
            9.2,
            9.5,
            11.5,
            12.5,
            14.5,
            19.5,
            22.5,
            214.5,
        ],
        dtype=np.float32,
    )
    f, _ = run(book, "VIPERS PDR-2", z_flag=flags)
    assert f == [0, 2, 1, 3, 3, 3, 4, 4, 2, 1, 3, 1, 3, 4, 2, 3, 4]
    f, _ = run(book, "VIPERS", z=[0.0, 0.7], z_flag=[4.5, -10.0])
    assert f == [6, 0]  # zspec 0 is a star; negative flags are not usable


def test_vimos_family_and_deimos(book):
    assert run(book, "VUDS", z_flag=[4, 23, 9, 29, 11, 20, -1])[0] == [4, 3, 2, 2, 1, 0, 0]
    assert run(book, "VANDELS", z_flag=[14, 3, 19])[0] == [4, 3, 2]
    assert run(book, "VIMOS", z_flag=[214, 12, 219, -99])[0] == [4, 2, 2, 0]
    assert run(book, "DEIMOS 10K", z_flag=[4, 13, 9, 31, -5])[0] == [4, 3, 2, 1, 0]


def test_zcosmos_decimals(book):
    cc = [0.0, 1.1, 1.5, 2.1, 2.4, 2.5, 3.1, 3.5, 4.5, 9.1, 9.3, 9.4, 9.5, 13.5, 24.5, 29.3]
    f, _ = run(book, "zCOSMOS", z_flag=np.array(cc, dtype=np.float32))
    assert f == [0, 1, 3, 2, 3, 3, 4, 4, 4, 1, 3, 2, 3, 4, 4, 3]


def test_deep2_deep3(book):
    assert run(book, "DEEP3", z_flag=[4, 3, 2, 1, 0, -1, -2])[0] == [4, 3, 0, 0, 0, 6, 0]


def test_sdss_and_boss(book):
    f, _ = run(
        book,
        "SDSS",
        z_flag=[0, 16, 4, 128, 0, 0, 16],
        CLASS=["GALAXY", "GALAXY", "GALAXY", "GALAXY", "STAR", "QSO", "STAR"],
        SPECPRIMARY=[1, 1, 1, 1, 1, 0, 1],
    )
    assert f == [4, 4, 1, 0, 6, 0, 6]
    f, _ = run(
        book, "eBOSS", z_flag=[0, 16, 512, 0, 4], CLASS=["QSO", "GALAXY", "GALAXY", "STAR", "STAR"]
    )
    assert f == [4, 1, 0, 6, 1]  # MANY_OUTLIERS is a real warning on BOSS; a warned STAR is no star
    assert run(book, "BOSS", z_flag=[0, 4])[0] == [4, 1]  # CLASS and SPECPRIMARY may be absent


def test_c3r2(book):
    assert run(book, "C3R2 DR3", z_flag=[4.0, 3.5, 3.0])[0] == [4, 3, 3]


def test_primus_stars(book):
    f, t = run(
        book,
        "PRIMUS",
        z_flag=[4, 3, 2, -1, -1],
        CLASS=["GALAXY", "AGN", "GALAXY", "STAR", "GALAXY"],
    )
    assert f == [3, 2, 1, 6, 0] and set(t) == {"g"}


def test_2dfgrs_and_gama_star_heuristic(book):
    assert run(book, "2dFGRS", z=[0.0005, 0.1, 0.0005, 0.1], z_flag=[5, 5, 2, 3])[0] == [6, 4, 1, 3]
    assert run(book, "GAMA", z=[0.001, 0.2, 0.2], z_flag=[4, 4, 2])[0] == [6, 4, 1]


def test_2mrs_without_error(book):
    assert run(book, "2MRS", z_err=[np.nan, 0.0, 0.0005, 0.002])[0] == [3, 3, 4, 3]


def test_jades_mosdef_3dhst_placeholders(book):
    for survey, z in (("JADES", -1.0), ("MOSDEF", -1.0), ("3D-HST", -99.0), ("3D-HST", -1.0)):
        df = pd.DataFrame({"survey": [survey, survey], "z": [z, 1.5]})
        assert book.no_redshift(df).tolist() == [True, False], survey


def test_3dhst_photometric_redshifts_rank_low(book):
    f, t = run(
        book,
        "3D-HST",
        z_best_s=[3, 2],
        z_spec=[-1, -1],
        use_zgrism=[0, 1],
        flag1=[0, 0],
        flag2=[0, 0],
        use_phot=[1, 0],
    )
    assert f == [1, 3] and t == ["p", "g"]


def test_dja_grades_and_type(book):
    f, t = run(book, "DJA", z_flag=[3, 2, 1, 0, -1], ztype=["P", "G", "P", "G", "P"])
    assert f == [4, 2, 0, 0, -1] and t == ["g", "s", "g", "s", "g"]
    assert run(book, "msaexp", z_flag=[3])[1] == ["s"]  # no ztype column


def test_euclid_q1_has_no_calibrated_flag(book):
    f, t = run(book, "Euclid Q1", z_flag=[0.99, 0.5], spe_rank=[0, 1])
    assert f == [-1, 0] and t == ["g", "g"]


def test_ned_codes(book):
    f, t = run(book, "NED", z_flag=["SLS", None, "S1L", "SLS?", "PHOT", ":"])
    assert f == [3, 3, 2, 1, 1, 1] and t == ["s", "s", "s", "s", "p", "s"]
    with pytest.raises(HomogenizationError, match="XYZ"):
        run(book, "NED", z_flag=["XYZ"])


def test_astrodeep_without_flag_column_runs_and_photo_z_are_not_spectroscopic(book):
    f, t = run(book, "ASTRODEEP-GS43", zspec_survey=["-", "3D_HST", "VUDS_2015", "Morris_2015"])
    assert f == [1, 3, 3, 3] and t == ["p", "g", "s", "g"]
    f, t = run(book, "ASTRODEEP", ra=[53.1, 53.2])  # neither z_flag nor zspec_survey
    assert f == [1, 1] and t == ["p", "p"]


# --- the rule language ----------------------------------------------------------------------


def one(rule, **cols):
    book = RuleBook.from_dict({"surveys": {"X": rule}})
    n = len(next(iter(cols.values())))
    out = homogenize(pd.DataFrame({"survey": ["X"] * n, **cols}), book, on_unknown_flag="null")
    return out["z_flag_homogenized"].astype("float64").fillna(-1).astype(int).tolist()


def test_bits_any_and_last_digit_operators():
    rule = {
        "z_flag": {
            "rules": [
                {"when": {"z_flag": {"bits_any": [7, 8]}}, "value": 0},
                {"when": {"z_flag": {"last_digit": [3, 4]}}, "value": 4},
            ],
            "default": 1,
        },
        "type": "s",
    }
    assert one(rule, z_flag=[128, 256, 130, 14, 23, -14, 2]) == [0, 0, 0, 4, 4, 1, 1]
    with pytest.raises(HomogenizationError, match="bits_any takes"):
        RuleBook.from_dict(
            {
                "surveys": {
                    "X": {
                        "z_flag": {"rules": [{"when": {"f": {"bits_any": "7"}}, "value": 0}]},
                        "type": "s",
                    }
                }
            }
        )


def test_float32_flags_match_decimal_values():
    rule = {"z_flag": {"map": {2.4: 3, 2.5: 4}}, "type": "s"}
    assert one(rule, z_flag=np.array([2.4, 2.5], dtype=np.float32)) == [3, 4]
    rule = {"z_flag": {"rules": [{"when": {"z_flag": {"in": [2.4]}}, "value": 3}]}, "type": "s"}
    assert one(rule, z_flag=np.array([2.4], dtype=np.float32)) == [3]


def test_explicit_null_default_marks_unknown_without_error():
    rule = {
        "z_flag": {"rules": [{"when": {"z_flag": 1}, "value": 4}], "default": None},
        "type": "s",
    }
    book = RuleBook.from_dict({"surveys": {"X": rule}})
    out = homogenize(pd.DataFrame({"survey": ["X", "X"], "z_flag": [1, 7]}), book)
    assert out["z_flag_homogenized"].isna().tolist() == [False, True]


# --- user rules over the shipped ones ---------------------------------------------------------


def user_file(tmp_path, surveys):
    path = tmp_path / "my_surveys.yaml"
    path.write_text(yaml.safe_dump({"surveys": surveys}))
    return path


def test_user_file_adds_and_overrides_survey_by_survey(tmp_path, book):
    path = user_file(
        tmp_path,
        {
            "MYSURVEY": {"reference": "me", "z_flag": {"map": {"good": 4}}, "type": "s"},
            "vvds": {"reference": "mine", "z_flag": 1, "type": "p"},  # case-insensitive override
        },
    )
    layered = RuleBook.load_layers([CONFIG_DIR / "surveys.yaml", path])
    assert set(layered.known_surveys()) == set(book.known_surveys()) - {"VVDS"} | {
        "MYSURVEY",
        "vvds",
    }
    assert layered.surveys["vvds"].replaces == "VVDS"
    assert layered.surveys["MYSURVEY"].origin == str(path)
    assert layered.surveys["2dFGRS"].origin == str(CONFIG_DIR / "surveys.yaml")
    assert run(layered, "VVDS", z_flag=[4]) == (
        [1],
        ["p"],
    )  # the shipped name leads to the override
    assert run(layered, "mysurvey", z_flag=["good"])[0] == [4]
    assert run(layered, "2DFGRS", z_flag=[4])[0] == [4]  # every other shipped rule stays


def test_user_alias_takes_over_a_shipped_alias(tmp_path):
    path = user_file(
        tmp_path, {"My2dF": {"aliases": ["2dF Galaxy Redshift Survey"], "z_flag": 2, "type": "s"}}
    )
    layered = RuleBook.load_layers([CONFIG_DIR / "surveys.yaml", path])
    assert layered.resolve("2dF Galaxy Redshift Survey") == "My2dF"
    assert layered.resolve("2dFGRS") == "2dFGRS"


def test_unknown_survey_names_surveys_file_as_the_fix(book):
    with pytest.raises(HomogenizationError, match="homogenization.surveys_file"):
        book.resolve("NoSuchSurvey")


def test_display_name_is_one_spelling_per_survey(book):
    assert {book.display_name(n) for n in ("2DFGRS", "2dfgrs", "2dFGRS", "2-dFGRS")} == {"2dFGRS"}
    assert {book.display_name(n) for n in ("candels", "CANDELS")} == {"CANDELS"}
    assert book.display_name("Unknown Thing") == "Unknown Thing"


def test_letter_grades_with_suffixes():
    rule = {
        "z_flag": {
            "rules": [
                {"when": {"z_flag": {"startswith": "A"}}, "value": 4},
                {"when": {"z_flag": {"startswith": ["B", "C"]}}, "value": 3},
            ],
            "default": 0,
        },
        "type": "s",
    }
    assert one(rule, z_flag=["A", "A+", " A:", "B?", "C1", "D", None]) == [4, 4, 4, 3, 3, 0, 0]


def test_surveys_list_shows_where_each_rule_comes_from(tmp_path):
    from tests.support.cli import pzforge

    path = user_file(
        tmp_path, {"MYSURVEY": {"z_flag": 3, "type": "s"}, "VVDS": {"z_flag": 1, "type": "s"}}
    )
    proc = pzforge("surveys", "list", "--surveys-file", path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = {ln.split()[0]: ln for ln in proc.stdout.splitlines() if ln.strip()}
    assert "shipped" in lines["2dFGRS"]
    assert str(path) in lines["MYSURVEY"] and "(added)" in lines["MYSURVEY"]
    assert "overrides the shipped VVDS" in lines["VVDS"]
