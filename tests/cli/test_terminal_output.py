"""What a person reads: CLI output in a terminal of fixed width and piped into a file or a log.

Every command is run twice, as the real `pzforge` command: in a pseudo-terminal 80 columns wide
(colours stripped) and with its output piped. In both, text in square brackets from users and
data survives (it is never read as Rich markup), and full values (paths, checksums) can be read:
in a pipe each row is one whole line; in the terminal no line is wider than the terminal (the
terminal never breaks a table line), and a long value folds inside its cell.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path

import pytest

from registry import ColumnSpec, Registry
from tests.support.cli import pzforge, pzforge_tty

WIDTH = 80
DESCRIPTION = "[draft] combined spec-z, do not cite [v2]"
OVERRIDE = "output.formats=[parquet]"


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_fits(text: str, width: int = WIDTH) -> None:
    wide = [line for line in text.splitlines() if len(line) > width]
    assert not wide, f"lines wider than the terminal ({width}):\n" + "\n".join(wide)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A registry deep in a folder tree (stored paths longer than a terminal line), a product
    whose name and description hold brackets, and a recorded run with a bracketed override."""
    import numpy as np
    import pandas as pd

    root = tmp_path_factory.mktemp("out") / "a-folder-with-a-rather-long-name" / "and-another-one"
    root.mkdir(parents=True)
    rng = np.random.default_rng(1)
    n = 30
    df = pd.DataFrame(
        {
            "object_identifier": [f"survey-[A]-{i:05d}" for i in range(n)],
            "right_ascension_deg": rng.uniform(10, 11, n),
            "declination_deg": rng.uniform(-1, 1, n),
            "spectroscopic_redshift": rng.uniform(0, 2, n),
            "redshift_uncertainty": rng.uniform(0, 0.01, n),
            "quality_flag_as_given": ["[ok]"] * n,
            "homogenized_flag": rng.integers(0, 5, n),
            "survey_name_as_published": ["VVDS [deep]"] * n,
        }
    )
    table = root / "catalog.parquet"
    df.to_parquet(table, index=False)
    url = f"sqlite:///{root / 'registry.sqlite'}"
    reg = Registry.from_url(url, user="tests")
    columns = [
        ColumnSpec(name="right_ascension_deg", role="ra"),
        ColumnSpec(name="declination_deg", role="dec"),
        ColumnSpec(name="spectroscopic_redshift", role="z"),
    ]
    product = reg.upload(
        "specz [draft]", "Reference Redshift Catalog", table, description=DESCRIPTION,
        columns=columns,
    )  # fmt: skip
    run_id = "0b5e1c3a-5d6e-4f7a-8b9c-0d1e2f3a4b5c"
    reg.ingest_run(
        {
            "id": run_id,
            "pipeline": "combine_redshift",
            "run_name": "[test] run",
            "status": "failed",
            "error": "rule ingest_catalog: column [z] holds letters",
            "config": {},
            "overrides": [OVERRIDE],
            "user": "tests",
            "host": "here",
            "started_at": "2026-01-01T00:00:00+00:00",
            "ended_at": "2026-01-01T00:01:00+00:00",
        },
        [
            {
                "id": "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a",
                "rule": "ingest_catalog",
                "wildcards": {"catalog": "[vvds]"},
                "status": "failed",
                "reason": "Missing output files: results/x.parquet",
                "started_at": "2026-01-01T00:00:01+00:00",
                "files": [],
            }
        ],
    )
    detail = reg.get_product(product.id)
    return root, {"PZFORGE_REGISTRY_URL": url}, detail, run_id


def both(site, *args):
    """(terminal text, piped text) of one command."""
    root, env, _, _ = site
    code, tty = pzforge_tty(*args, cwd=root, env=env, width=WIDTH)
    assert code == 0, tty
    piped = pzforge(*args, cwd=root, env=env)
    assert piped.returncode == 0, piped.stderr
    return tty, piped.stdout


