"""Suggest column associations for uploads from column names (the user confirms them)."""

from __future__ import annotations

import re

from registry.store import ColumnSpec

# role -> (name patterns, UCD, unit); first matching column wins
PATTERNS: dict[str, tuple[list[str], str, str | None]] = {
    "id": (
        [r"^(id|objid|object_?id|source_?id|unique_id|targetid|specid|name)$"],
        "meta.id;meta.main",
        None,
    ),
    "ra": (
        [r"^(ra|ra_?deg|raj2000|ra_j2000(_deg)?|alpha(_j2000)?|target_ra|ra_targ)$"],
        "pos.eq.ra;meta.main",
        "deg",
    ),
    "dec": (
        [r"^(dec|decl|dec_?deg|dej2000|dec_j2000(_deg)?|delta(_j2000)?|target_dec|dec_targ)$"],
        "pos.eq.dec;meta.main",
        "deg",
    ),
    "z": ([r"^(z|redshift|z_?spec|zspec|specz|z_best)$"], "src.redshift", None),
    "z_err": (
        [r"^(z_?err|zerr|redshift_?err|e_?z|sigma_?z|z_?error)$"],
        "stat.error;src.redshift",
        None,
    ),
    "z_flag": (
        [r"^(z_?flag|zflags?|z_?qual(ity)?|quality|qual|qop|zwarn(ing)?)$"],
        "meta.code.qual",
        None,
    ),
    "type": ([r"^(type|z_?type|spectype|class)$"], "meta.code.class", None),
    "survey": ([r"^(survey|survey_name|source)$"], "meta.dataset", None),
}


def suggest_columns(names: list[str]) -> list[ColumnSpec]:
    """One suggested association per role whose pattern matches a column name (case-insensitive)."""
    out = []
    used: set[str] = set()
    for role, (patterns, ucd, unit) in PATTERNS.items():
        for name in names:
            if name in used:
                continue
            if any(re.match(p, name.strip(), re.IGNORECASE) for p in patterns):
                out.append(ColumnSpec(name=name, role=role, ucd=ucd, unit=unit))
                used.add(name)
                break
    return out
