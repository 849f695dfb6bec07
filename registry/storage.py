"""The registry's own file store: where registered files live, immutable, named by ids only.

Layout under the storage root::

    products/00000042/0.parquet     file 0 (the main file) of product 42, its format's extension
    products/00000042/1/            file 1, a collection (a HATS catalog), same layout inside
    .staging/<uuid>/                files being registered right now (with a held lock file)

Registering stages every file (a hard link when source and store share a filesystem, else a
copy; uploads are always copied), then, inside the database transaction that inserts the rows,
renames the staging folder to ``products/<id>``: a product row never exists without its files,
and a crash leaves at most a staging folder (swept once its lock is free) or an id folder with
no row (reported and repaired by :meth:`Storage.orphans`). Stored files are made read-only.
Hard links share the file with the pipeline's results folder: Snakemake deletes outputs before a
job writes them again, so a rerun makes new files and never touches a registered version;
``store_mode = "copy"`` trades disk for isolation from anything that writes in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from registry.errors import ValidationError
from registry.formats import EXTENSIONS

PRODUCTS = "products"
STAGING = ".staging"
LOCK = ".lock"
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
STALE_SECONDS = 3600  # a staging folder without a lock file older than this is debris
FRESH_SECONDS = 2  # a free lock younger than this is not swept (its owner may be taking it)


def product_folder(product_id: int) -> str:
    """The folder of a product, relative to the storage root (from its id only)."""
    return f"{PRODUCTS}/{int(product_id):08d}"


def stored_name(index: int, source: Path) -> str:
    """File ``index`` of a product: the index plus its format's extension (no user text)."""
    if source.is_dir():
        return str(index)
    name = source.name.lower()
    for ext in sorted(EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return f"{index}{ext}"
    return str(index)


class Staging:
    """Files being registered: a locked folder under ``.staging`` until published or dropped."""

    def __init__(self, storage: Storage, mode: str):
        self.storage, self.mode = storage, mode
        self.folder = storage.root / STAGING / str(uuid.uuid4())
        self.folder.mkdir(parents=True)
        self._lock = open(self.folder / LOCK, "w")  # noqa: SIM115 - held until close()
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._lock.write(f"{os.getpid()}\n")  # taken: a sweep may remove it once it is free
        self._lock.flush()
        self.published: Path | None = None

    def add(self, source: Path, index: int, *, copy: bool | None = None) -> str:
        """Stage ``source`` as file ``index``; returns its path relative to the product folder."""
        name = stored_name(index, source)
        target = self.folder / name
        use_copy = self.mode == "copy" if copy is None else copy
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                dest = target / path.relative_to(source)
                if path.is_symlink():
                    raise ValidationError(f"{path} is a symbolic link; register real files only")
                if path.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                elif path.is_file():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    _place(path, dest, use_copy)
            target.mkdir(exist_ok=True)
        else:
            _place(source, target, use_copy)
        return name

    def publish(self, product_id: int) -> Path:
        """Move the staged files to the product's folder (call inside the DB transaction)."""
        final = self.storage.root / product_folder(product_id)
        if final.exists():  # a folder without a row: left by a crash before its commit
            self.storage.remove_tree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        (self.folder / LOCK).unlink()
        self.folder.rename(final)
        self.published = final
        return final

    def unpublish(self) -> None:
        """The transaction failed after publishing: take the files away again."""
        if self.published is not None and self.published.exists():
            self.storage.remove_tree(self.published)
        self.published = None

    def close(self) -> None:
        self._lock.close()
        if self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)


def _place(source: Path, dest: Path, copy: bool) -> None:
    if not copy:
        try:
            os.link(source, dest)
            os.chmod(dest, READ_ONLY)
            return
        except OSError:  # another filesystem, or links not allowed: copy instead
            pass
    shutil.copy2(source, dest)
    os.chmod(dest, READ_ONLY)


class Storage:
    """The storage root of one registry."""

    def __init__(self, root: str | Path, mode: str = "link"):
        if mode not in ("link", "copy"):
            raise ValidationError(f"storage mode must be link or copy, not {mode!r}")
        self.root = Path(root).expanduser().resolve()
        self.mode = mode

    def path(self, relative: str) -> Path:
        return self.root / relative

    def owns(self, path: str | Path, product_id: int) -> bool:
        """Whether ``path`` lies inside this product's own folder of the store."""
        folder = (self.root / product_folder(product_id)).resolve()
        try:
            return Path(path).resolve().is_relative_to(folder)
        except OSError:
            return False

    @contextlib.contextmanager
    def stage(self, *, mode: str | None = None) -> Iterator[Staging]:
        self.sweep()
        staging = Staging(self, mode or self.mode)
        try:
            yield staging
        finally:
            staging.close()

    def remove_product(self, product_id: int) -> None:
        folder = self.root / product_folder(product_id)
        if folder.exists():
            self.remove_tree(folder)

    def remove_tree(self, folder: Path) -> None:
        """Delete a folder of the store (only inside the root: checked)."""
        folder = folder.resolve()
        if not folder.is_relative_to(self.root) or folder == self.root:
            raise ValidationError(f"refusing to delete {folder}: it is not inside {self.root}")
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                with contextlib.suppress(OSError):
                    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        shutil.rmtree(folder)

    def sweep(self) -> list[Path]:
        """Remove staging folders whose registering process is gone (its lock is free)."""
        removed = []
        base = self.root / STAGING
        if not base.is_dir():
            return removed
        now = time.time()
        for folder in base.iterdir():
            try:
                fd = os.open(folder / LOCK, os.O_RDONLY)
            except FileNotFoundError:
                # no lock (yet): a registration that is just starting, or a crash right after
                # making the folder; only an old one is left over
                with contextlib.suppress(OSError):
                    if now - folder.stat().st_mtime > STALE_SECONDS:
                        shutil.rmtree(folder, ignore_errors=True)
                        removed.append(folder)
                continue
            try:
                # an empty, young lock file may be one whose owner has not taken it yet (open and
                # flock are two calls); the owner writes its pid once it holds the lock
                if os.fstat(fd).st_size == 0 and now - os.fstat(fd).st_mtime < FRESH_SECONDS:
                    continue
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live registration holds it
            finally:
                os.close(fd)
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        return removed

    def staged(self) -> list[Path]:
        base = self.root / STAGING
        return sorted(base.iterdir()) if base.is_dir() else []

    def product_ids(self) -> list[int]:
        base = self.root / PRODUCTS
        if not base.is_dir():
            return []
        return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit())
