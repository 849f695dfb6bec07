"""Product types, releases and products: list, show, versions, lineage, table data, download
through signed links, upload, update, delete, official."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

import registry
from pzforge.server import models
from pzforge.server.auth import acting_registry, admin_registry
from pzforge.server.uploads import bad_form, receive

router = APIRouter(tags=["products"])
Reg = Annotated[registry.Registry, Depends(acting_registry)]
AdminReg = Annotated[registry.Registry, Depends(admin_registry)]
Ref = Annotated[str, "a product id, internal name, name, or name@vN"]
CHUNK = 64 * 1024


def product_out(p: registry.ProductInfo) -> dict[str, Any]:
    return p.to_dict()


def detail_out(reg: registry.Registry, d: registry.ProductDetail) -> dict[str, Any]:
    out = product_out(d)
    out["files"] = [
        {k: v for k, v in asdict(f).items() if k not in ("path", "source_path", "copied")}
        for f in d.files
    ]
    out["columns"] = [asdict(c) for c in d.columns]
    out["superseded_by"] = d.superseded_by
    out["versions"] = [product_out(v) for v in reg.product_versions(d.id)]
    out["upstream"] = reg.upstream(d.id)
    out["downstream"] = reg.downstream(d.id)
    return out


@router.get("/product-types", response_model=list[models.ProductType])
def product_types(reg: Reg) -> list[dict[str, Any]]:
    """The product types (as the Photo-z Server has them)."""
    return reg.product_types()


@router.get("/releases", response_model=list[models.Release])
def releases(reg: Reg) -> list[dict[str, Any]]:
    """The releases you can see (a restricted release shows only to its groups and admins)."""
    restricted = reg.release_groups()
    return [
        r | {"restricted_to": restricted.get(r["name"], [])}
        for r in reg.releases()
        if reg.release_open(r["name"])
    ]


@router.post("/releases", response_model=models.Release, status_code=201)
def add_release(body: models.NewRelease, reg: AdminReg) -> dict[str, Any]:
    """Add a release (admins)."""
    reg.add_release(body.name, body.description)
    return next(r for r in reg.releases() if r["name"] == body.name.strip())


@router.put("/releases/{name}/groups", response_model=models.Release)
def restrict_release(name: str, body: models.ReleaseAccess, reg: AdminReg) -> dict[str, Any]:
    """Restrict a release to groups (admins); an empty list opens it to every user again."""
    reg.restrict_release(name, body.groups)
    release = next(r for r in reg.releases() if r["name"] == name)
    return release | {"restricted_to": sorted(set(body.groups))}


@router.get("/products", response_model=models.ProductPage)
def list_products(
    reg: Reg,
    product_type: Annotated[str | None, Query(max_length=100)] = None,
    release: Annotated[str | None, Query(max_length=200)] = None,
    name: Annotated[str | None, Query(max_length=200, description="Substring, any case.")] = None,
    owner: Annotated[str | None, Query(max_length=100)] = None,
    official: bool | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    sort: Literal["id", "name", "created_at", "owner", "type"] = "id",
    desc: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    """Products you can read, filtered, sorted and paged (every filter is data, never SQL)."""
    filters = {
        "product_type": product_type,
        "release": release,
        "name": name,
        "owner": owner,
        "official": official,
        "created_after": created_after,
        "created_before": created_before,
    }
    rows = reg.list_products(**filters, order_by=sort, descending=desc, limit=limit, offset=offset)
    if len(rows) < limit and (rows or offset == 0):
        count = offset + len(rows)  # the last page says how many there are: no count query
    else:
        count = reg.count_products(**filters)
    page = {"count": count, "limit": limit, "offset": offset}
    return JSONResponse(page | {"results": [product_out(p) for p in rows]})


@router.get("/products/{ref}", response_model=models.ProductDetail)
def show_product(ref: str, reg: Reg) -> Response:
    """A product's metadata: files with checksums, columns with UCDs, versions, lineage."""
    return JSONResponse(detail_out(reg, reg.get_product(ref)))  # already the model's shape


@router.get("/products/{ref}/versions", response_model=list[models.Product])
def product_versions(ref: str, reg: Reg) -> list[dict[str, Any]]:
    return [product_out(v) for v in reg.product_versions(ref)]


@router.get(
    "/products/{ref}/data",
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/csv": {},
                "application/vnd.apache.parquet": {},
            }
        }
    },
)
def product_data(
    ref: str,
    reg: Reg,
    request: Request,
    format: Literal["json", "csv", "parquet"] = "json",  # noqa: A002 - the query parameter
    limit: Annotated[int | None, Query(ge=1, le=10_000_000)] = None,
) -> Response:
    """A tabular product's main table: the first rows as JSON (``limit``, default 100), or the
    whole table (or its first ``limit`` rows) as CSV or Parquet. Verified before it is read."""
    detail = reg.get_product(ref)
    main = next((f for f in detail.files if f.role == "main"), None)
    if main is None or main.format not in registry.formats.TABULAR:
        raise HTTPException(422, f"product {detail.internal_name} has no table to read")
    settings = request.app.state.settings
    if format == "parquet" and main.format == "parquet" and limit is None:
        reg.verify(detail.id, roles=("main",))  # served as it is stored
        return FileResponse(
            main.path,
            media_type="application/vnd.apache.parquet",
            filename=f"{detail.internal_name}.parquet",
        )
    df = reg.get_dataframe(detail.id)
    if format == "json":
        df = df.head(limit or 100)
        return Response(
            df.to_json(orient="records", date_format="iso"), media_type="application/json"
        )
    if limit:
        df = df.head(limit)
    if len(df) > settings.max_table_rows:
        raise HTTPException(
            413,
            f"{len(df)} rows are more than this site serves at once ({settings.max_table_rows});"
            " download the product instead",
        )
    if format == "csv":
        return StreamingResponse(
            _csv_chunks(df),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{detail.internal_name}.csv"'},
        )
    fd, tmp = tempfile.mkstemp(suffix=".parquet", dir=request.app.state.uploads)
    os.close(fd)
    df.to_parquet(tmp, index=False)
    return FileResponse(
        tmp,
        media_type="application/vnd.apache.parquet",
        filename=f"{detail.internal_name}.parquet",
        background=BackgroundTask(Path(tmp).unlink, missing_ok=True),
    )