def test_products_show_keeps_brackets_and_whole_paths_and_checksums(site):
    _, _, detail, _ = site
    tty, piped = both(site, "products", "show", detail.internal_name)
    for text in (tty, piped):
        assert DESCRIPTION in text and "specz [draft]" in text
    assert_fits(tty)
    for f in detail.files:
        assert len(f.path) > WIDTH - 20  # the test means something: the path must fold
        assert no_space(f.path) in no_space(tty) and f.checksum in no_space(tty)
        # piped: the whole value on one line, after its key
        assert re.search(rf"^path\s+{re.escape(f.path)}$", piped, re.M), piped
        assert re.search(rf"^checksum\s+{f.checksum}$", piped, re.M), piped


def test_products_show_csv_is_csv_and_help_names_its_formats(site):
    root, env, detail, _ = site
    proc = pzforge("products", "show", detail.internal_name, "-f", "csv", cwd=root, env=env)
    assert proc.returncode == 0, proc.stderr
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["path"] for r in rows] == [f.path for f in detail.files]
    assert rows[0]["checksum"] == detail.files[0].checksum
    help_text = pzforge("products", "show", "--help", cwd=root, env=env).stdout
    assert "<table|json|csv>" in help_text  # the formats it has, and what csv gives
    assert "csv(onerowperfile)" in no_space(help_text.replace("│", ""))
    as_json = pzforge("products", "show", detail.internal_name, "-f", "json", cwd=root, env=env)
    assert json.loads(as_json.stdout)["description"] == DESCRIPTION


def test_products_list_rows_stay_whole(site):
    _, _, detail, _ = site
    tty, piped = both(site, "products", "list")
    assert_fits(tty)
    row = re.search(rf"^\s*{detail.id}\s+{detail.internal_name}\s.*$", piped, re.M).group(0)
    assert detail.internal_name in row and "Reference Redshift Catalog" in row


def test_products_get_shows_every_column_and_whole_values(site):
    _, _, detail, _ = site
    tty, piped = both(site, "products", "get", detail.internal_name, "--head", "3")
    assert_fits(tty)
    columns = [
        "object_identifier", "right_ascension_deg", "declination_deg", "spectroscopic_redshift",
        "redshift_uncertainty", "quality_flag_as_given", "homogenized_flag",
        "survey_name_as_published",
    ]  # fmt: skip
    for col in columns:
        assert col in tty and col in piped
    for text in (tty, piped):
        assert "survey-[A]-00000" in text and "[ok]" in text and "VVDS [deep]" in text
        assert "[30 rows x 8 columns]" in text
    header = next(line for line in piped.splitlines() if line.startswith("object_identifier"))
    assert all(col in header for col in columns)  # piped: one table, one header line
    first = next(line for line in piped.splitlines() if line.startswith("survey-[A]-00000"))
    assert "[ok]" in first and "VVDS [deep]" in first  # a row is one line


def test_provenance_show_keeps_brackets(site):
    _, _, _, run_id = site
    tty, piped = both(site, "provenance", "show", run_id)
    assert_fits(tty)
    for text in (tty, piped):
        assert OVERRIDE in text, text
        assert "column [z] holds letters" in " ".join(text.split())
        assert "[test] run" in text and "catalog=[vvds]" in text


def test_surveys_list_and_explain(site):
    tty, piped = both(site, "surveys", "list")
    assert_fits(tty)
    line = next(ln for ln in piped.splitlines() if ln.startswith("2dFGRS "))
    assert "2dF Galaxy Redshift Survey" in line and "-> 0, 1, 3, 4, 6" in line and "shipped" in line
    tty, piped = both(site, "surveys", "explain", "VVDS")
    assert_fits(tty)
    assert "if z_flag < 0 -> 0" in piped and not re.search(r"\b(lt|gt|ne|eq)\b", piped)


