"""`pzforge products ...`: thin commands over the registry API."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated

import typer

from pzforge.cli.render import (
    Format,
    FormatOpt,
    UrlOpt,
    confirm,
    out,
    print_csv,
    print_json,
    registry_at,
    render,
    render_record,
    render_wide,
    say,
)
from pzforge.errors import PzforgeError

products_app = typer.Typer(help="Data products in the registry.", no_args_is_help=True)


@products_app.command("types")
def types_cmd(registry: UrlOpt = None, fmt: FormatOpt = Format.table) -> None:
    """List the product types."""
    rows = registry_at(registry).product_types()
    for r in rows:
        r["required_roles"] = ",".join(r["required_roles"])
    render(rows, fmt, ["id", "name", "tabular", "required_roles", "description"])


@products_app.command("releases")
def releases_cmd(registry: UrlOpt = None, fmt: FormatOpt = Format.table) -> None:
    """List the releases."""
    render(registry_at(registry).releases(), fmt, ["id", "name", "description"])


@products_app.command("release-add")
def release_add(
    name: Annotated[str, typer.Argument(help="Release name, e.g. DP1.")],
    description: Annotated[str, typer.Option(help="What the release is.")] = "",
    registry: UrlOpt = None,
) -> None:
    """Add a release products can belong to."""
    registry_at(registry).add_release(name, description)
    out.print(f"release {name} added")


LIST_COLUMNS = [
    "id",
    "internal_name",
    "product_type",
    "release",
    "owner",
    "official",
    "created_at",
    "supersedes_id",
]


@products_app.command("list")
def list_cmd(
    product_type: Annotated[
        str | None, typer.Option("--type", "-t", help="Product type name.")
    ] = None,
    release: Annotated[str | None, typer.Option(help="Release name.")] = None,
    name: Annotated[str | None, typer.Option(help="Substring of the name (any case).")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner user name.")] = None,
    official: Annotated[
        bool | None,
        typer.Option(
            "--official/--not-official", help="Official products only, or only the others."
        ),
    ] = None,
    created_after: Annotated[
        datetime | None, typer.Option(help="Created at or after (ISO date).")
    ] = None,
    created_before: Annotated[
        datetime | None, typer.Option(help="Created before (ISO date).")
    ] = None,
    sort: Annotated[str, typer.Option(help="Sort by id, name, created_at, owner or type.")] = "id",
    desc: Annotated[bool, typer.Option("--desc", help="Newest / largest first.")] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    registry: UrlOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List products, filtered and sorted."""
    products = registry_at(registry).list_products(
        product_type=product_type,
        release=release,
        name=name,
        owner=owner,
        official=official,
        created_after=created_after,
        created_before=created_before,
        order_by=sort,
        descending=desc,
        limit=limit,
    )
    render([p.to_dict() for p in products], fmt, LIST_COLUMNS, title=f"{len(products)} products")


FILE_COLUMNS = [
    "role",
    "name",
    "format",
    "size",
    "checksum_algorithm",
    "checksum",
    "n_members",
    "copied",
]


@products_app.command("show")
def show_cmd(
    product: Annotated[str, typer.Argument(help="Product id or internal name.")],
    registry: UrlOpt = None,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="table, json, or csv (one row per file).")
    ] = Format.table,
) -> None:
    """Show a product: metadata, files with checksums, columns, where it came from."""
    detail = registry_at(registry).get_product(product)
    data = detail.to_dict()
    data["files"] = [f.__dict__ for f in detail.files]
    data["columns"] = [c.__dict__ for c in detail.columns]
    data["superseded_by"] = detail.superseded_by
    if fmt is Format.json:
        print_json(data)
        return
    if fmt is Format.csv:
        rows = [
            {"product_id": data["id"], "internal_name": data["internal_name"]} | f
            for f in data["files"]
        ]
        print_csv(rows, ["product_id", "internal_name", *FILE_COLUMNS, "path", "source_path"])
        return
    keys = ("id", "internal_name", "name", "product_type", "release", "owner", "official",
            "status", "description", "created_at", "updated_at", "run_id", "supersedes_id",
            "superseded_by")  # fmt: skip
    render_record([(k, data[k]) for k in keys])
    for i, f in enumerate(data["files"], 1):  # one file per block: paths and checksums whole
        out.print()
        render_record(
            [(k, f[k]) for k in [*FILE_COLUMNS, "path", "source_path"] if k in f],
            f"file {i} of {len(data['files'])}",
        )
    if data["columns"]:
        out.print()
        render(data["columns"], Format.table, ["name", "role", "ucd", "unit", "dtype"], "columns")


