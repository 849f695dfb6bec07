"""The Python client of a pzforge site, with the verbs pzserver users already type.

```python
from pzforge.client import PzClient

pz = PzClient("https://pz.example.org", token="pzf_...")   # or PZFORGE_URL / PZFORGE_TOKEN
pz.display_products_list({"product_type": "Reference Redshift Catalog"})
df = pz.get_product("12_my_specz")                  # a pandas DataFrame
pz.download_product(12, save_in="downloads/")       # the zip, through a signed link
pz.upload("my specz", "Reference Redshift Catalog", "specz.parquet")
csc = pz.combine_redshift_catalogs("my_combination")
csc.append_catalog(12, columns={"ra": "RA", "dec": "DEC", "z": "redshift"}, survey="DESI")
csc.run_and_wait()                                  # live progress, then the products made
```

Every call sends the token in the ``Authorization`` header (never in a URL) and turns the
site's errors into :class:`PzClientError` with its message (and every problem, when a config
had several). ``RemoteRegistry`` gives the CLI the registry's calls over the API, so
``pzforge products`` and ``pzforge provenance`` talk to a site when PZFORGE_URL and
PZFORGE_TOKEN are set.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from pzforge.errors import PzforgeError
from pzforge.server.models import API_PREFIX
from registry.records import ColumnSpec, FileInfo, ProductDetail, ProductInfo

URL_ENV = "PZFORGE_URL"
TOKEN_ENV = "PZFORGE_TOKEN"
PAGE = 500
FINAL = ("success", "failed", "cancelled", "interrupted")
FILTER_KEYS = {
    "product_type": "product_type",
    "type": "product_type",
    "release": "release",
    "name": "name",
    "owner": "owner",
    "user": "owner",
    "official": "official",
    "created_after": "created_after",
    "created_before": "created_before",
}


class PzClientError(PzforgeError):
    """The site refused a request; ``status`` is the HTTP status, ``problems`` every problem."""

    def __init__(self, message: str, status: int | None = None, problems: list[str] = ()):
        super().__init__(message)
        self.status = status
        self.problems = list(problems) or [message]


def _display(df, title: str | None = None):
    """Show a table in a notebook (or print it), and return it."""
    try:
        from IPython.display import display  # noqa: PLC0415 - notebooks only

        if title:
            print(title)
        display(df)
    except ImportError:
        if title:
            print(title)
        print(df.to_string())
    return df


class PzClient:
    """A session with a pzforge site, as one user (their API token)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ):
        url = url or os.environ.get(URL_ENV)
        token = token or os.environ.get(TOKEN_ENV)
        if not url:
            raise PzClientError(f"give the site's URL (or set {URL_ENV})")
        if not token:
            raise PzClientError(f"give your API token (or set {TOKEN_ENV}); make one on the site")
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url + API_PREFIX,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "pzforge-client"},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:  # never shows the token
        return f"PzClient({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PzClient:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise PzClientError(f"cannot reach {self.url}: {exc}") from exc
        if response.status_code >= 400:
            detail, problems = response.text, []
            try:
                body = response.json()
                detail = body.get("detail", detail)
                problems = body.get("problems") or []
            except ValueError:
                pass
            raise PzClientError(f"{response.status_code}: {detail}", response.status_code, problems)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    @staticmethod
    def _ref(product_id: int | str) -> str:
        from urllib.parse import quote

        return quote(str(product_id), safe="")

    # --- what the site has ------------------------------------------------------------------------

    def get_product_types(self) -> list[dict[str, Any]]:
        """The product types and what each is."""
        return self._json("GET", "/product-types")

    def display_product_types(self):
        import pandas as pd

        rows = self.get_product_types()
        return _display(pd.DataFrame(rows, columns=["name", "description", "tabular"]))

    def get_releases(self) -> list[dict[str, Any]]:
        return self._json("GET", "/releases")

    def display_releases(self):
        import pandas as pd

        return _display(pd.DataFrame(self.get_releases(), columns=["name", "description"]))

    def get_users(self) -> list[dict[str, Any]]:
        return self._json("GET", "/users")

    def display_users(self):
        import pandas as pd

        return _display(pd.DataFrame(self.get_users(), columns=["name", "display_name"]))

    def whoami(self) -> dict[str, Any]:
        return self._json("GET", "/me")

    # --- products -----------------------------------------------------------------------------

    def iter_products(self, **query: Any) -> Iterator[dict[str, Any]]:
        """Every product matching the query, page after page."""
        offset = 0
        while True:
            page = self._json("GET", "/products", params={**query, "limit": PAGE, "offset": offset})
            yield from page["results"]
            offset += len(page["results"])
            if not page["results"] or offset >= page["count"]:
                return

    def get_products_list(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: str = "id",
        desc: bool = False,
    ) -> list[dict[str, Any]]:
        """Products you can read; ``filters``: product_type, release, name (substring), owner,
        official, created_after, created_before - a value or a list of values (any of them)."""
        queries: list[dict[str, Any]] = [{"sort": sort, "desc": desc}]
        for key, value in (filters or {}).items():
            if key not in FILTER_KEYS:
                raise PzClientError(f"unknown filter {key!r}; filters: {', '.join(FILTER_KEYS)}")
            values = value if isinstance(value, (list, tuple, set)) else [value]
            queries = [q | {FILTER_KEYS[key]: _query_value(v)} for q in queries for v in values]
        seen: dict[int, dict[str, Any]] = {}
        for q in queries:
            for p in self.iter_products(**q):
                seen.setdefault(p["id"], p)
        rows = list(seen.values())
        if len(queries) > 1:
            rows.sort(key=lambda p: p.get({"type": "product_type"}.get(sort, sort)), reverse=desc)
        return rows

    def display_products_list(self, filters: Mapping[str, Any] | None = None):
        import pandas as pd

        columns = ["id", "internal_name", "product_type", "release", "owner", "official",
                   "created_at"]  # fmt: skip
        return _display(pd.DataFrame(self.get_products_list(filters), columns=columns))

    def get_product_metadata(self, product_id: int | str) -> dict[str, Any]:
        """Metadata, files with checksums, columns with UCDs, versions and lineage."""
        return self._json("GET", f"/products/{self._ref(product_id)}")

    def display_product_metadata(self, product_id: int | str):
        import pandas as pd

        meta = self.get_product_metadata(product_id)
        shown = {k: v for k, v in meta.items() if not isinstance(v, (list, dict))}
        _display(pd.DataFrame({"key": list(shown), "value": list(shown.values())}))
        if meta["columns"]:
            _display(pd.DataFrame(meta["columns"]), "columns")
        return meta

    def download_link(self, product_id: int | str) -> dict[str, str]:
        """A signed link to the product's zip, valid for a few minutes (no token needed)."""
        return self._json("POST", f"/products/{self._ref(product_id)}/download-link")

    def download_product(self, product_id: int | str, save_in: str | Path = ".") -> Path:
        """Download the product as a zip (every file, metadata.json, PROV-JSON) into
        ``save_in``; written atomically. Returns the zip's path."""
        link = self.download_link(product_id)
        folder = Path(save_in)
        folder.mkdir(parents=True, exist_ok=True)
        with httpx.stream("GET", link["url"], timeout=self._http.timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise PzClientError(
                    f"{response.status_code}: {response.text}", response.status_code
                )
            name = _filename(response.headers.get("content-disposition")) or f"{product_id}.zip"
            target = folder / Path(name).name
            tmp = target.with_name(f".{target.name}.part")
            with open(tmp, "wb") as fh:
                for chunk in response.iter_bytes(1024 * 1024):
                    fh.write(chunk)
            tmp.replace(target)
        return target

    def get_product(self, product_id: int | str, *, limit: int | None = None):
        """A tabular product's main table as a pandas DataFrame (``limit``: its first rows)."""
        import io

        import pandas as pd

        params: dict[str, Any] = {"format": "parquet"}
        if limit:
            params["limit"] = limit
        data = self.request("GET", f"/products/{self._ref(product_id)}/data", params=params)
        return pd.read_parquet(io.BytesIO(data.content))

    def upload(
        self,
        name: str,
        product_type: str,
        main_file: str | Path,
        release: str | None = None,
        pz_code: str | None = None,  # noqa: ARG002 - pzserver's argument, unused here
        auxiliary_files: list[str | Path] | None = None,
        description: str | None = None,
        *,
        columns: Mapping[str, str] | list[dict[str, str]] | None = None,
        suggest_columns: bool = True,
    ) -> dict[str, Any]:
        """Upload files as a new product (streamed). ``columns``: role -> column name (or a list
        of ``{"name", "role", "ucd", "unit"}``); ``suggest_columns``: roles not given are
        associated from the column names (``ra``, ``dec``, ``z``...)."""
        import json

        fields = {
            "name": name,
            "product_type": product_type,
            "description": description or "",
            "suggest_columns": "true" if suggest_columns else "false",
        }
        if release:
            fields["release"] = release
        if columns:
            fields["columns"] = json.dumps(
                [{"role": r, "name": c} for r, c in columns.items()]
                if isinstance(columns, Mapping)
                else list(columns)
            )
        paths = [Path(main_file), *(Path(p) for p in auxiliary_files or [])]
        handles = [open(p, "rb") for p in paths]  # noqa: SIM115 - closed below
        try:
            files = [("main_file", (paths[0].name, handles[0]))]
            files += [
                ("aux_files", (p.name, h)) for p, h in zip(paths[1:], handles[1:], strict=True)
            ]
            return self._json("POST", "/products", data=fields, files=files)
        finally:
            for h in handles:
                h.close()

    def update_product(self, product_id: int | str, **changes: str | None) -> dict[str, Any]:
        """Change description, release or name (yours, or as an admin)."""
        return self._json("PATCH", f"/products/{self._ref(product_id)}", json=changes)

    def delete_product(self, product_id: int | str) -> None:
        self.request("DELETE", f"/products/{self._ref(product_id)}")

    def set_official(self, product_id: int | str, official: bool = True) -> dict[str, Any]:
        return self._json(
            "PUT", f"/products/{self._ref(product_id)}/official", json={"official": official}
        )

    # --- provenance ---------------------------------------------------------------------------

    def get_provenance(self, product_id: int | str) -> dict[str, Any]:
        return self._json("GET", f"/provenance/products/{self._ref(product_id)}")

    def get_prov_json(self, product_id: int | str) -> dict[str, Any]:
        return self._json("GET", f"/provenance/products/{self._ref(product_id)}/prov-json")

    def get_ro_crate(self, product_id: int | str) -> dict[str, Any]:
        return self._json("GET", f"/provenance/products/{self._ref(product_id)}/ro-crate")

    def check_product(self, product_id: int | str) -> dict[str, Any]:
        return self._json("POST", f"/provenance/products/{self._ref(product_id)}/check")

    # --- pipelines ----------------------------------------------------------------------------

    def get_pipelines(self) -> list[dict[str, Any]]:
        return self._json("GET", "/pipelines")

    def pipeline(
        self, name: str, config: Mapping[str, Any] | None = None, profile: str | None = None
    ) -> Pipeline:
        """A pipeline to configure and run on the site."""
        return Pipeline(self, name, config, profile)

    def combine_redshift_catalogs(self, name: str, profile: str | None = None) -> Pipeline:
        """Combine Redshift Catalogs, its output named ``name``; add inputs with
        :meth:`Pipeline.append_catalog`."""
        return Pipeline(self, "combine_redshift", {"run_name": name, "catalogs": []}, profile)

    def training_set_maker(self, name: str, profile: str | None = None) -> Pipeline:
        return Pipeline(self, "training_set", {"run_name": name}, profile)

    def submit_run(
        self, pipeline: str, config: Mapping[str, Any], profile: str | None = None
    ) -> Run:
        body = {"pipeline": pipeline, "config": dict(config), "profile": profile}
        return Run(self, self._json("POST", "/runs", json=body))

    def get_run(self, run_id: str) -> Run:
        return Run(self, self._json("GET", f"/runs/{self._ref(run_id)}"))

    # --- external analysis services --------------------------------------------------------------

    def get_analysis_services(self) -> list[dict[str, Any]]:
        """The analysis services you may use (never their credentials)."""
        return self._json("GET", "/analysis-services")

    def register_analysis_service(self, name: str, **fields: Any) -> dict[str, Any]:
        """Register a service (admins): url, auth_type, credentials, columns, parameters (a
        JSON Schema), timeout_s, input_types, groups, upload_only, is_summary..."""
        return self._json("POST", "/analysis-services", json={"name": name, **fields})

    def update_analysis_service(self, name: str, **changes: Any) -> dict[str, Any]:
        return self._json("PATCH", f"/analysis-services/{self._ref(name)}", json=changes)

    def delete_analysis_service(self, name: str) -> None:
        self.request("DELETE", f"/analysis-services/{self._ref(name)}")

    def start_analysis(
        self, product_id: int | str, service: str, parameters: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Start an analysis of a product (upload-only services: the answer's callback_url)."""
        body = {"service": service, "parameters": dict(parameters or {})}
        return self._json("POST", f"/products/{self._ref(product_id)}/analyses", json=body)

    def get_analysis(self, analysis_id: int) -> dict[str, Any]:
        return self._json("GET", f"/analyses/{int(analysis_id)}")

    def get_analyses(self, product_id: int | str | None = None, **query: Any) -> list[dict]:
        """A product's analyses (or yours); query: service, status."""
        path = f"/products/{self._ref(product_id)}/analyses" if product_id else "/analyses"
        return self._json("GET", path, params={k: v for k, v in query.items() if v})

    def cancel_analysis(self, analysis_id: int) -> dict[str, Any]:
        return self._json("POST", f"/analyses/{int(analysis_id)}/cancel")

    def wait_analysis(
        self, analysis_id: int, timeout: float | None = None, poll_s: float = 1.0
    ) -> dict[str, Any]:
        """Poll an analysis until it is no longer pending or received."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.get_analysis(analysis_id)
            if info["status"] not in ("pending", "received"):
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise PzClientError(f"analysis {analysis_id} is still {info['status']}")
            time.sleep(poll_s)

    def get_product_summary(self, product_id: int | str) -> dict[str, Any]:
        return self._json("GET", f"/products/{self._ref(product_id)}/summary")

    # --- embeddings (hydro-vis's tasks) -----------------------------------------------------------

    def embed(
        self,
        product_id: int | str,
        params: Mapping[str, Any] | None = None,
        production: int | str | None = None,
        profile: str | None = None,
    ) -> dict[str, Any]:
        """Submit an embedding task (run with ``profile``: local or slurm, default the site's
        first); returns it (``task_id``, ``state``)."""
        body: dict[str, Any] = {"product": product_id, "profile": profile}
        if params is not None:
            body["params"] = dict(params)
        if production is not None:
            body["production"] = production
        return self._json("POST", "/embeddings", json=body)

    def get_embedding(self, task_id: str) -> dict[str, Any]:
        return self._json("GET", f"/embeddings/{self._ref(task_id)}")

    def wait_embedding(
        self, task_id: str, timeout: float | None = None, poll_s: float = 1.0
    ) -> dict[str, Any]:
        """Poll a task until SUCCESS or FAILURE."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.get_embedding(task_id)
            if info["state"] in ("SUCCESS", "FAILURE"):
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise PzClientError(f"embedding task {task_id} is still {info['state']}")
            time.sleep(poll_s)

    def get_embedding_params(self, product_id: int | str) -> dict[str, Any]:
        return self._json("GET", f"/products/{self._ref(product_id)}/embedding-params")

    def set_embedding_params(
        self, product_id: int | str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        path = f"/products/{self._ref(product_id)}/embedding-params"
        return self._json("POST", path, json=dict(params))

    def embedding_supported(self, product_id: int | str) -> dict[str, Any]:
        return self._json("GET", f"/products/{self._ref(product_id)}/embedding-supported")


class Run:
    """A run on the site: its state, progress, log, and the products it made."""

    def __init__(self, client: PzClient, info: dict[str, Any]):
        self.client = client
        self.info = info

    @property
    def id(self) -> str:
        return self.info["id"]

    @property
    def state(self) -> str:
        return self.info["state"]

    @property
    def products(self) -> list[dict[str, Any]]:
        return self.info.get("products") or []

    def __repr__(self) -> str:
        return f"Run({self.id!r}, {self.state})"

    def refresh(self) -> dict[str, Any]:
        self.info = self.client._json("GET", f"/runs/{self.id}")
        return self.info

    check_status = refresh

    def log(self, lines: int = 200) -> str:
        return self.client.request("GET", f"/runs/{self.id}/log", params={"lines": lines}).text

    def cancel(self) -> dict[str, Any]:
        self.info = self.client._json("POST", f"/runs/{self.id}/cancel")
        return self.info

    stop = cancel

    def wait(
        self, timeout: float | None = None, poll_s: float = 2.0, progress: bool = True
    ) -> dict[str, Any]:
        """Poll until the run ends (or ``timeout`` seconds); prints progress when it changes."""
        start, last = time.monotonic(), None
        while True:
            info = self.refresh()
            line = _progress_line(info)
            if progress and line != last:
                print(line, file=sys.stderr, flush=True)
                last = line
            if info["state"] in FINAL:
                return info
            if timeout is not None and time.monotonic() - start > timeout:
                raise PzClientError(f"run {self.id} still {info['state']} after {timeout:.0f} s")
            time.sleep(poll_s)


class Pipeline:
    """A pipeline with its config, as pzserver's process objects: ``run()``, ``wait()``,
    ``run_and_wait()``."""

    def __init__(
        self,
        client: PzClient,
        name: str,
        config: Mapping[str, Any] | None = None,
        profile: str | None = None,
    ):
        self.client, self.name, self.profile = client, name, profile
        self.config: dict[str, Any] = copy.deepcopy(dict(config or {}))
        self.current: Run | None = None

    def set_config(self, config: Mapping[str, Any]) -> None:
        """Merge keys into the config (nested sections merge)."""
        from pzforge.config.loading import deep_merge

        self.config = deep_merge(self.config, config)

    def append_catalog(
        self,
        product: int | str,
        *,
        columns: Mapping[str, str],
        survey: str | None = None,
        survey_column: str | None = None,
        name: str | None = None,
        **extra: Any,
    ) -> None:
        """Add a registry product as an input catalog (Combine Redshift Catalogs)."""
        catalogs = self.config.setdefault("catalogs", [])
        entry: dict[str, Any] = {
            "name": name or f"cat{len(catalogs) + 1}",
            "product": product,
            "columns": dict(columns),
            **extra,
        }
        if survey is not None:
            entry["survey"] = {"value": survey}
        elif survey_column is not None:
            entry["survey"] = {"column": survey_column}
        catalogs.append(entry)

    def run(self) -> Run:
        """Submit the run (the site checks the config first and lists every problem)."""
        self.current = self.client.submit_run(self.name, self.config, self.profile)
        return self.current

    def wait(self, timeout: float | None = None, poll_s: float = 2.0, progress: bool = True):
        if self.current is None:
            raise PzClientError("nothing submitted yet: call run() first")
        return self.current.wait(timeout, poll_s, progress)

    def run_and_wait(
        self, timeout: float | None = None, poll_s: float = 2.0, progress: bool = True
    ) -> dict[str, Any]:
        self.run()
        return self.wait(timeout, poll_s, progress)

    def check_status(self) -> dict[str, Any]:
        if self.current is None:
            raise PzClientError("nothing submitted yet: call run() first")
        return self.current.refresh()

    def stop(self) -> dict[str, Any]:
        if self.current is None:
            raise PzClientError("nothing submitted yet: call run() first")
        return self.current.cancel()


def _progress_line(info: dict[str, Any]) -> str:
    p = info.get("progress") or {}
    total = p.get("total")
    text = f"run {info['id'][:8]} {info['state']}"
    if info.get("elapsed_s") is not None:
        text += f" [{info['elapsed_s']:.0f}s]"
    if p:
        text += f" {p.get('done', 0)}/{total if total is not None else '?'} jobs done"
        if p.get("running"):
            text += f"; running: {', '.join(p['running'])}"
    if info.get("error"):
        text += f"; {info['error']}"
    return text


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _filename(disposition: str | None) -> str | None:
    if not disposition or "filename=" not in disposition:
        return None
    return disposition.split("filename=", 1)[1].strip().strip('"') or None


# --- the CLI's registry, over the API -----------------------------------------------------------


def _info(d: dict[str, Any]) -> ProductInfo:
    fields = {k: d[k] for k in ProductInfo.__dataclass_fields__ if k in d}
    fields["created_at"] = datetime.fromisoformat(d["created_at"])
    fields["updated_at"] = datetime.fromisoformat(d["updated_at"])
    return ProductInfo(**fields)


class RemoteRegistry:
    """The registry calls ``pzforge products`` and ``pzforge provenance`` make, answered by a
    site: the same records as a local :class:`registry.Registry` (where files are on the server
    is not shown)."""

    remote = True

    def __init__(self, client: PzClient):
        self.client = client
        self.url = client.url

    @property
    def user(self) -> str:
        return self.client.whoami()["name"]

    def product_types(self) -> list[dict[str, Any]]:
        return self.client.get_product_types()

    def releases(self) -> list[dict[str, Any]]:
        return self.client.get_releases()

    def add_release(self, name: str, description: str = "") -> None:
        self.client._json("POST", "/releases", json={"name": name, "description": description})

    def list_products(self, *, order_by: str = "id", descending: bool = False,
                      limit: int | None = None, **filters: Any) -> list[ProductInfo]:  # fmt: skip
        query = {k: _query_value(v) for k, v in filters.items() if v is not None}
        rows = []
        for p in self.client.iter_products(sort=order_by, desc=descending, **query):
            rows.append(_info(p))
            if limit and len(rows) >= limit:
                break
        return rows

    def get_product(self, ref: int | str) -> ProductDetail:
        d = _registry_error(self.client.get_product_metadata, ref)
        files = [FileInfo(path="", copied=True, source_path=None, **f) for f in d["files"]]
        columns = [ColumnSpec(**c) for c in d["columns"]]
        return ProductDetail(
            **vars(_info(d)), files=files, columns=columns, superseded_by=d["superseded_by"]
        )

    def upload(self, name, product_type, main_file, *, aux_files=(), description="",
               columns=(), release=None, **_ignored) -> ProductInfo:  # fmt: skip
        cols = [{"name": c.name, "role": c.role, "ucd": c.ucd, "unit": c.unit} for c in columns]
        return _info(
            self.client.upload(
                name,
                product_type,
                main_file,
                release=release,
                auxiliary_files=list(aux_files),
                description=description,
                columns=cols,
                suggest_columns=False,
            )
        )

    def download(self, ref: int | str, destination: Path, *, verify_full: bool = False) -> Path:
        destination = Path(destination)
        folder = destination if destination.is_dir() else destination.parent
        path = self.client.download_product(ref, save_in=folder)
        if not destination.is_dir() and path != destination:
            path.replace(destination)
            path = destination
        return path

    def get_dataframe(self, ref: int | str, *, verify_full: bool = False):
        return self.client.get_product(ref)

    def update(self, ref, *, description=None, release=None, name=None) -> ProductInfo:
        changes = {"description": description, "release": release, "name": name}
        return _info(
            self.client.update_product(ref, **{k: v for k, v in changes.items() if v is not None})
        )

    def delete(self, ref: int | str) -> None:
        self.client.delete_product(ref)

    def set_official(self, ref: int | str, official: bool = True) -> ProductInfo:
        return _info(self.client.set_official(ref, official))

    def list_runs(self, pipeline: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        params = {"limit": limit} | ({"pipeline": pipeline} if pipeline else {})
        return self.client._json("GET", "/provenance/runs", params=params)

    def get_run(self, run_id: str) -> dict[str, Any]:
        return _registry_error(
            self.client._json, "GET", f"/provenance/runs/{self.client._ref(run_id)}"
        )

    def product_provenance(self, ref: int | str) -> dict[str, Any]:
        return self.client.get_provenance(ref)

    def upstream(self, ref: int | str) -> list[dict[str, Any]]:
        return self.client.get_product_metadata(ref)["upstream"]

    def downstream(self, ref: int | str) -> list[dict[str, Any]]:
        return self.client.get_product_metadata(ref)["downstream"]

    def check_product(self, ref: int | str) -> list[dict[str, Any]]:
        files = self.client.check_product(ref)["files"]
        return [f | {"path": f.get("product", "")} for f in files]

    def report_html(self, run_id: str) -> str:
        return self.client.request(
            "GET", f"/provenance/runs/{self.client._ref(run_id)}/report"
        ).text

    def prov_json_text(self, kind: str, ref: str) -> str:
        where = "runs" if kind == "run" else "products"
        return self.client.request(
            "GET", f"/provenance/{where}/{self.client._ref(ref)}/prov-json"
        ).text

    def ro_crate_metadata(self, kind: str, ref: str) -> dict[str, Any]:
        where = "runs" if kind == "run" else "products"
        return self.client._json("GET", f"/provenance/{where}/{self.client._ref(ref)}/ro-crate")

    def diff(self, run_a: str, run_b: str) -> dict[str, Any]:
        return self.client._json("GET", "/provenance/diff", params={"run_a": run_a, "run_b": run_b})


def _registry_error(call, *args: Any) -> Any:
    """A site's 404/403 as the registry's own NotFound/PermissionDenied (the CLI reads those)."""
    from registry import NotFound, PermissionDenied

    try:
        return call(*args)
    except PzClientError as exc:
        if exc.status == 404:
            raise NotFound(str(exc)) from None
        if exc.status == 403:
            raise PermissionDenied(str(exc)) from None
        raise


def remote_registry_from_env() -> RemoteRegistry | None:
    """The site named by PZFORGE_URL and PZFORGE_TOKEN, when both are set."""
    if os.environ.get(URL_ENV) and os.environ.get(TOKEN_ENV):
        return RemoteRegistry(PzClient())
    return None
