"""`pzforge surveys ...`: the survey quality-flag homogenization rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pzforge.cli.render import Format, out, print_json, render

surveys_app = typer.Typer(help="Survey quality-flag homogenization rules.", no_args_is_help=True)

SurveysFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--surveys-file",
        help="Your rules file (homogenization.surveys_file): it adds to and overrides the "
        "shipped config/surveys.yaml survey by survey.",
    ),
]


def _rulebook(surveys_file: Path | None):
    from pzforge.combine.homogenize import RuleBook
    from pzforge.paths import SHIPPED_SURVEYS_FILE

    return RuleBook.load_layers([SHIPPED_SURVEYS_FILE, *([surveys_file] if surveys_file else [])])


@surveys_app.command("list")
def surveys_list(
    surveys_file: SurveysFileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the surveys that have homogenization rules, and where each rule comes from."""
    from pzforge.paths import SHIPPED_SURVEYS_FILE

    book = _rulebook(surveys_file)
    rows = []
    for name in book.known_surveys():
        s = book.surveys[name]
        shipped = s.origin == str(SHIPPED_SURVEYS_FILE)
        origin = "shipped" if shipped else s.origin
        note = f"overrides the shipped {s.replaces}" if s.replaces else ("" if shipped else "added")
        z_flag, type_ = book.scales(name)
        rows.append(
            {
                "survey": name,
                "aliases": list(s.aliases),
                "from": origin,
                "note": note,
                "z_flag_homogenized": z_flag,
                "type_homogenized": type_,
            }
        )
    if as_json:
        print_json(rows)
        return
    table = [
        r
        | {
            "aliases": ", ".join(r["aliases"]) or "-",
            "from": r["from"] + (f" ({r['note']})" if r["note"] else ""),
        }
        for r in rows
    ]
    columns = ["survey", "aliases", "z_flag_homogenized", "type_homogenized", "from"]
    render(table, Format.table, columns, f"{len(rows)} surveys with rules")
    out.print(
        "z_flag_homogenized: 0 no redshift .. 4 certain, 6 star (`pzforge surveys explain NAME`)"
    )


@surveys_app.command("explain")
def surveys_explain(
    survey: Annotated[str, typer.Argument(help="Survey name or alias, e.g. VVDS or 2dfgrs.")],
    surveys_file: SurveysFileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rule as JSON.")] = False,
) -> None:
    """Show how SURVEY's quality flags and types are translated."""
    book = _rulebook(surveys_file)
    if as_json:
        print_json(book.to_dict(survey))
    else:
        out.print(book.explain(survey), markup=False, highlight=False)
