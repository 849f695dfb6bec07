"""External analysis services and their analyses (SkyPortal's idea, with its weak points fixed).

Mixed into ``registry.Registry``. A service is registered by an admin (and updated or deleted by
an admin or its owner): where to POST a product's data, which product types and columns it takes,
the JSON Schema of its parameters, how long it may take, the groups that may use it. Its
credentials arrive here already encrypted by the caller with the site's key: the registry stores
ciphertext and never returns it through a listing.

An analysis is ``pending`` from its start until its callback arrives. The callback's token is
random, shown once and stored as its sha256; it is claimed with one conditional UPDATE (``WHERE
token_hash = :h AND status = 'pending' AND expires_at > now``), so of two concurrent callbacks
exactly one changes the row (``received``), on SQLite and PostgreSQL alike, and a late callback
finds it expired. Then ``success`` or ``failure``; ``cancelled`` by its user; ``timed_out`` by
:meth:`sweep_analyses` once its service's timeout has passed without an answer. At most
``analysis_cap`` analyses per product and user are pending, received or successful at a time.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update

from registry import formats
from registry.errors import Conflict, LimitReached, NotFound, PermissionDenied, ValidationError
from registry.models import Analysis, AnalysisService, Group, Product, Run, User, utcnow
from registry.product_types import PRODUCT_TYPES, VALIDATION_RESULTS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from registry.records import ProductInfo
    from registry.store import Registry

AUTH_TYPES = ("none", "bearer", "header", "basic")
INPUT_FORMATS = ("parquet", "json")
STATUSES = ("pending", "received", "success", "failure", "timed_out", "cancelled")
COUNTED = ("pending", "received", "success")  # what the per-product, per-user cap counts
ANALYSIS_CAP = 50
SERVICE_FIELDS = (
    "display_name", "description", "version", "contact", "url", "auth_type", "analysis_type",
    "input_types", "columns", "input_format", "parameters", "timeout_s", "groups",
    "upload_only", "is_summary", "owner",
)  # fmt: skip
MAX_TIMEOUT_S = 7 * 24 * 3600.0
STUCK_AFTER_S = 3600.0  # a received callback still not stored an hour after expiry
MAX_ID = 2**31 - 1  # analyses' ids are INTEGER (32 bits on PostgreSQL)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)


def _iso(t: datetime | None) -> str | None:
    return _aware(t).isoformat() if t is not None else None


def _service_dict(svc: AnalysisService) -> dict[str, Any]:
    """A service as anyone may see it: never its credentials (only whether it has some)."""
    out = {k: getattr(svc, k) for k in ("id", "name", *SERVICE_FIELDS)}
    out["input_types"], out["columns"] = list(svc.input_types), list(svc.columns)
    out["groups"], out["parameters"] = list(svc.groups), dict(svc.parameters)
    out["has_credentials"] = bool(svc.credentials)
    out["created_at"], out["updated_at"] = _iso(svc.created_at), _iso(svc.updated_at)
    return out


def _analysis_dict(a: Analysis) -> dict[str, Any]:
    return {
        "id": a.id,
        "service": a.service_name,
        "service_version": a.service_version,
        "product_id": a.product_id,
        "user": a.user,
        "parameters": dict(a.parameters or {}),
        "status": a.status,
        "is_summary": a.is_summary,
        "created_at": _iso(a.created_at),
        "expires_at": _iso(a.expires_at),
        "finished_at": _iso(a.finished_at),
        "message": a.message,
        "results": dict(a.results or {}),
        "plots": list(a.plots or []),
        "result_product_id": a.result_product_id,
    }


def _check_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("a service needs a url (http:// or https://)")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"a service's url must be http:// or https://, not {url!r}")
    if parts.username or parts.password:
        raise ValidationError(
            "put a service's credentials in credentials (stored encrypted), not in its url"
        )
    return url.strip()


def check_parameters_schema(schema: object) -> dict[str, Any]:
    """A service's declared parameters: a JSON Schema (2020-12) of an object."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if schema in (None, {}):
        return {"type": "object", "additionalProperties": False, "properties": {}}
    if not isinstance(schema, dict):
        raise ValidationError("a service's parameters must be a JSON Schema (an object)")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValidationError(
            f"the service's parameters schema is not valid: {exc.message}"
        ) from None
    if schema.get("type", "object") != "object":
        raise ValidationError("a service's parameters schema must describe an object")
    return schema


