"""`pzforge db ...`: create, migrate and inspect the registry's schema."""

from __future__ import annotations

import typer

from pzforge.cli.render import UrlOpt, out

db_app = typer.Typer(help="The registry database.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_cmd(registry: UrlOpt = None) -> None:
    """Create the registry schema, or migrate it to the version this pzforge needs."""
    import registry as reg

    out.print(f"registry schema at revision {reg.upgrade(registry)}")


@db_app.command("status")
def status_cmd(registry: UrlOpt = None) -> None:
    """Show the registry's schema revision and the one this pzforge needs."""
    import registry as reg

    st = reg.status(registry)
    out.print(f"url: {st['url']}")
    out.print(f"schema revision: {st['revision'] or 'none'} (needed: {st['needed']})")
