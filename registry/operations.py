"""Upload, verify, read, download, edit and delete products: the Registry's second half.

Reads verify before they serve: a cheap size/mtime check every time, the full sha256 when
asked or when those differ; data whose checksum no longer matches is refused, never served.
Only the registry's own stored files are ever deleted.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from registry import formats, hashing, names
from registry.errors import IntegrityProblem, PermissionDenied, ValidationError
from registry.models import Product, ProductFile, utcnow
from registry.records import ColumnSpec, ProductInfo, product_info

if TYPE_CHECKING:
    from registry.store import Registry

UPLOAD_FORMATS = ("csv", "fits", "hdf5", "parquet")
NUMERIC_ROLES = {"ra", "dec", "z", "z_err", "magnitude", "flux", "error"}


def _is_numeric(series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series)) and not pd.api.types.is_bool_dtype(series)


class ProductOperations:
    """Mixed into ``registry.Registry``."""

    # --- upload -----------------------------------------------------------------------------

    def upload(
        self: Registry,
        name: str,
        product_type: str,
        main_file: Path,
        *,
        aux_files: Sequence[Path] = (),
        description: str = "",
        columns: Sequence[ColumnSpec] = (),
        release: str | None = None,
        limit_bytes: int | None = None,
    ) -> ProductInfo:
        """Copy files into the registry's storage and register them; all or nothing.

        Symbolic links are refused (an upload of a link to a system file would publish it).
        The copies are staged under the storage root and moved into place inside the database
        transaction; an interrupted upload leaves a staging folder its next upload removes.
        """
        limit = self.upload_limit if limit_bytes is None else limit_bytes
        paths = [Path(main_file), *map(Path, aux_files)]
        for p in paths:
            if p.is_symlink():
                raise ValidationError(f"{p} is a symbolic link; upload the file itself")
            if not p.exists():
                raise ValidationError(f"file {p} does not exist")
            if p.is_dir():
                raise ValidationError(f"{p} is a directory; upload files (tabular: one file)")
        total = sum(p.stat().st_size for p in paths)
        if total > limit:
            raise ValidationError(
                f"upload of {total / 2**20:.1f} MB is over the limit of {limit / 2**20:.0f} MB; "
                "ask the site to register it, or raise PZFORGE_UPLOAD_LIMIT_MB"
            )
        fmt = formats.format_of(paths[0]) or "other"
        with self.session(readonly=True) as s:
            tabular = self._type(s, product_type).tabular
        if tabular and fmt not in UPLOAD_FORMATS:
            raise ValidationError(
                f"{product_type} uploads must be CSV, FITS, HDF5 or Parquet (got {paths[0].name})"
            )
        self._validate_table(ptype_name=product_type, path=paths[0], fmt=fmt, columns=columns)
        return self.register_product(
            name,
            product_type,
            paths[0],
            aux_files=paths[1:],
            description=description,
            columns=columns,
            release=release,
            store=True,
            store_mode="copy",  # never link a user's own file: they may change it later
        )

    def _validate_table(
        self: Registry, *, ptype_name: str, path: Path, fmt: str, columns: Sequence[ColumnSpec]
    ) -> None:
        """Numeric where it must be: ra, dec, z, z_err, magnitudes, fluxes and errors."""
        with self.session(readonly=True) as s:
            ptype = self._type(s, ptype_name)
            self._check_columns(ptype, path, fmt, columns)
            tabular = ptype.tabular
        wanted = [c for c in columns if c.role in NUMERIC_ROLES] if tabular else []
        if not wanted:
            return
        df = formats.read_table(path, fmt, [c.name for c in wanted])
        for c in wanted:
            if not _is_numeric(df[c.name]):
                raise ValidationError(
                    f"column {c.name!r} (role {c.role}) of {path.name} is not numeric"
                )

    # --- verify and read --------------------------------------------------------------------

    def verify(
        self: Registry, ref: int | str, *, full: bool = False, roles: Sequence[str] | None = None
    ) -> None:
        """Refuse (IntegrityProblem) a product whose files are missing or changed on disk.

        Every call compares sizes and modification times with what was registered; the sha256 is
        computed again when they differ, or always with ``full``.
        """
        problems = [r for r in self.check_files(ref, full=full, roles=roles) if not r["ok"]]
        if problems:
            p = problems[0]
            raise IntegrityProblem(
                f"product {p['product']}: {p['role']} file {p['path']} {p['problem']}; it is not "
                "served (`pzforge provenance check` lists every file; an admin can restore it "
                "from a backup or delete the product)"
            )

    def check_files(
        self: Registry, ref: int | str, *, full: bool = True, roles: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """One entry per file: ``ok`` and, if not, the ``problem`` (missing, changed)."""
        with self.session(readonly=True) as s:
            p = self._product(s, ref)
            files = [
                (
                    p.internal_name,
                    f.role,
                    self.file_path(f),
                    f.checksum,
                    f.size,
                    f.mtime_ns,
                    {m.relpath: (m.size, m.mtime_ns) for m in f.members},
                )
                for f in p.files
                if roles is None or f.role in roles
            ]
        out = []
        for internal, role, path, checksum, size, mtime, members in files:
            entry = {
                "product": internal,
                "role": role,
                "path": str(path),
                "registered_checksum": checksum,
                "ok": True,
            }
            if not path.exists():
                entry |= {"ok": False, "problem": "is missing"}
            elif full or not _looks_unchanged(path, size, mtime, members):
                entry["checksum"] = hashing.checksum_path(path)
                if entry["checksum"] != checksum:
                    entry |= {"ok": False, "problem": "changed since registration (sha256 differs)"}
            out.append(entry)
        return out

    def get_dataframe(self: Registry, ref: int | str, *, verify_full: bool = False):
        """The main file of a tabular product as a pandas DataFrame (verified first)."""
        detail = self.get_product(ref)
        main = next(f for f in detail.files if f.role == "main")
        if main.format not in formats.TABULAR:
            raise ValidationError(f"product {detail.internal_name} is not tabular ({main.format})")
        self.verify(detail.id, full=verify_full, roles=("main",))
        return formats.read_table(Path(main.path), main.format)

    def download(
        self: Registry,
        ref: int | str,
        destination: Path,
        *,
        verify_full: bool = False,
        public: bool = False,
    ) -> Path:
        """A .zip with every file of the product (HATS catalogs as folders), metadata.json and
        its provenance as PROV-JSON (provenance.prov.json); written atomically, verified first.
        ``public``: metadata.json leaves out where the files are on this machine (a server)."""
        detail = self.get_product(ref)
        destination = Path(destination)
        if destination.is_dir():
            destination = destination / f"{detail.internal_name}.zip"
        if not destination.parent.is_dir():
            raise ValidationError(
                f"cannot write {destination}: the folder {destination.parent} does not exist"
            )
        self.verify(detail.id, full=verify_full)
        tmp = destination.with_name(f".{destination.name}.part")
        try:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                used: set[str] = set()
                for f in detail.files:
                    src = Path(f.path)
                    label = _unique(names.file_label(f.name or src.name), used)
                    if src.is_dir():
                        for member in sorted(src.rglob("*")):
                            if member.is_file() and member.name not in hashing.IGNORED:
                                zf.write(member, f"{label}/{member.relative_to(src).as_posix()}")
                    else:
                        zf.write(src, label)
                meta = detail.to_dict()
                meta["files"] = [asdict(f) for f in detail.files]
                if public:
                    for f in meta["files"]:
                        f.pop("path", None)
                        f.pop("source_path", None)
                meta["columns"] = [asdict(c) for c in detail.columns]
                zf.writestr("metadata.json", json.dumps(meta, indent=2, default=str))
                zf.writestr("provenance.prov.json", self.export_prov_json([detail.id]))
            tmp.replace(destination)
        finally:
            tmp.unlink(missing_ok=True)
        return destination

    # --- edit -------------------------------------------------------------------------------

    def _may_edit(self: Registry, product: Product) -> None:
        if self.user is None:
            raise PermissionDenied("no acting user: open the registry with user=... to edit")
        if product.owner != self.user and not self.is_admin:
            raise PermissionDenied(
                f"{self.user} may not change {product.internal_name}: only its owner "
                f"({product.owner}) or an admin can"
            )

    def may_edit(self: Registry, ref: int | str) -> bool:
        """Whether the acting user may edit or delete a product (its owner or an admin); the
        same rule ``update`` and ``delete`` enforce, asked before showing a form."""
        with self.session(readonly=True) as s:
            p = self._product(s, ref)
            try:
                self._may_edit(p)
            except PermissionDenied:
                return False
            return True

    def update(
        self: Registry,
        ref: int | str,
        *,
        description: str | None = None,
        release: str | None = None,
        name: str | None = None,
    ) -> ProductInfo:
        """Change metadata (owner or admin). Renaming keeps the internal name stable."""
        with self.session() as s:
            p = self._product(s, ref)
            self._may_edit(p)
            if description is not None:
                p.description = description
            if release is not None:
                p.release = self._release(s, release)
                self._check_release_open(s, p.release)
            if name is not None:
                p.name = names.check_name(name)
            p.updated_at = utcnow()
            s.flush()
            return product_info(p, self._version(s, p))

    def set_official(self: Registry, ref: int | str, official: bool = True) -> ProductInfo:
        if not self.is_admin:
            raise PermissionDenied(
                f"only admins may mark products official; {self.user or 'nobody'} is not one"
            )
        with self.session() as s:
            p = self._product(s, ref)
            p.official = official
            p.updated_at = utcnow()
            s.flush()
            return product_info(p, self._version(s, p))

    def delete(self: Registry, ref: int | str) -> None:
        """Delete a product (owner or admin). Files the registry stored for it are removed (only
        inside its own folder of the store: checked); referenced files are never touched."""
        with self.session() as s:
            p = self._product(s, ref)
            self._may_edit(p)
            pid = p.id
            owned = [
                self.file_path(f)
                for f in p.files
                if f.copied and self.storage.owns(self.file_path(f), pid)
            ]
            for newer in s.scalars(select(Product).where(Product.supersedes_id == p.id)):
                newer.supersedes_id = p.supersedes_id  # keep the version chain connected
            s.delete(p)
        if owned:
            self.storage.remove_product(pid)

    # --- storage health ---------------------------------------------------------------------

    def check_storage(self: Registry, *, repair: bool = False) -> dict[str, list[str]]:
        """What a crash may have left: staging folders, stored folders without a product row,
        products whose stored folder is missing. ``repair`` removes the first two."""
        with self.session(readonly=True) as s:
            ids = set(s.scalars(select(Product.id)))
            stored = set(
                s.scalars(select(ProductFile.product_id).where(ProductFile.copied.is_(True)))
            )
        storage = self.storage
        orphans = [i for i in storage.product_ids() if i not in ids]
        staging = storage.staged()
        missing = [i for i in sorted(stored) if i not in set(storage.product_ids())]
        if repair:
            storage.sweep()
            from registry.storage import product_folder

            for i in orphans:
                storage.remove_tree(storage.path(product_folder(i)))
        return {
            "orphan_folders": [str(i) for i in orphans],
            "staging": [str(p) for p in staging],
            "missing_folders": [str(i) for i in missing],
        }


def _looks_unchanged(path: Path, size: int, mtime: int | None, members: dict) -> bool:
    """The cheap check: same size and mtime as registered (no mtime recorded: not cheap)."""
    try:
        if path.is_dir():
            found = {
                p.relative_to(path).as_posix(): p.stat()
                for p in path.rglob("*")
                if p.is_file() and p.name not in hashing.IGNORED
            }
            if set(found) != set(members):
                return False
            return all(
                st.st_size == members[k][0] and members[k][1] == st.st_mtime_ns
                for k, st in found.items()
            )
        st = path.stat()
        return mtime is not None and st.st_size == size and st.st_mtime_ns == mtime
    except OSError:
        return False


def _unique(label: str, used: set[str]) -> str:
    out, n = label, 1
    while out in used:
        n += 1
        stem, dot, ext = label.partition(".")
        out = f"{stem}_{n}{dot}{ext}"
    used.add(out)
    return out