def _csv_chunks(df, rows: int = 50_000):
    for start in range(0, max(len(df), 1), rows):
        buf = io.StringIO()
        df.iloc[start : start + rows].to_csv(buf, index=False, header=start == 0)
        yield buf.getvalue()


@router.post("/products/{ref}/download-link", response_model=models.DownloadLink)
def download_link(ref: str, reg: Reg, request: Request) -> dict[str, Any]:
    """A signed link to the product's zip (every file, metadata.json, PROV-JSON), valid for the
    site's link lifetime; whoever has it can download, no token needed."""
    product = reg.get_product(ref)
    token, expires = request.app.state.links.make(product, reg.user)
    url = str(request.url_for("download", token=token))
    return {"url": url, "expires_at": expires}


@router.get(
    "/download/{token}",
    name="download",
    responses={200: {"content": {"application/zip": {}}}, 403: {"model": models.Problem}},
)
def download(token: str, request: Request) -> Response:
    """The zip behind a signed link (403 when the link was changed or has expired)."""
    links = request.app.state.links
    found = links.read(token)
    if found is None:
        raise HTTPException(
            403, "this download link is not valid or has expired; ask for a new one"
        )
    product_id, user = found
    reg = request.app.state.registry.acting_as(user)
    path, detail = links.zip_for(reg, product_id)
    name = f"{detail.internal_name}.zip"
    accel = request.app.state.settings.accel_redirect
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if accel and accel.startswith("nginx:"):
        location = accel.split(":", 1)[1].rstrip("/") + "/" + path.name
        return Response(
            headers=headers | {"X-Accel-Redirect": location}, media_type="application/zip"
        )
    if accel == "apache":
        return Response(headers=headers | {"X-Sendfile": str(path)}, media_type="application/zip")
    return FileResponse(path, media_type="application/zip", filename=name, headers=headers)


@router.post(
    "/products",
    status_code=201,
    response_model=models.Product,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["name", "main_file"],
                        "properties": {
                            "name": {"type": "string"},
                            "product_type": {"type": "string"},
                            "description": {"type": "string"},
                            "release": {"type": "string"},
                            "columns": {"type": "string", "description": "JSON"},
                            "suggest_columns": {"type": "string", "enum": ["true", "false"]},
                            "main_file": {"type": "string", "format": "binary"},
                            "aux_files": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                    }
                }
            },
        }
    },
)
async def upload(request: Request, reg: Reg) -> dict[str, Any]:
    """Upload files as a new product (multipart/form-data, streamed; the size limit is enforced
    while reading). Checked as ``pzforge products upload`` checks them; all or nothing."""
    settings = request.app.state.settings
    received = await receive(request, request.app.state.uploads, settings.upload_limit)
    try:
        return await run_in_threadpool(_register_upload, reg, received)
    finally:
        received.discard()


def _register_upload(reg: registry.Registry, received) -> dict[str, Any]:
    from registry.suggest import PATTERNS, suggest_columns

    fields = received.fields
    if not fields.get("name", "").strip():
        raise bad_form("no name field")
    specs: dict[str, registry.ColumnSpec] = {}
    for c in received.columns():
        _pat, ucd, unit = PATTERNS.get(c["role"], ([], None, None))
        specs[c["role"]] = registry.ColumnSpec(
            name=c["name"], role=c["role"], ucd=c.get("ucd") or ucd, unit=c.get("unit") or unit
        )
    if fields.get("suggest_columns", "").lower() == "true":
        path = received.main_file
        fmt = registry.formats.format_of(path)
        names = registry.formats.list_columns(path, fmt) if fmt in registry.formats.TABULAR else []
        taken = {c.name for c in specs.values()}
        for c in suggest_columns(names):
            if c.role not in specs and c.name not in taken:
                specs[c.role] = c
    product = reg.upload(
        fields["name"],
        fields.get("product_type") or registry.REFERENCE_REDSHIFT_CATALOG,
        received.main_file,
        aux_files=received.aux_files,
        description=fields.get("description", ""),
        columns=list(specs.values()),
        release=fields.get("release") or None,
    )
    return product_out(product)


@router.patch("/products/{ref}", response_model=models.Product)
def update_product(ref: str, body: models.ProductUpdate, reg: Reg) -> dict[str, Any]:
    """Change a product's description, release or display name (its owner or an admin)."""
    return product_out(
        reg.update(ref, description=body.description, release=body.release, name=body.name)
    )


@router.delete("/products/{ref}", status_code=204)
def delete_product(ref: str, reg: Reg) -> Response:
    """Delete a product (its owner or an admin); the files the registry stored go with it."""
    reg.delete(ref)
    return Response(status_code=204)


@router.put("/products/{ref}/official", response_model=models.Product)
def set_official(ref: str, body: models.OfficialFlag, reg: Reg) -> dict[str, Any]:
    """Mark a product official, or not (admins)."""
    return product_out(reg.set_official(ref, body.official))
