"""`pzforge surveys ...`: the survey quality-flag homogenization rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pzforge.cli.render import out

surveys_app = typer.Typer(help="Survey quality-flag homogenization rules.", no_args_is_help=True)

SurveysFileOpt = Annotated[
    Path | None, typer.Option("--surveys-file", help="Rules file (default config/surveys.yaml).")
]


def _rulebook(surveys_file: Path | None):
    from pzforge.combine.homogenize import RuleBook
    from pzforge.paths import SHIPPED_SURVEYS_FILE

    return RuleBook.load(surveys_file or SHIPPED_SURVEYS_FILE)


@surveys_app.command("list")
def surveys_list(surveys_file: SurveysFileOpt = None) -> None:
    """List the surveys that have homogenization rules."""
    for name in _rulebook(surveys_file).known_surveys():
        out.print(name, markup=False, highlight=False)


@surveys_app.command("explain")
def surveys_explain(
    survey: Annotated[str, typer.Argument(help="Survey name or alias, e.g. VVDS or 2dfgrs.")],
    surveys_file: SurveysFileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rule as JSON.")] = False,
) -> None:
    """Show how SURVEY's quality flags and types are translated."""
    book = _rulebook(surveys_file)
    if as_json:
        out.print_json(json.dumps(book.to_dict(survey)))
    else:
        out.print(book.explain(survey), markup=False, highlight=False)