SUMMARY = {
    "mode": "mark",
    "ties": "keep",
    "z_flag_min": None,
    "catalogs": {
        "6dfgs_dr3_random_sample_with_a_long_name": {
            "rows_in": 1000,
            "rows_out": 992,
            "dropped": {"z is a sentinel value": 6, "z outside [-0.01, 20.0]": 2},
        },
        "vvds": {"rows_in": 1000, "rows_out": 1000, "dropped": {}, "z_err_nulled": 3},
    },
    "rows_in": 2000,
    "rows_valid": 1992,
    "rows_out": 1992,
    "duplicates": {"pairs": 5, "groups": 4, "rows_in_groups": 9, "largest_group": 3},
    "per_survey": {
        s: {
            "rows_valid": 996,
            "without_duplicate": 991,
            "isolated_star": 0,
            "in_groups_kept": 2,
            "in_groups_discarded": 2,
            "in_groups_unresolved": 1,
            "in_groups_star": 0,
            "without_redshift": 0,
            "in_output": 996,
        }
        for s in ("6dFGS [DR3]", "VVDS")
    },  # fmt: skip
    "tie_reasons": {"unique": 1982, "z_flag_homogenized": 10},
    "outputs": ["results/x/combined/x_hats", "results/x/combined/x.parquet"],
}


def _report_command(results: Path) -> list[str]:
    """`pzforge run`'s own printing of a finished run (its summary and ids), without a run."""
    code = (
        "from pathlib import Path; from types import SimpleNamespace as N;"
        "from pzforge.cli.run import report;"
        f"r = Path({str(results)!r});"
        "report(N(results_dir=r, config={'pipeline': 'combine_redshift'}, run_id='RUN',"
        " layout=N(receipts=r / 'none.json')))"
    )
    return [sys.executable, "-c", code]


def test_run_summary_tables_in_a_terminal_and_a_log(tmp_path):
    """The summary `pzforge run` prints: rows never broken in a pipe (a SLURM log), folded in
    their cells in a terminal; brackets in reasons and survey names survive."""
    import subprocess

    results = tmp_path / "results"
    results.mkdir()
    (results / "summary.json").write_text(json.dumps(SUMMARY))
    piped = subprocess.run(
        _report_command(results), capture_output=True, text=True, check=True
    ).stdout
    reason = next(ln for ln in piped.splitlines() if "z outside" in ln)
    assert reason.strip().endswith("2   z outside [-0.01, 20.0]"), reason
    row = next(ln for ln in piped.splitlines() if ln.startswith("6dFGS [DR3]"))
    assert row.split()[2:] == ["996", "991", "0", "2", "2", "1", "0", "0", "996"], row
    assert re.search(
        r"^6dfgs_dr3_random_sample_with_a_long_name\s+1000\s+992\s+6\s+z is a sentinel value$",
        piped,
        re.M,
    ), piped
    assert "kept, z_err set to null: 3" in piped
    code, tty = pzforge_tty(cwd=tmp_path, width=60, command=_report_command(results))
    assert code == 0, tty
    assert_fits(tty, 60)
    assert "[-0.01, 20.0]" in " ".join(tty.split()) and "6dFGS [DR3]" in tty
    assert "run id: RUN" in tty


@pytest.mark.parametrize("group", [[], ["provenance"], ["users"], ["products"]])
def test_command_lists_read_as_sentences(group, tmp_path):
    """Each command's summary in `--help` is its docstring's first paragraph, whole and folded
    by the terminal only: a line break in the source never ends a line early in the list."""
    import typer.main

    from pzforge.cli import app

    code, text = pzforge_tty(*group, "--help", cwd=tmp_path, width=WIDTH)
    assert code == 0, text
    assert_fits(text)
    rows: dict[str, list[str]] = {}
    name, left, width = None, 0, 0
    for line in text.split("Commands")[1].splitlines():
        if not line.startswith("│"):
            continue
        if line[2] != " ":  # a command's first line: name, then its summary's column
            name = line[2:].split()[0]
            left = line.index(line[2 + len(name) :].lstrip(), 2 + len(name))
            rows[name] = []
        cell = line[left : line.rindex("│")]
        width = len(cell)  # the summary column, its padding included
        rows[name].append(cell.rstrip())
    command = typer.main.get_command(app)
    for part in group:
        command = command.commands[part]
    for name, sub in command.commands.items():
        doc = (sub.callback.__doc__ if sub.callback else None) or sub.help or ""
        summary = " ".join(doc.split("\n\n")[0].split())
        assert no_space("".join(rows[name])) == no_space(summary), (name, rows[name])
        for shown, following in itertools.pairwise(rows[name]):
            next_word = following.split()[0]
            assert len(shown) + 1 + len(next_word) > width - 1, (name, rows[name])
