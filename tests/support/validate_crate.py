"""Run rocrate-validator on a crate without network access (CI machines have none).

The validator fetches the RO-Crate JSON-LD context from w3id.org. We serve it from local copies
through a requests transport adapter, so every check still runs: 1.1's from tests/data (the file
rocrate 0.13.0 shipped as rocrate/data/ro-crate.jsonld), 1.3's from the installed rocrate. Usage:

    python tests/support/validate_crate.py CRATE/ro-crate-metadata.json PROFILE [SEVERITY]

prints the JSON report (a detached crate is a standalone metadata file).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import rocrate
from requests.adapters import BaseAdapter, HTTPAdapter
from rocrate_validator.utils.http import HttpRequester
from urllib3 import HTTPResponse

CONTEXTS = {
    "https://w3id.org/ro/crate/1.1/context": Path(__file__).parents[1]
    / "data"
    / "ro-crate-1.1-context.jsonld",
    "https://w3id.org/ro/crate/1.3/context": Path(rocrate.__file__).parent
    / "data"
    / "ro-crate.jsonld",
}


class LocalContext(BaseAdapter):
    """Answers https://w3id.org/ro/crate/... with the shipped context document."""

    def send(self, request, **kwargs):
        path = CONTEXTS.get(request.url.rstrip("/"))
        if path is None:
            raise ConnectionError(f"no local copy of {request.url} (the tests run offline)")
        raw = HTTPResponse(
            body=io.BytesIO(path.read_bytes()),
            headers={"Content-Type": "application/ld+json"},
            status=200,
            preload_content=False,
            request_url=request.url,
        )
        return HTTPAdapter().build_response(request, raw)  # a real response, cacheable

    def close(self) -> None:
        pass


def _with_local_context(init):
    """The validator (re)builds its HTTP session at start-up: mount the adapter every time."""

    def wrapped(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.session.mount("https://w3id.org/ro/crate/", LocalContext())

    return wrapped


def main(crate: str, profile: str, severity: str = "required") -> int:
    from rocrate_validator.cli.main import cli

    HttpRequester.__initialize_session__ = _with_local_context(HttpRequester.__initialize_session__)
    sys.argv = [
        "rocrate-validator", "-y", "--disable-color", "validate", "--no-cache", "-p", profile,
        "--packaging-mode", "detached", "--metadata-only", "-l", severity, "-f", "json", crate,
    ]  # fmt: skip
    return cli()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
