"""External analysis services: the site's side of the conversation.

- **Credentials** of a service are encrypted with a key derived from the site's secret key
  (``Vault``, Fernet: AES-128-CBC + HMAC-SHA256); the registry stores only the ciphertext, the
  API never returns it and nothing here logs it.
- **Starting an analysis** (``start``): the one code path of the API's ``POST
  /products/{ref}/analyses`` and of the product page's form: the registry's checks, the
  callback URL, and the call to the service to be made once the answer has been sent.
- **Calling a service** (``call_service``): only the URL registered for it, with a timeout, no
  redirects followed; the body is JSON with the product's data (only the columns the service
  asked for, as base64 Parquet or JSON records), the parameters and a single-use callback URL.
- **Reading a callback** (``read_callback``): JSON only. Results are JSON; plots PNG (checked by
  their signature) or SVG (checked, never served inline); inference data Parquet or netCDF4 /
  HDF5 (checked by signature and opened with pyarrow / h5py, which never run code from data).
  Nothing is unpickled: a pickle or joblib payload is refused with a message that says what to
  send instead.
- **Storing results** (``store_results``): a Validation Results product of the analysis's user,
  derived from the analysed product, with a provenance run naming the service, its version and
  the parameters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import registry
from pzforge.server.models import API_PREFIX
from registry import formats
from registry.analyses import check_parameters

if TYPE_CHECKING:
    from pzforge.server.settings import ServerSettings

log = logging.getLogger("pzforge.server.analyses")

PNG = b"\x89PNG\r\n\x1a\n"
HDF5 = b"\x89HDF\r\n\x1a\n"  # netCDF4 files are HDF5 files
PARQUET = b"PAR1"
NETCDF3 = (b"CDF\x01", b"CDF\x02")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_PLOTS = 50
WEBHOOK = "/webhooks/analyses"


class PayloadRefused(registry.ValidationError):
    """A callback body the site will not read (the service must change what it sends)."""

    status = 415


def looks_pickled(data: bytes) -> bool:
    """A pickle (protocol 2 to 5 starts with PROTO) or a joblib container."""
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return True
    return data[:2] in (b"ZF",) or data[:6] == b"\x93NUMPY"


# --- credentials ------------------------------------------------------------------------------


class Vault:
    """Encrypts and decrypts service credentials with a key derived from the site's secret."""

    def __init__(self, secret: bytes):
        from cryptography.fernet import Fernet

        key = hashlib.sha256(b"pzforge analysis-service credentials\0" + secret).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, credentials: dict[str, Any] | None) -> str | None:
        if not credentials:
            return None
        return self._fernet.encrypt(json.dumps(credentials).encode()).decode()

    def decrypt(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {}
        return json.loads(self._fernet.decrypt(token.encode()))


def check_credentials(auth_type: str, credentials: dict[str, Any] | None) -> None:
    needs = {"bearer": ("token",), "header": ("header", "value"), "basic": ("user", "password")}
    wanted = needs.get(auth_type, ())
    missing = [k for k in wanted if not isinstance((credentials or {}).get(k), str)]
    if missing:
        raise registry.ValidationError(
            f"auth_type {auth_type} needs credentials with {', '.join(wanted)} (text)"
        )


def auth_headers(auth_type: str, credentials: dict[str, Any]) -> dict[str, str]:
    if auth_type == "bearer":
        return {"Authorization": f"Bearer {credentials['token']}"}
    if auth_type == "header":
        return {str(credentials["header"]): str(credentials["value"])}
    if auth_type == "basic":
        pair = f"{credentials['user']}:{credentials['password']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}


# --- starting an analysis ---------------------------------------------------------------------


@dataclass
class Started:
    """A started analysis: what to answer, and the call to the service to make after answering
    (``None`` for an upload-only service: its user posts the results to ``callback_url``)."""

    analysis: dict[str, Any]
    callback_url: str
    send: Callable[[], bool] | None


def callback_url(base_url: str, token: str) -> str:
    """Where the service posts its results: the site's public address (or the one the start
    request came to) and the single-use token."""
    return f"{base_url.rstrip('/')}{API_PREFIX}{WEBHOOK}/{token}"


def start(
    reg: registry.Registry,
    vault: Vault,
    settings: ServerSettings,
    base_url: str,
    service: str,
    product: int | str,
    parameters: dict[str, Any] | None,
) -> Started:
    """Start an analysis of ``product`` by ``service`` for the acting user, as the API and the
    pages both do: the registry checks (service, product, type, columns, parameters, the cap)
    and records it pending; the service is called by ``send`` once the caller has answered,
    within the site's and the service's timeouts."""
    analysis, token, call = reg.start_analysis(service, product, parameters)
    url = callback_url(settings.public_url or base_url, token)
    if call["upload_only"]:
        return Started(analysis, url, None)
    timeout = min(settings.service_timeout_s, call["timeout_s"])
    return Started(analysis, url, partial(call_service, reg, vault, analysis, call, url, timeout))


def parameter_problems(schema: dict[str, Any], parameters: dict[str, Any]) -> dict[str, str]:
    """{parameter: what is wrong, in plain words} of parameters checked against a service's
    schema, as ``start`` checks them (a form shows each next to its field)."""
    try:
        check_parameters(schema, parameters)
    except registry.ValidationError as exc:
        return dict(getattr(exc, "fields", None) or {"": str(exc)})
    return {}


# --- calling a service ------------------------------------------------------------------------


def request_body(
    analysis: dict[str, Any], call: dict[str, Any], callback_url: str
) -> dict[str, Any]:
    """What the service receives: the data (only the columns it asked for), the parameters and
    where to send the results."""
    body: dict[str, Any] = {
        "analysis_id": analysis["id"],
        "callback_url": callback_url,
        "callback_method": "POST",
        "expires_at": analysis["expires_at"],
        "product": call["product"],
        "parameters": analysis["parameters"],
        "input_format": call["input_format"],
        "columns": list(call["columns"]),
        "data": None,
    }
    if call["columns"]:
        df = formats.read_table(
            call["main_file"], call["main_format"], list(dict.fromkeys(call["columns"].values()))
        )
        df = df.rename(columns={v: k for k, v in call["columns"].items()})[list(call["columns"])]
        if call["input_format"] == "json":
            body["data"] = json.loads(df.to_json(orient="records"))
        else:
            buf = io.BytesIO()
            df.to_parquet(buf, index=False)
            body["data"] = base64.b64encode(buf.getvalue()).decode()
    return body


def call_service(
    reg: registry.Registry,
    vault: Vault,
    analysis: dict[str, Any],
    call: dict[str, Any],
    callback_url: str,
    timeout_s: float,
) -> bool:
    """POST the analysis to its service's registered URL (run after the response is sent);
    a service that cannot be reached or refuses ends the analysis as ``failure``."""
    import httpx

    try:
        body = request_body(analysis, call, callback_url)
        headers = auth_headers(call["auth_type"], vault.decrypt(call["credentials"]))
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            answer = client.post(call["url"], json=body, headers=headers)
        if answer.status_code >= 300:
            raise RuntimeError(f"the service answered HTTP {answer.status_code}")
        return True
    except Exception as exc:  # the service is away or refused: say so on the analysis
        reason = str(exc) if not isinstance(exc, httpx.HTTPError) else type(exc).__name__
        log.warning("analysis %s: the service was not reached: %s", analysis["id"], reason)
        reg.abandon_analysis(analysis["id"], f"the service could not be reached: {reason}")
        return False


# --- reading a callback -----------------------------------------------------------------------


def _b64(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise PayloadRefused(f"{where}: send base64 text")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadRefused(f"{where}: not valid base64") from None
    if looks_pickled(data):
        raise PayloadRefused(
            f"{where} is a pickle/joblib payload; this site never unpickles: send results as "
            "JSON, plots as PNG or SVG, inference data as netCDF4/HDF5 or Parquet"
        )
    return data


def _check_plot(name: str, fmt: str, data: bytes) -> None:
    if fmt == "png":
        if not data.startswith(PNG):
            raise PayloadRefused(f"plot {name!r} is not a PNG (its signature is wrong)")
    elif fmt == "svg":
        head = data[:2048].lstrip().lower()
        if not (head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head)):
            raise PayloadRefused(f"plot {name!r} is not an SVG document")
        lowered = data.lower()
        if b"<script" in lowered or b"javascript:" in lowered or b"<foreignobject" in lowered:
            raise PayloadRefused(f"plot {name!r}: an SVG with scripts or embedded HTML is refused")
    else:
        raise PayloadRefused(f"plot {name!r}: format {fmt!r}; send png or svg")


def _check_inference(fmt: str, data: bytes) -> str:
    """The inference data's file suffix, once opened with a reader that runs no code."""
    if fmt in ("netcdf", "netcdf4", "hdf5"):
        if data.startswith(NETCDF3):
            raise PayloadRefused("inference data is netCDF3; send netCDF4 (HDF5-based)")
        if not data.startswith(HDF5):
            raise PayloadRefused("inference data is not netCDF4/HDF5 (its signature is wrong)")
        import h5py

        try:
            with h5py.File(io.BytesIO(data), "r") as fh:  # arrays and attributes, no pickles
                fh.visit(lambda _name: None)
        except Exception as exc:
            raise PayloadRefused(f"inference data cannot be read as HDF5: {exc}") from None
        return ".nc" if fmt.startswith("netcdf") else ".h5"
    if fmt == "parquet":
        if not (data.startswith(PARQUET) and data.endswith(PARQUET)):
            raise PayloadRefused("inference data is not Parquet (its signature is wrong)")
        import pyarrow.parquet as pq

        try:
            pq.read_metadata(io.BytesIO(data))
        except Exception as exc:
            raise PayloadRefused(f"inference data cannot be read as Parquet: {exc}") from None
        return ".parquet"
    raise PayloadRefused(f"inference data format {fmt!r}: send netcdf (netCDF4/HDF5) or parquet")


def read_callback(body: bytes) -> dict[str, Any]:
    """The callback's JSON, checked: ``{status, message, analysis: {results, plots,
    inference_data}}``. Plots and inference data stay base64 here; nothing is unpickled."""
    if looks_pickled(body):
        raise PayloadRefused(
            "the callback body is a pickle/joblib payload; this site never unpickles: POST "
            "JSON {status, message, analysis: {results, plots, inference_data}}"
        )
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PayloadRefused(
            "the callback body must be JSON {status, message, analysis: {...}}"
        ) from None
    if not isinstance(payload, dict):
        raise PayloadRefused("the callback body must be a JSON object")
    status = payload.get("status")
    if status not in ("success", "failure"):
        raise registry.ValidationError("status must be success or failure")
    message = payload.get("message", "")
    if not isinstance(message, str):
        raise registry.ValidationError("message must be text")
    analysis = payload.get("analysis") or {}
    if isinstance(analysis, str):  # SkyPortal's services send a base64 joblib dump here
        _b64(analysis, "analysis")
        raise PayloadRefused("analysis must be a JSON object {results, plots, inference_data}")
    if not isinstance(analysis, dict):
        raise PayloadRefused("analysis must be a JSON object {results, plots, inference_data}")
    results = analysis.get("results") or {}
    if not isinstance(results, dict):
        raise PayloadRefused("analysis.results must be a JSON object")
    plots = analysis.get("plots") or []
    if not isinstance(plots, list) or len(plots) > MAX_PLOTS:
        raise PayloadRefused(f"analysis.plots must be a list of at most {MAX_PLOTS} plots")
    checked = []
    for i, plot in enumerate(plots):
        if not isinstance(plot, dict):
            raise PayloadRefused(f"plot {i}: send {{name, format, data}}")
        name = SAFE_NAME.sub("_", str(plot.get("name") or f"plot_{i}"))[:80]
        fmt = str(plot.get("format", "png")).lower()
        data = _b64(plot.get("data"), f"plot {name!r}")
        _check_plot(name, fmt, data)
        checked.append({"name": name, "format": fmt, "data": data})
    inference = analysis.get("inference_data")
    if inference is not None:
        if not isinstance(inference, dict):
            raise PayloadRefused("analysis.inference_data must be {format, data}")
        data = _b64(inference.get("data"), "inference data")
        suffix = _check_inference(str(inference.get("format", "")).lower(), data)
        inference = {"suffix": suffix, "data": data}
    return {
        "status": status,
        "message": message,
        "results": results,
        "plots": checked,
        "inference_data": inference,
    }


def store_results(reg: registry.Registry, analysis: dict[str, Any], payload: dict[str, Any]):
    """A claimed analysis ended by its callback: a failure recorded as such; a success's
    results, plots and inference data registered as a Validation Results product."""
    if payload["status"] == "failure":
        return reg.finish_analysis(
            analysis["id"], "failure", message=payload["message"], results=payload["results"]
        )
    try:
        with tempfile.TemporaryDirectory(prefix="pzforge-analysis-") as tmp:
            folder = Path(tmp)
            aux = []
            inference = payload["inference_data"]
            if inference is not None:
                path = folder / f"inference_data{inference['suffix']}"
                path.write_bytes(inference["data"])
                aux.append(path)
            plot_names = []
            for plot in payload["plots"]:
                path = folder / f"{plot['name']}.{plot['format']}"
                path.write_bytes(plot["data"])
                aux.append(path)
                plot_names.append(path.name)
            main = folder / "results.json"
            main.write_text(
                json.dumps(
                    {
                        "analysis_id": analysis["id"],
                        "service": analysis["service"],
                        "service_version": analysis["service_version"],
                        "parameters": analysis["parameters"],
                        "product_id": analysis["product_id"],
                        "message": payload["message"],
                        "results": payload["results"],
                        "plots": plot_names,
                    },
                    indent=2,
                    sort_keys=True,
                )
            )
            info = reg.register_analysis_result(analysis["id"], main, aux)
    except registry.RegistryError as exc:
        return reg.finish_analysis(
            analysis["id"], "failure", message=f"the results could not be stored: {exc}"
        )
    return reg.finish_analysis(
        analysis["id"],
        "success",
        message=payload["message"],
        results=payload["results"],
        plots=plot_names,
        result_product_id=info.id,
    )
