"""Reading HDF5 tables without ever unpickling: h5py only, never ``pd.read_hdf``/PyTables.

``pd.read_hdf`` unpickles object columns (pandas' "fixed" format stores them as pickles) and
PyTables unpickles pickled attributes, so a crafted file would run code when read. Here:

- groups of 1-D datasets (RAIL / tables_io style, pzforge's own exports) and compound datasets
  are read as they are;
- pandas "table" format: the ``table`` dataset is read with h5py; the column names pandas keeps
  in protocol-0 pickled lists (``values_block_0_kind``) are decoded by :func:`pickled_names`, a
  reader of a handful of opcodes (lists, tuples, text, numbers, None) on ``pickletools``' tokenizer
  that refuses every other opcode (no class, no call), so nothing is ever executed;
- pandas "fixed" format: numeric blocks are read; a block of pickled Python objects is refused
  with the column names, never loaded.
"""

from __future__ import annotations

import pickletools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from registry.errors import ValidationError

# Opcodes that only build plain data; anything else (GLOBAL, REDUCE, BUILD, INST, OBJ...) refused
_DATA_OPCODES = {
    "PROTO", "FRAME", "STOP", "MARK", "EMPTY_LIST", "LIST", "APPEND", "APPENDS", "EMPTY_TUPLE",
    "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT",
    "BININT1", "BININT2", "LONG", "LONG1", "FLOAT", "BINFLOAT", "UNICODE", "SHORT_BINUNICODE",
    "BINUNICODE", "STRING", "SHORT_BINSTRING", "BINSTRING", "PUT", "BINPUT", "LONG_BINPUT",
    "MEMOIZE", "GET", "BINGET", "LONG_BINGET", "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
}  # fmt: skip


class UnsafeContent(ValidationError):
    """The file holds pickled Python objects (or an attribute that is not plain data)."""


def pickled_names(raw: bytes, where: str) -> Any:
    """Plain data (lists, tuples, dicts, text, numbers, None) from a pickle, without unpickling."""
    stack: list[Any] = []
    marks: list[int] = []
    memo: dict[int, Any] = {}
    try:
        ops = list(pickletools.genops(raw))
    except Exception as exc:
        raise UnsafeContent(f"{where}: an attribute is not readable plain data ({exc})") from exc
    for op, arg, _pos in ops:
        name = op.name
        if name not in _DATA_OPCODES:
            raise UnsafeContent(
                f"{where}: an attribute holds a pickled object ({name}); pzforge never "
                "unpickles data. Save the table as Parquet, or with h5py as plain datasets"
            )
        if name in ("PROTO", "FRAME"):
            continue
        if name == "STOP":
            break
        if name == "MARK":
            marks.append(len(stack))
        elif name in ("EMPTY_LIST",):
            stack.append([])
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name == "EMPTY_DICT":
            stack.append({})
        elif name == "LIST":
            start = marks.pop()
            stack[start:] = [list(stack[start:])]
        elif name == "TUPLE":
            start = marks.pop()
            stack[start:] = [tuple(stack[start:])]
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            stack[-n:] = [tuple(stack[-n:])]
        elif name == "DICT":
            start = marks.pop()
            items = stack[start:]
            stack[start:] = [dict(zip(items[::2], items[1::2], strict=False))]
        elif name == "APPEND":
            value = stack.pop()
            stack[-1].append(value)
        elif name == "APPENDS":
            start = marks.pop()
            values = stack[start:]
            del stack[start:]
            stack[-1].extend(values)
        elif name == "SETITEM":
            value, key = stack.pop(), stack.pop()
            stack[-1][key] = value
        elif name == "SETITEMS":
            start = marks.pop()
            items = stack[start:]
            del stack[start:]
            stack[-1].update(zip(items[::2], items[1::2], strict=False))
        elif name == "NONE":
            stack.append(None)
        elif name in ("NEWTRUE", "NEWFALSE"):
            stack.append(name == "NEWTRUE")
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo[arg])
        elif name == "INT" and isinstance(arg, bool):
            stack.append(arg)
        else:  # numbers and text: pickletools hands over the decoded value
            stack.append(arg.decode("utf-8") if isinstance(arg, bytes) else arg)
    if len(stack) != 1:
        raise UnsafeContent(f"{where}: an attribute is not a single plain value")
    return stack[0]


def _attr(node: Any, key: str, where: str, default: Any = None, pickled: bool = False) -> Any:
    """An attribute as h5py gives it (never through PyTables); ``pickled``: one of the
    attributes pandas stores as a protocol-0 pickle, decoded as plain data only."""
    if key not in node.attrs:
        return default
    value = node.attrs[key]
    if isinstance(value, np.bytes_ | bytes):
        raw = bytes(value)
        return pickled_names(raw, where) if pickled else raw.decode("utf-8", "replace")
    return value


def _decode(values: np.ndarray, nan_rep: str | None = None) -> Any:
    if values.dtype.kind == "S":
        text = np.char.decode(values, "utf-8")
        if nan_rep is not None:
            # pandas' own string dtype (missing = NaN), as pd.read_hdf would give
            return pd.array(
                np.where(text == nan_rep, None, text), dtype=pd.StringDtype(na_value=np.nan)
            )
        return text
    return values


def read_hdf5(path: Path, key: str | None) -> pd.DataFrame:
    """A table from an HDF5 file (see the module docstring for the layouts)."""
    import h5py

    with h5py.File(path, "r") as fh:
        n_rows, read = _table_reader(fh, path, key)
        return read(0, n_rows, None)


