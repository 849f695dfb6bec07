"""Secrets never reach provenance, reports, logs or download zips: redact them where config is
recorded. A password inside any URL (``postgresql://user:pw@host/db``) and the value of any key
that names a secret (password, token, secret, credential, api_key) become ``***``."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(r"(pass(word)?|token|secret|credential|api_?key)", re.IGNORECASE)
# scheme://user:password@host  (the password is everything between the first ':' after the
# user and the last '@' before the host)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)(?=@)")


def redact_text(text: str) -> str:
    """``text`` with passwords inside URLs masked."""
    return _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` (dicts, lists, strings) with secrets masked."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v, key) for v in value)
    if isinstance(value, str):
        if key and _SECRET_KEY.search(key) and value:
            return MASK
        return redact_text(value)
    return value
