"""What a callback body may hold, checked without a server: JSON results, PNG/SVG plots,
netCDF4/HDF5 or Parquet inference data; pickles, joblib dumps and impostors refused."""

from __future__ import annotations

import base64
import io
import json
import pickle

import h5py
import numpy as np
import pandas as pd
import pytest

from pzforge.server.analyses import PayloadRefused, Vault, auth_headers, read_callback

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 20


def body(**analysis) -> bytes:
    return json.dumps({"status": "success", "message": "m", "analysis": analysis}).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hdf5_bytes() -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as fh:
        fh["x"] = np.arange(3)
    return buf.getvalue()


def test_a_good_body():
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>'
    out = read_callback(body(
        results={"bias": 0.01},
        plots=[{"name": "a/../b", "format": "png", "data": b64(PNG)},
               {"name": "c", "format": "svg", "data": b64(svg)}],
        inference_data={"format": "netcdf", "data": b64(hdf5_bytes())},
    ))  # fmt: skip
    assert out["results"] == {"bias": 0.01}
    assert [p["name"] for p in out["plots"]] == ["a_.._b", "c"]  # no path separators
    assert out["inference_data"]["suffix"] == ".nc"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (pickle.dumps({"a": 1}), "never unpickles"),
        (b"not json", "must be JSON"),
        (body(results=[1]), "results must be a JSON object"),
        (json.dumps({"status": "ok"}).encode(), "status must be"),
        (json.dumps({"status": "success", "analysis": b64(pickle.dumps(1))}).encode(),
         "never unpickles"),
        (body(plots=[{"name": "p", "format": "png", "data": b64(pickle.dumps(1, protocol=4))}]),
         "never unpickles"),
        (body(plots=[{"name": "p", "format": "png", "data": b64(b"GIF89a")}]), "not a PNG"),
        (body(plots=[{"name": "p", "format": "gif", "data": b64(b"GIF89a")}]), "send png or svg"),
        (body(plots=[{"name": "p", "format": "svg",
                      "data": b64(b"<svg><script>alert(1)</script></svg>")}]), "scripts"),
        (body(plots=[{"name": "p", "format": "png", "data": "%%%"}]), "not valid base64"),
        (body(inference_data={"format": "netcdf", "data": b64(b"CDF\x01rest")}), "netCDF3"),
        (body(inference_data={"format": "hdf5", "data": b64(b"\x89HDF\r\n\x1a\ngarbage")}),
         "cannot be read as HDF5"),
        (body(inference_data={"format": "parquet", "data": b64(b"PAR1junkPAR1")}),
         "cannot be read as Parquet"),
        (body(inference_data={"format": "joblib", "data": b64(b"x")}), "send netcdf"),
    ],
)  # fmt: skip
def test_refused_bodies(payload, message):
    import registry

    # PayloadRefused (415) for what the site will not read, ValidationError (422) for fields
    with pytest.raises(registry.ValidationError, match=message) as refused:
        read_callback(payload)
    assert isinstance(refused.value, PayloadRefused) or "status" in message


def test_parquet_inference_data_and_a_failure_status():
    buf = io.BytesIO()
    pd.DataFrame({"a": [1.0]}).to_parquet(buf)
    out = read_callback(body(inference_data={"format": "parquet", "data": b64(buf.getvalue())}))
    assert out["inference_data"]["suffix"] == ".parquet"
    failed = read_callback(json.dumps({"status": "failure", "message": "no z"}).encode())
    assert failed["status"] == "failure" and failed["plots"] == []


def test_credentials_are_encrypted_with_the_site_key():
    vault = Vault(b"k" * 32)
    sealed = vault.encrypt({"token": "t0p-secret"})
    assert "t0p-secret" not in sealed and vault.decrypt(sealed) == {"token": "t0p-secret"}
    with pytest.raises(Exception):  # noqa: B017 - another site's key cannot read it
        Vault(b"j" * 32).decrypt(sealed)
    assert auth_headers("basic", {"user": "u", "password": "p"}) == {"Authorization": "Basic dTpw"}