def iter_hdf5(
    path: Path, key: str | None, chunk_rows: int, columns: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    """The table of :func:`read_hdf5` in h5py slices of at most ``chunk_rows`` rows, each
    converted as the whole table would be; ``columns``: read only these where the layout
    stores columns apart (the caller selects them again)."""
    import h5py

    with h5py.File(path, "r") as fh:
        n_rows, read = _table_reader(fh, path, key)
        for start in range(0, max(n_rows, 1), chunk_rows):
            yield read(start, min(start + chunk_rows, n_rows), columns)


Reader = Callable[[int, int, "list[str] | None"], pd.DataFrame]


def _table_reader(fh: Any, path: Path, key: str | None) -> tuple[int, Reader]:
    """The number of rows of the table at ``key`` and a reader of rows [start, stop)."""
    import h5py

    keys = list(fh.keys())
    pandas_keys = [k for k in keys if "pandas_type" in fh[k].attrs]
    if key is None:
        if pandas_keys:
            key = _only(path, pandas_keys, "table key")
        elif keys and all(isinstance(fh[k], h5py.Dataset) for k in keys):
            key = "/"  # columns stored at the root of the file
        else:
            key = _only(path, keys, "group")
    if key not in fh:
        raise ValidationError(f"{path}: no HDF5 group or key {key!r}; keys: {', '.join(keys)}")
    node = fh[key]
    where = f"{path}:{key}"
    if "pandas_type" in node.attrs:
        kind = _attr(node, "pandas_type", where)
        if kind == "frame_table":
            return _pandas_table(node, where)
        if kind == "frame":
            return _pandas_fixed(node, where)
        raise ValidationError(f"{where}: pandas HDF5 layout {kind!r} is not a table")
    if isinstance(node, h5py.Dataset):
        if node.dtype.names:
            return len(node), lambda a, b, _c: pd.DataFrame.from_records(node[a:b])
        raise ValidationError(f"{where}: a plain array, not a table")
    items = {}
    for name, item in node.items():
        if isinstance(item, h5py.Dataset) and item.ndim == 1:
            if item.dtype.kind == "O":
                raise UnsafeContent(
                    f"{where}: column {name!r} holds variable-length objects; store text as "
                    "fixed-width strings"
                )
            items[name] = item
    if not items:
        raise ValidationError(f"{where}: HDF5 group holds no 1-D columns")
    if len({len(v) for v in items.values()}) != 1:
        raise ValidationError(f"{where}: the columns of the HDF5 group differ in length")

    def read(a: int, b: int, columns: list[str] | None) -> pd.DataFrame:
        names = [n for n in items if columns is None or n in columns] or list(items)
        return pd.DataFrame({n: _decode(items[n][a:b]) for n in names})

    return len(next(iter(items.values()))), read


def _pandas_table(group: Any, where: str) -> tuple[int, Reader]:
    table = group["table"]
    nan_rep = _attr(group, "nan_rep", where, pickled=True) or "nan"
    order = _attr(group, "non_index_axes", where, pickled=True)
    blocks = {}
    for field in table.dtype.names:
        if field.startswith("values_block_"):
            names = _attr(table, f"{field}_kind", where, pickled=True)
            shape = table.dtype[field].shape
            if not isinstance(names, list) or len(shape) != 1 or shape[0] != len(names):
                raise ValidationError(f"{where}: cannot tell the columns of {field}")
            blocks[field] = names

    def read(a: int, b: int, _columns: list[str] | None) -> pd.DataFrame:
        rows = table[a:b]
        data: dict[str, Any] = {}
        for field in rows.dtype.names:
            if field == "index":
                continue
            values = rows[field]
            if field in blocks:
                for i, name in enumerate(blocks[field]):
                    data[str(name)] = _decode(values[:, i], nan_rep)
            else:
                data[field] = _decode(values, nan_rep)
        df = pd.DataFrame(data)
        if isinstance(order, list) and order and isinstance(order[0], tuple):
            df = df[[str(c) for c in order[0][1] if str(c) in df.columns]]
        return df

    return len(table), read


def _pandas_fixed(group: Any, where: str) -> tuple[int, Reader]:
    import h5py

    n_blocks = int(_attr(group, "nblocks", where, 0))
    columns = [c.decode("utf-8") for c in group["axis0"][()]]
    blocks = []
    for b in range(n_blocks):
        items = [c.decode("utf-8") for c in group[f"block{b}_items"][()]]
        values = group[f"block{b}_values"]
        if values.dtype.kind == "O" or not isinstance(values, h5py.Dataset) or values.ndim != 2:
            raise UnsafeContent(
                f"{where}: column {', '.join(repr(c) for c in items)} is stored as pickled Python "
                "objects (pandas' fixed HDF5 format); pzforge never unpickles data. Save it with "
                "df.to_hdf(..., format='table') or as Parquet"
            )
        blocks.append((items, values))
    n_rows = blocks[0][1].shape[0] if blocks else 0

    def read(a: int, b: int, _columns: list[str] | None) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for items, values in blocks:
            block = values[a:b]
            for i, name in enumerate(items):
                data[name] = block[:, i]
        return pd.DataFrame({c: data[c] for c in columns if c in data})

    return n_rows, read


def _only(path: Path, keys: list[str], what: str) -> str:
    if len(keys) == 1:
        return keys[0]
    raise ValidationError(
        f"{path}: the HDF5 file holds several entries ({', '.join(keys)}); set `hdf5_key:` to "
        f"the {what} to read"
    )
