"""External analysis services and their analyses: register (admins) / update / delete (admins
or the owner), start an analysis of a product, follow and cancel it, read a product's summary;
and the webhook services post their results to (its single-use token is the credential)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Request, Response
from fastapi.concurrency import run_in_threadpool

import registry
from pzforge.server import analyses, models
from pzforge.server.auth import acting_registry, admin_registry

router = APIRouter(tags=["analyses"])
Reg = Annotated[registry.Registry, Depends(acting_registry)]
AdminReg = Annotated[registry.Registry, Depends(admin_registry)]
WEBHOOK = analyses.WEBHOOK
AnalysisId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _vault(request: Request) -> analyses.Vault:
    return request.app.state.vault


def _fields(body: models.AnalysisServiceFields, request: Request) -> tuple[dict, str | None]:
    values = body.model_dump(exclude_unset=True, exclude={"credentials", "name"})
    values = {k: v for k, v in values.items() if v is not None}
    credentials = None
    if body.credentials is not None:
        analyses.check_credentials(values.get("auth_type", "none"), body.credentials)
        credentials = _vault(request).encrypt(body.credentials) or ""
    return values, credentials


@router.get("/analysis-services", response_model=list[models.AnalysisService])
def list_services(reg: Reg) -> list[dict[str, Any]]:
    """The analysis services you may use (never their credentials)."""
    return reg.list_services()


@router.post("/analysis-services", response_model=models.AnalysisService, status_code=201)
def register_service(
    body: models.NewAnalysisService, reg: AdminReg, request: Request
) -> dict[str, Any]:
    """Register an external analysis service (admins); credentials are stored encrypted."""
    values, credentials = _fields(body, request)
    auth = values.get("auth_type", "none")
    if auth != "none" and credentials is None:
        raise registry.ValidationError(f"auth_type {auth} needs credentials")
    return reg.register_service(body.name, credentials=credentials, **values)


@router.get("/analysis-services/{name}", response_model=models.AnalysisService)
def get_service(name: str, reg: Reg) -> dict[str, Any]:
    return reg.get_service(name)


@router.patch("/analysis-services/{name}", response_model=models.AnalysisService)
def update_service(
    name: str, body: models.AnalysisServiceFields, reg: Reg, request: Request
) -> dict[str, Any]:
    """Change a service (admins or its owner); new credentials replace the stored ones."""
    values, credentials = _fields(body, request)
    if credentials is not None and "auth_type" not in values:
        analyses.check_credentials(reg.get_service(name)["auth_type"], body.credentials)
    return reg.update_service(name, credentials=credentials, **values)


@router.delete("/analysis-services/{name}", status_code=204)
def delete_service(name: str, reg: Reg) -> Response:
    """Remove a service (admins or its owner); its pending analyses are cancelled."""
    reg.delete_service(name)
    return Response(status_code=204)


@router.post("/products/{ref}/analyses", response_model=models.Analysis, status_code=201)
def start_analysis(
    ref: str,
    body: models.AnalysisRequest,
    reg: Reg,
    request: Request,
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Start an analysis of a product: its parameters are checked against the service's
    schema; the product's data (only the columns the service asks for) is POSTed to the
    service after this answer, with a single-use callback URL. An upload-only service gets
    nothing: the answer carries the callback URL (shown once) to post results to."""
    started = analyses.start(
        reg, _vault(request), request.app.state.settings, str(request.base_url),
        body.service, ref, body.parameters,
    )  # fmt: skip
    if started.send is None:
        return started.analysis | {"callback_url": started.callback_url}
    background.add_task(started.send)
    return started.analysis


@router.get("/products/{ref}/analyses", response_model=list[models.Analysis])
def product_analyses(
    ref: str, reg: Reg, service: str | None = None, status: models.AnalysisStatus | None = None
) -> list[dict[str, Any]]:
    """A product's analyses, newest first (anyone who may read the product)."""
    return reg.list_analyses(product=ref, service=service, status=status)


@router.get("/products/{ref}/summary", response_model=models.ProductSummary)
def product_summary(ref: str, reg: Reg) -> dict[str, Any]:
    """The newest result of each summary service, and the history of them all."""
    return reg.product_summary(ref)


@router.get("/analyses", response_model=list[models.Analysis])
def my_analyses(
    reg: Reg, status: models.AnalysisStatus | None = None, user: str | None = None
) -> list[dict[str, Any]]:
    """Your analyses (admins: anyone's), newest first."""
    return reg.list_analyses(status=status, user=user)


@router.get("/analyses/{analysis_id}", response_model=models.Analysis)
def get_analysis(analysis_id: AnalysisId, reg: Reg) -> dict[str, Any]:
    return reg.get_analysis(analysis_id)


@router.post("/analyses/{analysis_id}/cancel", response_model=models.Analysis)
def cancel_analysis(analysis_id: AnalysisId, reg: Reg) -> dict[str, Any]:
    """Cancel a pending analysis: its callback token stops working."""
    return reg.cancel_analysis(analysis_id)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the callback body is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the callback body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    WEBHOOK + "/{token}",
    response_model=models.CallbackAccepted,
    responses={404: {"model": models.Problem}, 409: {"model": models.Problem},
               413: {"model": models.Problem}, 415: {"model": models.Problem}},
)  # fmt: skip
async def analysis_callback(token: str, request: Request) -> dict[str, Any]:
    """Where a service posts ``{status, message, analysis: {results, plots, inference_data}}``
    (JSON; plots PNG/SVG and inference data netCDF4/Parquet as base64). The body is checked
    first (a refused one leaves the token usable); then the token is claimed in one
    conditional UPDATE, so it works once; the results become a Validation Results product."""
    settings = request.app.state.settings
    body = await _body(request, int(settings.callback_limit_mb * 1024 * 1024))
    try:
        payload = await run_in_threadpool(analyses.read_callback, body)  # off the event loop
    except analyses.PayloadRefused as exc:
        raise HTTPException(415, str(exc)) from None
    reg: registry.Registry = request.app.state.registry.acting_as(None)
    analysis = await run_in_threadpool(reg.claim_analysis, token)
    done = await run_in_threadpool(analyses.store_results, reg, analysis, payload)
    return {
        "analysis_id": done["id"],
        "status": done["status"],
        "result_product_id": done["result_product_id"],
    }
