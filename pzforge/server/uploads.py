"""Uploads, streamed: a multipart body is parsed as it arrives, files go straight to disk, and the
size limit is enforced while reading (an oversized upload is refused at the first byte over it,
or at once from its Content-Length), never after the whole body was stored.

Form fields: ``name``, ``product_type``, ``description``, ``release``, ``columns`` (JSON: a list of
``{"name", "role", "ucd", "unit"}`` or a ``{role: column}`` mapping), ``suggest_columns``
(``true``: associate roles not given by the column names, as ``pzforge products upload --yes``)
and the files ``main_file`` (one) and ``aux_files`` (any). File names are labels only: each file is
written as ``<folder>/<n>/<its sanitized base name>`` in a fresh folder the caller removes.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header

from registry.names import file_label

TEXT_FIELDS = ("name", "product_type", "description", "release", "columns", "suggest_columns")
FILE_FIELDS = ("main_file", "aux_files")
MAX_TEXT = 100_000  # bytes of one text field
MAX_PARTS = 32
OVERHEAD = 1024 * 1024  # multipart headers and text fields, beyond the files' own bytes


def too_large(limit: int) -> HTTPException:
    return HTTPException(
        413,
        f"the upload is over the site's limit of {limit / 2**20:.0f} MB (all files together); "
        "ask the site to register it for you",
    )


def bad_form(detail: str) -> HTTPException:
    return HTTPException(422, f"malformed upload: {detail}")


@dataclass
class ReceivedUpload:
    folder: Path
    fields: dict[str, str] = field(default_factory=dict)
    main_file: Path | None = None
    aux_files: list[Path] = field(default_factory=list)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def columns(self) -> list[dict[str, Any]]:
        raw = self.fields.get("columns", "").strip()
        if not raw:
            return []
        try:
            data = json.loads(raw)
        except ValueError:
            raise bad_form("columns must be JSON") from None
        if isinstance(data, dict):
            data = [{"role": r, "name": c} for r, c in data.items()]
        ok = isinstance(data, list) and all(
            isinstance(c, dict)
            and isinstance(c.get("name"), str)
            and isinstance(c.get("role"), str)
            and set(c) <= {"name", "role", "ucd", "unit"}
            and all(v is None or isinstance(v, str) for v in c.values())
            for c in data
        )
        if not ok:
            raise bad_form('columns: a list of {"name", "role", "ucd", "unit"} or {role: column}')
        return data


async def receive(
    request: Request,
    uploads_dir: Path,
    limit: int,
    text_fields: tuple[str, ...] = TEXT_FIELDS,
) -> ReceivedUpload:
    """Parse a multipart upload into a new folder under ``uploads_dir`` (removed on any error);
    ``text_fields`` are the form fields it may carry besides the files."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise HTTPException(415, "send the upload as multipart/form-data")
    length = request.headers.get("content-length")
    if length is not None:
        try:
            if int(length) > limit + OVERHEAD:
                raise too_large(limit)
        except ValueError:
            raise bad_form("Content-Length is not a number") from None
    upload = ReceivedUpload(uploads_dir / str(uuid.uuid4()))
    upload.folder.mkdir(parents=True)
    state = _PartState(upload, limit, text_fields)
    parser = MultipartParser(
        params[b"boundary"],
        callbacks={
            "on_part_begin": state.part_begin,
            "on_header_field": state.header_field,
            "on_header_value": state.header_value,
            "on_header_end": state.header_end,
            "on_headers_finished": state.headers_finished,
            "on_part_data": state.part_data,
            "on_part_end": state.part_end,
        },
        max_size=limit + OVERHEAD,
    )
    try:
        async for chunk in request.stream():
            if state.error is not None:
                break
            try:
                parser.write(chunk)
            except HTTPException:
                raise
            except Exception as exc:  # the parser's own errors: a malformed body
                raise bad_form(str(exc) or type(exc).__name__) from None
            if state.error is not None:
                raise state.error
        if state.error is not None:
            raise state.error
        try:
            parser.finalize()
        except Exception as exc:
            raise bad_form(str(exc) or type(exc).__name__) from None
        if state.open_file is not None or state.in_part:
            raise bad_form("the body ended inside a part")
        if upload.main_file is None:
            raise bad_form("no main_file part")
        return upload
    except BaseException:
        state.close()
        upload.discard()
        raise


class _PartState:
    """The multipart parser's callbacks: headers of the current part, then its data."""

    def __init__(self, upload: ReceivedUpload, limit: int, text_fields: tuple[str, ...]):
        self.upload, self.limit, self.text_fields = upload, limit, text_fields
        self.file_bytes = 0
        self.parts = 0
        self.error: HTTPException | None = None
        self.open_file = None
        self.in_part = False
        self._headers: dict[str, str] = {}
        self._field, self._value = b"", b""
        self._name: str | None = None
        self._text: bytearray | None = None

    def fail(self, exc: HTTPException) -> None:
        if self.error is None:
            self.error = exc
        raise exc

    def part_begin(self) -> None:
        self.parts += 1
        self.in_part = True
        if self.parts > MAX_PARTS:
            self.fail(bad_form(f"more than {MAX_PARTS} parts"))
        self._headers = {}

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._field.decode("latin-1").lower()] = self._value.decode("latin-1")
        self._field, self._value = b"", b""

    def headers_finished(self) -> None:
        disposition = self._headers.get("content-disposition", "")
        kind, params = parse_options_header(disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if kind != b"form-data" or not name:
            self.fail(bad_form("a part without Content-Disposition: form-data; name=..."))
        self._name = name
        if name in FILE_FIELDS:
            filename = params.get(b"filename")
            if filename is None:
                self.fail(bad_form(f"{name} must be a file part (with a filename)"))
            if name == "main_file" and self.upload.main_file is not None:
                self.fail(bad_form("more than one main_file"))
            index = len(self.upload.aux_files) + (self.upload.main_file is not None)
            folder = self.upload.folder / str(index)
            folder.mkdir()
            path = folder / file_label(filename.decode("utf-8", "replace"))
            self.open_file = open(path, "wb")  # noqa: SIM115 - closed at the part's end
            if name == "main_file":
                self.upload.main_file = path
            else:
                self.upload.aux_files.append(path)
            self._text = None
        elif name in self.text_fields:
            if name in self.upload.fields:
                self.fail(bad_form(f"field {name} given twice"))
            self._text = bytearray()
        else:
            self.fail(
                bad_form(
                    f"unknown field {name!r}; fields: {', '.join(self.text_fields + FILE_FIELDS)}"
                )
            )

    def part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        if self.open_file is not None:
            self.file_bytes += n
            if self.file_bytes > self.limit:
                self.fail(too_large(self.limit))
            self.open_file.write(data[start:end])
        elif self._text is not None:
            if len(self._text) + n > MAX_TEXT:
                self.fail(bad_form(f"field {self._name} is over {MAX_TEXT} bytes"))
            self._text += data[start:end]

    def part_end(self) -> None:
        self.in_part = False
        if self.open_file is not None:
            self.open_file.close()
            self.open_file = None
        elif self._text is not None and self._name:
            try:
                self.upload.fields[self._name] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                self.fail(bad_form(f"field {self._name} is not UTF-8 text"))
            self._text = None

    def close(self) -> None:
        if self.open_file is not None:
            self.open_file.close()
            self.open_file = None