def _parse_columns(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise typer.BadParameter(f"--column {item!r}: expected ROLE=COLUMN, e.g. z=redshift")
        role, name = item.split("=", 1)
        out[role.strip()] = name.strip()
    return out


@products_app.command("upload")
def upload_cmd(
    name: Annotated[str, typer.Argument(help="Product name.")],
    main_file: Annotated[
        str, typer.Argument(help="Main file (CSV, FITS, HDF5 or Parquet for tabular types).")
    ],
    product_type: Annotated[
        str, typer.Option("--type", "-t", help="Product type name.")
    ] = "Reference Redshift Catalog",
    aux: Annotated[
        list[str] | None, typer.Option("--aux", help="Auxiliary file (repeatable).")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column", "-C", help="Association ROLE=COLUMN (repeatable); overrides suggestions."
        ),
    ] = None,
    description: Annotated[str, typer.Option(help="What the product is.")] = "",
    release: Annotated[str | None, typer.Option(help="Release name.")] = None,
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Accept suggested associations for the roles not given."),
    ] = False,
    registry: UrlOpt = None,
) -> None:
    """Upload files as a new product (copied into the registry's storage; size limit applies)."""
    from pathlib import Path

    from registry import ColumnSpec, formats
    from registry.suggest import PATTERNS, suggest_columns

    reg = registry_at(registry)
    path = Path(main_file)
    fmt = formats.format_of(path) if path.is_file() else None
    names = formats.list_columns(path, fmt) if fmt in formats.TABULAR else []
    given = _parse_columns(list(column or []))
    specs = {}
    for role, col in given.items():
        _pat, ucd, unit = PATTERNS.get(role, ([], None, None))
        specs[role] = ColumnSpec(name=col, role=role, ucd=ucd, unit=unit)
    suggested = [c for c in suggest_columns(names) if c.role not in specs]
    suggested = [c for c in suggested if c.name not in given.values()]
    if suggested:
        # associations nobody asked for are never added silently: --yes or a yes at the prompt
        lines = ", ".join(f"{c.role}={c.name}" for c in suggested)
        if not yes:
            if not sys.stdin.isatty():
                raise PzforgeError(
                    f"{path.name}: columns suggested but not given with -C: {lines}; pass --yes to "
                    "use them, or give -C ROLE=COLUMN for each role"
                )
            out.print("suggested column associations: " + lines, markup=False)
            if not confirm("use the suggested associations?", default=True):
                raise typer.Exit(1)
        specs |= {c.role: c for c in suggested}
    product = reg.upload(
        name,
        product_type,
        path,
        aux_files=[Path(a) for a in aux or []],
        description=description,
        columns=list(specs.values()),
        release=release,
    )
    used = ", ".join(f"{c.role}={c.name}" for c in specs.values()) or "none"
    out.print(f"uploaded {product.internal_name} (id {product.id}); columns: {used}", markup=False)


@products_app.command("download")
def download_cmd(
    product: Annotated[str, typer.Argument(help="Product id or internal name.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Zip file or folder.")] = ".",
    verify: Annotated[
        bool, typer.Option("--verify", help="Recompute every sha256 before (not only sizes/times).")
    ] = False,
    registry: UrlOpt = None,
) -> None:
    """Download a product as a .zip with all its files and metadata.json (verified first)."""
    from pathlib import Path

    path = registry_at(registry).download(product, Path(output), verify_full=verify)
    out.print(f"wrote {path}")


@products_app.command("get")
def get_cmd(
    product: Annotated[str, typer.Argument(help="Product id or internal name.")],
    head: Annotated[int, typer.Option(help="Rows to show.")] = 10,
    verify: Annotated[
        bool, typer.Option("--verify", help="Recompute the sha256 first (not only sizes/times).")
    ] = False,
    registry: UrlOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Print the first rows of a tabular product (use the Python API for the whole DataFrame)."""
    df = registry_at(registry).get_dataframe(product, verify_full=verify)
    rows = json.loads(df.head(head).to_json(orient="records", date_format="iso"))
    if fmt is not Format.table:
        render(rows, fmt, [str(c) for c in df.columns])
        return
    render_wide(rows, [str(c) for c in df.columns], f"first {min(head, len(df))} rows")
    say(f"[{len(df)} rows x {len(df.columns)} columns]")


@products_app.command("update")
def update_cmd(
    product: Annotated[str, typer.Argument(help="Product id or internal name.")],
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    release: Annotated[str | None, typer.Option(help="New release.")] = None,
    name: Annotated[
        str | None, typer.Option(help="New display name (the internal name stays).")
    ] = None,
    registry: UrlOpt = None,
) -> None:
    """Update a product's metadata (its owner or an admin)."""
    p = registry_at(registry).update(product, description=description, release=release, name=name)
    out.print(f"updated {p.internal_name}")


@products_app.command("delete")
def delete_cmd(
    product: Annotated[str, typer.Argument(help="Product id or internal name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    registry: UrlOpt = None,
) -> None:
    """Delete a product (its owner or an admin). Copied files are removed, referenced ones kept."""
    if not yes and not confirm(f"delete product {product}?", default=False):
        raise typer.Exit(1)
    registry_at(registry).delete(product)
    out.print(f"deleted {product}")


@products_app.command("official")
def official_cmd(
    product: Annotated[str, typer.Argument(help="Product id or internal name.")],
    unset: Annotated[bool, typer.Option("--unset", help="Remove the official mark.")] = False,
    registry: UrlOpt = None,
) -> None:
    """Mark (or unmark) a product official (admins only, PZFORGE_ADMINS)."""
    p = registry_at(registry).set_official(product, not unset)
    out.print(f"{p.internal_name} official: {p.official}")