KINDS = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "boolean": "yes or no",
    "array": "a list",
    "object": "a set of named values",
    "null": "empty",
}
PLAIN = {
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be more than {}",
    "exclusiveMaximum": "must be less than {}",
    "multipleOf": "must be a multiple of {}",
    "minLength": "must be at least {} characters long",
    "maxLength": "must be at most {} characters long",
    "pattern": "must match the pattern {}",
    "minItems": "needs at least {} values",
    "maxItems": "takes at most {} values",
    "uniqueItems": "must not repeat a value",
    "const": "must be {}",
    "format": "must be a valid {}",
}


def plain_problems(error: Any) -> dict[str, str]:
    """{parameter: what is wrong, in words a form can show next to it} of one jsonschema
    error (its own wording names validators: "0 is less than the minimum of 1")."""
    where = ".".join(str(p) for p in error.path)
    kind, want = error.validator, error.validator_value
    if kind == "required":
        missing = [k for k in want if isinstance(error.instance, dict) and k not in error.instance]
        name = next((k for k in missing if error.message.startswith(repr(k))), None)
        return {".".join(filter(None, (where, name or ""))): "is required"}
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in known]
        return {".".join(filter(None, (where, k))): "is not a parameter of this service"
                for k in extra}  # fmt: skip
    if kind == "type":
        kinds = [want] if isinstance(want, str) else list(want)
        return {where: "must be " + " or ".join(KINDS.get(k, k) for k in kinds)}
    if kind == "enum":
        return {where: "must be one of " + ", ".join(str(v) for v in want)}
    if kind in PLAIN:
        return {where: PLAIN[kind].format(want)}
    return {where: error.message}


def check_parameters(schema: Mapping[str, Any], parameters: object) -> dict[str, Any]:
    """``parameters`` valid against the service's schema, or every problem in one error (its
    ``problems``; ``fields``: the same in plain words, by parameter, for forms)."""
    from jsonschema import Draft202012Validator

    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise ValidationError("an analysis's parameters must be a mapping of names to values")
    errors = sorted(
        Draft202012Validator(schema).iter_errors(parameters), key=lambda e: list(e.path)
    )
    if errors:
        problems = [
            f"{'.'.join(str(p) for p in e.path) or 'parameters'}: {e.message}" for e in errors
        ]
        fields: dict[str, str] = {}
        for e in errors:
            for where, text in plain_problems(e).items():
                fields[where] = f"{fields[where]}; {text}" if where in fields else text
        exc = ValidationError("the parameters do not fit the service: " + "; ".join(problems))
        exc.problems = problems  # type: ignore[attr-defined]
        exc.fields = fields  # type: ignore[attr-defined]
        raise exc
    return parameters


