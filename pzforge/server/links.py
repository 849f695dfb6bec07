"""Signed download links: a product's zip for ``link_ttl_s`` seconds, no token needed.

The link carries the product id, the user it was made for and the product's last change, signed
with the site's key (itsdangerous, HMAC-SHA256) and timestamped. A tampered or expired link gets
403; the user must still be allowed to read the product when the link is used.

Zips are built once per product state into ``cache/zips/`` (verified first, written atomically)
and served from there: streamed by the server in bounded chunks, or - with ``accel_redirect`` -
by the reverse proxy (X-Accel-Redirect / X-Sendfile), so big files never pass through Python.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

import registry

SALT = "pzforge-download"


class Links:
    def __init__(self, key: bytes, ttl_s: int, cache: Path):
        self.serializer = URLSafeTimedSerializer(key, salt=SALT)
        self.ttl_s = ttl_s
        self.cache = cache

    def make(self, product: registry.ProductInfo, user: str) -> tuple[str, str]:
        """(signed token, expiry time ISO 8601)."""
        token = self.serializer.dumps({"p": product.id, "u": user})
        expires = datetime.now(UTC) + timedelta(seconds=self.ttl_s)
        return token, expires.isoformat(timespec="seconds")

    def read(self, token: str) -> tuple[int, str] | None:
        """(product id, user) of a valid link; None when tampered with or expired."""
        try:
            data = self.serializer.loads(token, max_age=self.ttl_s)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("p"), int):
            return None
        return data["p"], str(data.get("u", ""))

    def zip_for(
        self, reg: registry.Registry, product_id: int
    ) -> tuple[Path, registry.ProductDetail]:
        """The product's zip, built if this state of it has none yet (verified either way)."""
        detail = reg.get_product(product_id)
        state = "|".join(
            [detail.updated_at.isoformat(), *(f.checksum for f in detail.files)]
        ).encode()
        path = self.cache / f"{detail.id:08d}-{hashlib.sha256(state).hexdigest()[:16]}.zip"
        if path.is_file():
            reg.verify(detail.id)  # the cheap check: sizes and times as registered
            return path, detail
        tmp = self.cache / f"building-{uuid.uuid4()}.zip"
        try:
            reg.download(detail.id, tmp, public=True)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        for old in self.cache.glob(f"{detail.id:08d}-*.zip"):  # earlier states of it
            if old != path:
                old.unlink(missing_ok=True)
        return path, detail
