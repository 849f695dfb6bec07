"""An example external analysis service: photo-z validation (point-estimate metrics and plots).

Run it with ``python -m pzforge.server.example_service --port 8765`` and register it on a site
(docs/analysis.md shows the registration). It takes the ``z`` (spectroscopic) and ``z_phot``
columns of a Photo-z Estimates or Training Set product, and ``pit`` (PIT values of the PDFs)
when the product has one, and posts back:

- results: bias (median of dz = (z_phot - z) / (1 + z)), sigma_NMAD (1.4826 x the median
  absolute deviation of dz), the outlier fraction (|dz| > ``outlier_threshold``), overall and
  per bin of z (``bins`` equal-count bins);
- plots (PNG): z_phot against z; with PIT values, their histogram and the PIT QQ plot;
- inference data: the per-bin metrics as an HDF5 (netCDF4-compatible) table.

It answers the site at once (202) and posts the results to the callback URL from a thread, as a
real service does. ``--bearer`` makes it require that token from the site. ``--silent`` makes it
accept work and never answer (for testing the site's timeouts). ``GET /received`` tells what it
was sent (columns, parameters, whether the site authenticated): for tests.
"""

from __future__ import annotations

import argparse
import base64
import io
import threading
from typing import Any

import numpy as np
import pandas as pd
from fastapi import FastAPI, HTTPException, Request

NAME = "photoz_validation"
VERSION = "1.0.0"
PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "bins": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
        "outlier_threshold": {"type": "number", "exclusiveMinimum": 0, "default": 0.15},
    },
}
REGISTRATION = {
    "name": NAME,
    "display_name": "Photo-z validation",
    "description": "Bias, sigma_NMAD and outlier fraction, overall and per redshift bin; plots.",
    "version": VERSION,
    "analysis_type": "photoz_validation",
    "input_types": ["Photo-z Estimates", "Training Set"],
    "columns": ["z", "z_phot", "pit?"],
    "input_format": "parquet",
    "parameters": PARAMETERS,
}


def point_metrics(z: np.ndarray, zp: np.ndarray, threshold: float) -> dict[str, float]:
    dz = (zp - z) / (1 + z)
    median = float(np.median(dz))
    return {
        "n": int(len(dz)),
        "bias": median,
        "sigma_nmad": float(1.4826 * np.median(np.abs(dz - median))),
        "outlier_fraction": float(np.mean(np.abs(dz) > threshold)),
    }


def validate(df: pd.DataFrame, parameters: dict[str, Any]) -> tuple[dict, list, bytes]:
    """(results, plots, per-bin HDF5 bytes) of a table with z, z_phot and maybe pit."""
    bins = int(parameters.get("bins", 5))
    threshold = float(parameters.get("outlier_threshold", 0.15))
    ok = np.isfinite(df["z"]) & np.isfinite(df["z_phot"]) & (df["z"] >= 0)
    df = df[ok.to_numpy()]
    z, zp = df["z"].to_numpy(float), df["z_phot"].to_numpy(float)
    edges = np.unique(np.quantile(z, np.linspace(0, 1, bins + 1)))
    per_bin = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (z >= lo) & ((z < hi) if hi < edges[-1] else (z <= hi))
        if sel.sum():
            per_bin.append({"z_min": float(lo), "z_max": float(hi)} | point_metrics(
                z[sel], zp[sel], threshold))  # fmt: skip
    results = {
        "overall": point_metrics(z, zp, threshold),
        "per_bin": per_bin,
        "outlier_threshold": threshold,
    }
    plots = [_png("zphot_vs_zspec", _scatter, z, zp)]
    if "pit" in df:
        pit = df["pit"].to_numpy(float)
        pit = pit[np.isfinite(pit)]
        results["pit"] = {"n": int(len(pit)), "mean": float(np.mean(pit))}
        plots.append(_png("pit_histogram", _pit_hist, pit))
        plots.append(_png("pit_qq", _pit_qq, pit))
    return results, plots, _hdf5(per_bin)


def _png(name: str, draw, *args) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
    draw(ax, *args)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return {"name": name, "format": "png", "data": base64.b64encode(buf.getvalue()).decode()}


def _scatter(ax, z, zp) -> None:
    ax.scatter(z, zp, s=3)
    top = float(max(z.max(), zp.max()))
    ax.plot([0, top], [0, top], "k--", lw=1)
    ax.set_xlabel("z_spec")
    ax.set_ylabel("z_phot")


def _pit_hist(ax, pit) -> None:
    ax.hist(pit, bins=20, range=(0, 1))
    ax.set_xlabel("PIT")


def _pit_qq(ax, pit) -> None:
    q = np.linspace(0, 1, 101)
    ax.plot(q, np.quantile(pit, q))
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_xlabel("uniform quantile")
    ax.set_ylabel("PIT quantile")


def _hdf5(per_bin: list[dict[str, Any]]) -> bytes:
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as fh:
        group = fh.create_group("per_bin")
        for key in ("z_min", "z_max", "n", "bias", "sigma_nmad", "outlier_fraction"):
            group.create_dataset(key, data=np.array([b[key] for b in per_bin]))
    return buf.getvalue()


def create_app(*, bearer: str | None = None, silent: bool = False):
    import httpx

    app = FastAPI(title=NAME, version=VERSION)
    received: list[dict[str, Any]] = []

    def answer(body: dict[str, Any]) -> None:
        try:
            raw = base64.b64decode(body["data"])
            df = pd.read_parquet(io.BytesIO(raw))
            results, plots, per_bin = validate(df, body.get("parameters") or {})
            payload = {
                "status": "success",
                "message": f"{results['overall']['n']} objects validated",
                "analysis": {
                    "results": results,
                    "plots": plots,
                    "inference_data": {
                        "format": "hdf5",
                        "data": base64.b64encode(per_bin).decode(),
                    },
                },
            }
        except Exception as exc:  # tell the site what went wrong
            payload = {"status": "failure", "message": f"{type(exc).__name__}: {exc}"}
        httpx.post(body["callback_url"], json=payload, timeout=60)

    @app.post("/analyze", status_code=202)
    async def analyze(request: Request) -> dict[str, str]:
        authorised = request.headers.get("authorization") == f"Bearer {bearer}"
        if bearer and not authorised:
            raise HTTPException(401, "wrong token")
        body = await request.json()
        received.append(
            {
                "columns": body.get("columns"),
                "parameters": body.get("parameters"),
                "authorised": authorised,
                "analysis_id": body.get("analysis_id"),
            }
        )
        if not silent:
            threading.Thread(target=answer, args=(body,), daemon=True).start()
        return {"status": "accepted"}

    @app.get("/received")
    def what_was_received() -> list[dict[str, Any]]:
        return received

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--bearer", default=None, help="the token the site must send")
    parser.add_argument("--silent", action="store_true", help="never post results")
    args = parser.parse_args(argv)
    app = create_app(bearer=args.bearer, silent=args.silent)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
