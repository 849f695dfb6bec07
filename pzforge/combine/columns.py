"""The combined-catalog columns (DESIGN.md contract), their dtypes, UCDs and units."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

# name -> (arrow type, role, UCD, unit, description)
COLUMNS: dict[str, tuple[pa.DataType, str, str | None, str | None, str]] = {
    "id": (pa.string(), "id", "meta.id;meta.main", None, "Unique id: <catalog>:<source_id>"),
    "source_id": (pa.string(), "other", "meta.id", None, "Identifier in the input catalog"),
    "catalog": (pa.string(), "other", "meta.dataset", None, "Input catalog key"),
    "survey": (pa.string(), "survey", "meta.dataset", None, "Survey name"),
    "ra": (pa.float64(), "ra", "pos.eq.ra;meta.main", "deg", "Right ascension (ICRS)"),
    "dec": (pa.float64(), "dec", "pos.eq.dec;meta.main", "deg", "Declination (ICRS)"),
    "z": (pa.float64(), "z", "src.redshift", None, "Spectroscopic redshift"),
    "z_err": (pa.float64(), "z_err", "stat.error;src.redshift", None, "Redshift error"),
    "z_flag": (pa.string(), "z_flag", "meta.code.qual", None, "Quality flag as given"),
    "z_flag_homogenized": (
        pa.int8(),
        "z_flag",
        "meta.code.qual;src.redshift",
        None,
        "Confidence 0-4, 6 = star, null = unknown",
    ),
    "type": (pa.string(), "type", "meta.code.class", None, "Redshift type as given"),
    "type_homogenized": (
        pa.string(),
        "type",
        "meta.code.class;src.redshift",
        None,
        "s spectroscopic, g grism/prism, p photometric",
    ),
}
RESOLUTION_COLUMNS: dict[str, tuple[pa.DataType, str, str | None, str | None, str]] = {
    "group_id": (
        pa.int64(),
        "other",
        "meta.id.assoc",
        None,
        "Duplicate group: rows within the radius of each other, transitively (null: no duplicate)",
    ),
    "n_members": (
        pa.int32(),
        "other",
        "meta.number",
        None,
        "Rows of this object: the group's size (1 without duplicate)",
    ),
    "tie_result": (
        pa.int8(),
        "other",
        "meta.code",
        None,
        "1 kept, 0 duplicate discarded, 2 unresolved tie, 3 star (every star)",
    ),
    "tie_reason": (
        pa.string(),
        "other",
        "meta.code",
        None,
        "What decided tie_result: a criterion's column, survey_priority, catalog_priority, "
        "delta_z, no_z, unresolved, star or unique (docs/combine_redshift.md)",
    ),
    "compared_to": (
        pa.string(),
        "other",
        "meta.id.cross",
        None,
        "Ids of the other rows of the group (stars included), ascending, comma-separated; "
        "null without duplicate",
    ),
    "group_surveys": (
        pa.string(),
        "other",
        "meta.dataset",
        None,
        "Distinct surveys among the object's rows, sorted, comma-separated",
    ),
}
INGEST_COLUMNS = list(COLUMNS)
OUTPUT_COLUMNS = INGEST_COLUMNS + list(RESOLUTION_COLUMNS)

EXTRA_DTYPES = {
    "str": pa.string(),
    "float64": pa.float64(),
    "float32": pa.float32(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "bool": pa.bool_(),
}


def ingest_schema(extra: dict[str, str]) -> pa.Schema:
    """Arrow schema of an ingested catalog with its extra columns."""
    fields = [pa.field(n, t) for n, (t, *_rest) in COLUMNS.items()]
    fields += [pa.field(n, EXTRA_DTYPES[t]) for n, t in extra.items()]
    return pa.schema(fields)


def pandas_dtype(arrow_type: pa.DataType) -> object:
    """The pandas dtype used in memory for an arrow type (nullable ints, python-string str)."""
    if pa.types.is_string(arrow_type):
        return pd.StringDtype()
    if pa.types.is_int8(arrow_type):
        return pd.Int8Dtype()
    if pa.types.is_int32(arrow_type):
        return pd.Int32Dtype()
    if pa.types.is_int64(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return arrow_type.to_pandas_dtype()
