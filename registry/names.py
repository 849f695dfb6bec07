"""Names people give things: checked before they are stored, and never used as paths.

A product or release name is free text (spaces, accents, brackets are fine) but one line of
printable characters with no path separators; ``internal_name`` (the share key) is
``<id>_<name>`` with everything outside ``[A-Za-z0-9._-]`` replaced by ``_``.
"""

from __future__ import annotations

import re
import unicodedata

from registry.errors import ValidationError

MAX_NAME = 200
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# a reference to one version of a product: name@v3
VERSION_REF = re.compile(r"^(?P<name>.+)@v(?P<version>[0-9]+)$")


def check_name(name: object, what: str = "product name") -> str:
    """``name`` stripped, or a ValidationError saying what is wrong and how to fix it."""
    if not isinstance(name, str):
        raise ValidationError(f"a {what} must be text, not {type(name).__name__}")
    text = name.strip()
    if not text:
        raise ValidationError(f"a {what} cannot be empty")
    if len(text) > MAX_NAME:
        raise ValidationError(f"the {what} is {len(text)} characters long; at most {MAX_NAME}")
    bad = [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    if bad:
        raise ValidationError(
            f"the {what} {text!r} holds control characters ({', '.join(repr(c) for c in bad[:3])});"
            " use printable text on one line"
        )
    if "/" in text or "\\" in text:
        raise ValidationError(
            f"the {what} {text!r} holds a path separator; names are labels, not paths "
            "(use e.g. 'survey - field')"
        )
    if text in (".", "..") or text.startswith(("~", "-")):
        raise ValidationError(f"the {what} {text!r} cannot start with '~' or '-' or be '.'/'..'")
    if VERSION_REF.match(text):
        raise ValidationError(
            f"the {what} {text!r} ends like a version reference (@vN); choose another name"
        )
    if text.isdigit():  # any digits, ASCII or not: a name that reads as a number is refused
        raise ValidationError(f"the {what} {text!r} is a number (numbers are ids); add a word")
    return text


MAX_ID = 2**63 - 1  # the largest id any backend stores


def is_id(text: str) -> bool:
    """Whether ``text`` is an id (ASCII digits only: '³' and '٣' are digits to Python)."""
    text = text.strip()
    return text.isascii() and text.isdigit()


def internal_name(product_id: int, name: str) -> str:
    """The share key: ``<id>_<name>``, filesystem- and URL-safe."""
    return f"{int(product_id)}_{_UNSAFE.sub('_', name).strip('_') or 'product'}"


def file_label(name: str) -> str:
    """A stored file's display name (its original base name), safe inside a zip."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return base if base not in ("", ".", "..") else "file"