class AnalysisRecords:
    """Mixed into ``registry.Registry``."""

    analysis_cap: int = ANALYSIS_CAP

    # --- services -----------------------------------------------------------------------------

    def _check_service_fields(self: Registry, s: Session, values: dict[str, Any]) -> None:
        if "url" in values:
            values["url"] = _check_url(values["url"])
        if values.get("auth_type", "none") not in AUTH_TYPES:
            raise ValidationError(
                f"auth_type {values['auth_type']!r} is not one of {', '.join(AUTH_TYPES)}"
            )
        if values.get("input_format", "parquet") not in INPUT_FORMATS:
            raise ValidationError(
                f"input_format {values['input_format']!r} is not one of {', '.join(INPUT_FORMATS)}"
            )
        unknown = [t for t in values.get("input_types") or [] if t not in PRODUCT_TYPES]
        if unknown:
            raise ValidationError(
                f"unknown product type(s) {unknown}; types: {', '.join(PRODUCT_TYPES)}"
            )
        if "parameters" in values:
            values["parameters"] = check_parameters_schema(values["parameters"])
        if "timeout_s" in values:
            t = values["timeout_s"]
            if not isinstance(t, int | float) or not 0 < t <= MAX_TIMEOUT_S:
                raise ValidationError(f"timeout_s must be above 0 and at most {MAX_TIMEOUT_S:.0f}")
        for key in ("columns", "groups", "input_types"):
            if key in values and not (
                isinstance(values[key], list) and all(isinstance(v, str) for v in values[key])
            ):
                raise ValidationError(f"{key} must be a list of names")
        for g in values.get("groups") or []:
            if s.scalar(select(Group.id).where(Group.name == g)) is None:
                raise NotFound(f"no group {g!r}")
        owner = values.get("owner")
        if (
            owner
            and owner != "operator"
            and not s.scalar(select(User.id).where(User.name == owner))
        ):
            raise NotFound(f"no user {values['owner']!r} to own the service")

    def register_service(
        self: Registry, name: str, *, credentials: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Register an external analysis service (admins). ``credentials``: ciphertext."""
        from registry.accounts import check_user_name

        self._require_manager("register analysis services")
        name = check_user_name(name)
        unknown = sorted(set(fields) - set(SERVICE_FIELDS))
        if unknown:
            raise ValidationError(f"unknown service field(s) {unknown}")
        fields.setdefault("owner", self.user or "operator")
        fields.setdefault("parameters", {})
        if "url" not in fields and not fields.get("upload_only"):
            raise ValidationError("a service needs a url (unless it is upload_only)")
        with self.session() as s:
            self._check_service_fields(s, fields)
            if s.scalar(select(AnalysisService.id).where(AnalysisService.name == name)):
                raise Conflict(f"an analysis service {name!r} is already registered")
            svc = AnalysisService(name=name, credentials=credentials, **fields)
            s.add(svc)
            s.flush()
            return _service_dict(svc)

    def _service(self: Registry, s: Session, name: str) -> AnalysisService:
        svc = s.scalar(select(AnalysisService).where(AnalysisService.name == str(name)))
        if svc is None:
            raise NotFound(f"no analysis service {name!r} (GET /api/v1/analysis-services)")
        return svc

    def _may_manage_service(self: Registry, svc: AnalysisService) -> None:
        if not (self.operator or self.is_admin or (self.user and svc.owner == self.user)):
            raise PermissionDenied(
                f"only admins or its owner ({svc.owner}) may change service {svc.name}"
            )

    def _may_use_service(self: Registry, s: Session, svc: AnalysisService) -> bool:
        if not svc.groups or self.operator or self.is_admin or svc.owner == self.user:
            return True
        user = s.scalar(select(User).where(User.name == (self.user or "")))
        return user is not None and bool(set(self._groups_of(s, user.id)) & set(svc.groups))

    def update_service(
        self: Registry, name: str, *, credentials: str | None = None, **changes: Any
    ) -> dict[str, Any]:
        """Change a service (admins or its owner); ``credentials`` replaces the stored ones."""
        unknown = sorted(set(changes) - set(SERVICE_FIELDS))
        if unknown:
            raise ValidationError(f"unknown service field(s) {unknown}")
        with self.session() as s:
            svc = self._service(s, name)
            self._may_manage_service(svc)
            if "owner" in changes and not (self.operator or self.is_admin):
                raise PermissionDenied("only admins hand a service to another owner")
            self._check_service_fields(s, changes)
            for k, v in changes.items():
                setattr(svc, k, v)
            if credentials is not None:
                svc.credentials = credentials or None
            svc.updated_at = utcnow()
            s.flush()
            return _service_dict(svc)

    def delete_service(self: Registry, name: str) -> None:
        """Remove a service (admins or its owner); its analyses stay, with its name."""
        with self.session() as s:
            svc = self._service(s, name)
            self._may_manage_service(svc)
            for a in s.scalars(
                select(Analysis).where(Analysis.service_id == svc.id, Analysis.status == "pending")
            ):
                a.status, a.finished_at = "cancelled", utcnow()
                a.message = f"service {svc.name} was deleted"
            s.delete(svc)

    def list_services(self: Registry, *, product_type: str | None = None) -> list[dict[str, Any]]:
        """The services the acting user may use (admins: all); with ``product_type``, only those
        that take products of that type (what a product's page offers)."""
        with self.session(readonly=True) as s:
            rows = s.scalars(select(AnalysisService).order_by(AnalysisService.name)).all()
            return [
                _service_dict(r)
                for r in rows
                if self._may_use_service(s, r)
                and (product_type is None or not r.input_types or product_type in r.input_types)
            ]

    def get_service(self: Registry, name: str) -> dict[str, Any]:
        with self.session(readonly=True) as s:
            svc = self._service(s, name)
            if not self._may_use_service(s, svc):
                raise PermissionDenied(f"service {name} is for groups {', '.join(svc.groups)}")
            return _service_dict(svc)

    # --- analyses -----------------------------------------------------------------------------

    def start_analysis(
        self: Registry,
        service: str,
        product_ref: int | str,
        parameters: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], str, dict[str, Any]]:
        """Start an analysis of a product by a service for the acting user.

        Returns ``(analysis, token, call)``: the new pending analysis, its single-use callback
        token (shown once; only its sha256 is kept) and what the caller needs to call the
        service (``url``, ``auth_type``, ``credentials`` ciphertext, ``columns``,
        ``input_format``, ``upload_only``, the product's main file). Checks: the user may use the
        service and read the product, the product is of a type the service takes, the
        parameters fit its schema, and the cap of analyses per product and user is not reached.
        """
        if not self.user:
            raise PermissionDenied("no acting user: open the registry with user=...")
        token = "pza_" + secrets.token_urlsafe(32)
        with self.session() as s:
            svc = self._service(s, service)
            if not self._may_use_service(s, svc):
                raise PermissionDenied(
                    f"service {svc.name} is for members of {', '.join(svc.groups)}"
                )
            product = self._product(s, product_ref)
            if svc.input_types and product.product_type.name not in svc.input_types:
                raise ValidationError(
                    f"service {svc.name} takes {', '.join(svc.input_types)}; product "
                    f"{product.internal_name} is a {product.product_type.name}"
                )
            params = check_parameters(svc.parameters or {}, dict(parameters or {}))
            if self.engine.dialect.name == "postgresql":
                # one start at a time per product: the cap's count and insert are not raced
                s.scalar(select(Product.id).where(Product.id == product.id).with_for_update())
            counted = s.scalar(
                select(func.count(Analysis.id)).where(
                    Analysis.product_id == product.id,
                    Analysis.user == self.user,
                    Analysis.status.in_(COUNTED),
                )
            )
            if counted >= self.analysis_cap:
                raise LimitReached(
                    f"{self.user} already has {counted} analyses of {product.internal_name} "
                    f"(pending or done; at most {self.analysis_cap}); cancel pending ones or "
                    "delete old results first"
                )
            now = utcnow()
            row = Analysis(
                service_id=svc.id,
                service_name=svc.name,
                service_version=svc.version,
                product_id=product.id,
                user=self.user,
                parameters=params,
                status="pending",
                token_hash=token_hash(token),
                is_summary=svc.is_summary,
                created_at=now,
                expires_at=now + timedelta(seconds=float(svc.timeout_s)),
                message="",
                results={},
                plots=[],
            )
            s.add(row)
            s.flush()
            mains = [f for f in product.files if f.role == "main"]
            main_path = self.file_path(mains[0]) if mains else None
            columns = self._columns_to_send(
                svc, product, main_path, mains[0].format if mains else None
            )
            call = {
                "url": svc.url,
                "auth_type": svc.auth_type,
                "credentials": svc.credentials,
                "columns": columns,
                "input_format": svc.input_format,
                "upload_only": svc.upload_only,
                "timeout_s": float(svc.timeout_s),
                "product": {
                    "id": product.id,
                    "internal_name": product.internal_name,
                    "name": product.name,
                    "product_type": product.product_type.name,
                    "columns": [{"role": c.role, "name": c.name} for c in product.columns],
                },
                "main_file": str(main_path) if main_path else None,
                "main_format": mains[0].format if mains else None,
            }
            return _analysis_dict(row), token, call

    def _columns_to_send(
        self: Registry, svc: AnalysisService, product: Product, path: Path | None, fmt: str | None
    ) -> dict[str, str]:
        """{name the service asked for: column of the product's main file}, only those it asks
        for: each is a column role (the product's association) or a column name; a trailing
        ``?`` marks one as optional. Upload-only services get no data."""
        if svc.upload_only or not svc.columns:
            return {}
        if path is None or fmt not in formats.TABULAR:
            raise ValidationError(
                f"service {svc.name} asks for columns; {product.internal_name} has no table"
            )
        by_role = {c.role: c.name for c in product.columns}
        available = set(formats.list_columns(path, fmt))
        out, missing = {}, []
        for wanted in svc.columns:
            name, optional = wanted.rstrip("?"), wanted.endswith("?")
            column = by_role.get(name) or (name if name in available else None)
            if column is not None and column in available:
                out[name] = column
            elif not optional:
                missing.append(name)
        if missing:
            raise ValidationError(
                f"service {svc.name} needs column(s) {', '.join(missing)} (a role or a column "
                f"name); {product.internal_name} has: {', '.join(sorted(available)[:40])}"
            )
        return out

    def abandon_analysis(self: Registry, analysis_id: int, message: str) -> bool:
        """A pending analysis whose service could not be reached ends as ``failure``."""
        with self.session() as s:
            done = s.execute(
                update(Analysis)
                .where(Analysis.id == int(analysis_id), Analysis.status == "pending")
                .values(status="failure", finished_at=utcnow(), message=message[:10_000])
                .execution_options(synchronize_session=False)
            )
            return bool(done.rowcount)

    def _analysis(self: Registry, s: Session, analysis_id: int) -> Analysis:
        ok = str(analysis_id).isascii() and str(analysis_id).isdigit()
        row = s.get(Analysis, int(analysis_id)) if ok and 0 < int(analysis_id) <= MAX_ID else None
        if row is None:
            raise NotFound(f"no analysis {analysis_id!r}")
        return row

    def _may_see_analysis(self: Registry, s: Session, row: Analysis) -> None:
        if row.user == self.user or self.operator or self.is_admin:
            return
        product = s.get(Product, row.product_id)
        if product is None:
            raise NotFound(f"no analysis {row.id}")
        self._check_visible(s, product)  # readers of a product see its analyses

    def get_analysis(self: Registry, analysis_id: int) -> dict[str, Any]:
        with self.session(readonly=True) as s:
            row = self._analysis(s, analysis_id)
            self._may_see_analysis(s, row)
            return _analysis_dict(row)

    def list_analyses(
        self: Registry,
        *,
        product: int | str | None = None,
        service: str | None = None,
        status: str | None = None,
        user: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Analyses newest first: of a product (anyone who may read it), else the acting
        user's own (admins: anyone's)."""
        if status is not None and status not in STATUSES:
            raise ValidationError(f"unknown status {status!r}; statuses: {', '.join(STATUSES)}")
        with self.session(readonly=True) as s:
            q = select(Analysis)
            if product is not None:
                q = q.where(Analysis.product_id == self._product(s, product).id)
            elif not (self.operator or self.is_admin):
                if user not in (None, self.user):
                    raise PermissionDenied("only admins list other users' analyses")
                user = self.user
            if user:
                q = q.where(Analysis.user == user)
            if service:
                q = q.where(Analysis.service_name == service)
            if status:
                q = q.where(Analysis.status == status)
            rows = s.scalars(q.order_by(Analysis.id.desc()).limit(limit)).all()
            return [_analysis_dict(r) for r in rows]

    def cancel_analysis(self: Registry, analysis_id: int) -> dict[str, Any]:
        """Cancel a pending analysis (its user or an admin): its token stops working."""
        with self.session() as s:
            row = self._analysis(s, analysis_id)
            if row.user != self.user and not (self.operator or self.is_admin):
                raise PermissionDenied(f"analysis {row.id} is {row.user}'s")
            if row.status == "pending":
                row.status, row.finished_at = "cancelled", utcnow()
                row.message = f"cancelled by {self.user or 'the operator'}"
            s.flush()
            return _analysis_dict(row)

    def claim_analysis(self: Registry, token: str) -> dict[str, Any]:
        """Claim a callback token: one conditional UPDATE, so exactly one caller wins.

        Returns the analysis (now ``received``); raises NotFound for an unknown token and
        Conflict for one used, cancelled, timed out or past its expiry.
        """
        digest = token_hash(str(token))
        now = utcnow()
        with self.session() as s:
            claimed = s.execute(
                update(Analysis)
                .where(
                    Analysis.token_hash == digest,
                    Analysis.status == "pending",
                    Analysis.expires_at > now,
                )
                .values(status="received")
                .returning(Analysis.id)
                .execution_options(synchronize_session=False)
            ).scalar()
            if claimed is None:
                row = s.scalar(select(Analysis).where(Analysis.token_hash == digest))
                if row is None:
                    raise NotFound("unknown callback token")
                if row.status == "pending":
                    raise Conflict(f"analysis {row.id}'s callback token has expired")
                raise Conflict(
                    f"analysis {row.id}'s callback token was already used (it is {row.status})"
                )
            row = s.get(Analysis, claimed)
            s.refresh(row)
            return _analysis_dict(row)

    def finish_analysis(
        self: Registry,
        analysis_id: int,
        status: str,
        *,
        message: str = "",
        results: Mapping[str, Any] | None = None,
        plots: Sequence[str] = (),
        result_product_id: int | None = None,
    ) -> dict[str, Any]:
        """End a received analysis as ``success`` or ``failure``."""
        if status not in ("success", "failure"):
            raise ValidationError(f"an analysis ends as success or failure, not {status!r}")
        with self.session() as s:
            row = self._analysis(s, analysis_id)
            if row.status != "received":
                raise Conflict(f"analysis {row.id} is {row.status}, not received")
            row.status, row.finished_at, row.message = status, utcnow(), message[:10_000]
            row.results, row.plots = dict(results or {}), list(plots)
            row.result_product_id = result_product_id
            s.flush()
            return _analysis_dict(row)

    def sweep_analyses(self: Registry, *, stuck_after_s: float = STUCK_AFTER_S) -> list[int]:
        """Pending analyses past their service's timeout become ``timed_out``; analyses whose
        callback was claimed but never stored (the site stopped meanwhile) become ``failure``
        ``stuck_after_s`` after their expiry. Returns the ids changed."""
        now = utcnow()
        with self.session() as s:
            ids = list(
                s.scalars(
                    update(Analysis)
                    .where(Analysis.status == "pending", Analysis.expires_at <= now)
                    .values(
                        status="timed_out",
                        finished_at=now,
                        message="the service did not answer before its timeout",
                    )
                    .returning(Analysis.id)
                    .execution_options(synchronize_session=False)
                )
            )
            ids += s.scalars(
                update(Analysis)
                .where(
                    Analysis.status == "received",
                    Analysis.expires_at <= now - timedelta(seconds=stuck_after_s),
                )
                .values(
                    status="failure",
                    finished_at=now,
                    message="the results arrived but were never stored (the site stopped); "
                    "start the analysis again",
                )
                .returning(Analysis.id)
                .execution_options(synchronize_session=False)
            )
            return sorted(ids)

    def register_analysis_result(
        self: Registry,
        analysis_id: int,
        main_file: Path,
        aux_files: Sequence[Path] = (),
    ) -> ProductInfo:
        """The results of a received analysis as a Validation Results product of its user,
        derived from the analysed product, with a provenance run that names the service, its
        version and the parameters."""
        with self.session(readonly=True) as s:
            row = self._analysis(s, analysis_id)
            if row.status != "received":
                raise Conflict(f"analysis {row.id} is {row.status}, not received")
            source = s.get(Product, row.product_id)
            a = _analysis_dict(row)
            source_name = source.internal_name
        run_id = str(uuid.uuid4())
        now = utcnow()
        with self.session() as s:
            s.add(
                Run(
                    id=run_id,
                    pipeline=f"analysis:{a['service']}",
                    run_name=f"analysis {a['id']}",
                    status="success",
                    config={
                        "analysis_id": a["id"],
                        "service": a["service"],
                        "service_version": a["service_version"],
                        "parameters": a["parameters"],
                        "input_product": source_name,
                    },
                    overrides=[],
                    software={a["service"]: a["service_version"] or "unknown"},
                    user=a["user"],
                    host="",
                    workdir="",
                    started_at=_aware(row.created_at),
                    ended_at=now,
                )
            )
        view = self.acting_as(a["user"])
        return view.register_product(
            f"{a['service']} analysis {a['id']} of {source_name}"[:200],
            VALIDATION_RESULTS,
            Path(main_file),
            aux_files=list(aux_files),
            description=(
                f"Results of analysis service {a['service']} {a['service_version']} on "
                f"{source_name} (analysis {a['id']})"
            ),
            derived_from=[a["product_id"]],
            run_id=run_id,
        )

    def product_summary(self: Registry, product_ref: int | str) -> dict[str, Any]:
        """A product's summary: the newest successful result of each summary service, and
        every earlier one (the history), newest first."""
        with self.session(readonly=True) as s:
            product = self._product(s, product_ref)
            rows = s.scalars(
                select(Analysis)
                .where(
                    Analysis.product_id == product.id,
                    Analysis.is_summary.is_(True),
                    Analysis.status == "success",
                )
                .order_by(Analysis.finished_at.desc(), Analysis.id.desc())
            ).all()
            current: dict[str, Any] = {}
            for r in rows:
                current.setdefault(r.service_name, _analysis_dict(r))
            return {
                "product_id": product.id,
                "current": current,
                "history": [_analysis_dict(r) for r in rows],
            }
