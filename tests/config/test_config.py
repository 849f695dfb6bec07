import re

import pytest
import yaml

from pzforge.combine.hooks import union_extra_columns
from pzforge.config import apply_overrides
from pzforge.errors import ConfigError
from pzforge.paths import CONFIG_DIR
from pzforge.pipelines import load as load_config
from pzforge.pipelines import validate as validate_config


def minimal(**extra):
    cfg = {
        "catalogs": [
            {
                "name": "a",
                "path": "a.csv",
                "columns": {"ra": "RA", "dec": "DEC", "z": "Z"},
                "survey": {"value": "VVDS"},
            }
        ]
    }
    cfg.update(extra)
    return cfg


def test_defaults_are_filled():
    cfg = validate_config(minimal())
    assert cfg["crossmatch"]["radius_arcsec"] == 1.0
    assert cfg["resolution"]["mode"] == "mark"
    assert cfg["resolution"]["delta_z"] == 0.001
    assert cfg["resolution"]["criteria"][0] == {"column": "z_flag_homogenized", "order": "desc"}
    assert cfg["validation"]["on_invalid"] == "drop"
    assert cfg["catalogs"][0]["columns"]["z_err"] is None


def test_demo_config_is_valid():
    cfg = load_config([CONFIG_DIR / "config.yaml"])
    assert len(cfg["catalogs"]) == 6


def test_unknown_key_names_the_key_and_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"crossmatch\.radius .*not known.*radius_arcsec"):
        validate_config(minimal(crossmatch={"radius": 2}))


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match=r"crossmatch\.radius_arcsec"):
        validate_config(minimal(crossmatch={"radius_arcsec": "two"}))


def test_unknown_catalog_key():
    cfg = minimal()
    cfg["catalogs"][0]["colums"] = {}
    with pytest.raises(ConfigError, match=r"catalogs\[0\]\.colums is not known"):
        validate_config(cfg)


def test_two_catalogs_with_the_same_name():
    cfg = minimal()
    cfg["catalogs"].append(dict(cfg["catalogs"][0]))
    with pytest.raises(ConfigError, match="two catalogs are named 'a'"):
        validate_config(cfg)


def test_margin_smaller_than_radius():
    with pytest.raises(ConfigError, match="margin_threshold_arcsec"):
        validate_config(minimal(crossmatch={"radius_arcsec": 6.0}))


def test_missing_mandatory_column_mapping():
    cfg = minimal()
    del cfg["catalogs"][0]["columns"]["z"]
    with pytest.raises(ConfigError, match="'z' is a required property"):
        validate_config(cfg)


def test_overrides_nested_and_by_catalog_name():
    cfg = apply_overrides(minimal(), ["crossmatch.radius_arcsec=2.5", "catalogs.a.path=b.fits"])
    assert cfg["crossmatch"]["radius_arcsec"] == 2.5
    assert cfg["catalogs"][0]["path"] == "b.fits"
    with pytest.raises(ConfigError, match="no entry named 'zz'"):
        apply_overrides(minimal(), ["catalogs.zz.path=x"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides(minimal(), ["crossmatch.radius_arcsec"])


def test_config_files_merge_later_wins(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(yaml.safe_dump(minimal(crossmatch={"radius_arcsec": 1.5})))
    b.write_text(yaml.safe_dump({"crossmatch": {"radius_arcsec": 0.5}}))
    assert load_config([a, b])["crossmatch"]["radius_arcsec"] == 0.5


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("catalogs: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config([bad])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config([tmp_path / "nope.yaml"])


def test_extra_columns_union_and_conflicts():
    cfg = minimal()
    cfg["catalogs"][0]["extra_columns"] = {"mag": "float64"}
    cfg["catalogs"].append({**cfg["catalogs"][0], "name": "b", "extra_columns": {"mag": "str"}})
    with pytest.raises(ConfigError, match="extra column 'mag'"):
        union_extra_columns(cfg)
    cfg["catalogs"][1]["extra_columns"] = {"field": "str"}
    assert union_extra_columns(cfg) == {"field": "str", "mag": "float64"}


def test_config_readme_documents_every_key():
    from pzforge.pipelines import config_reference as render

    assert (CONFIG_DIR / "README.md").read_text() == render(), (
        "run: python -m pzforge.pipelines > config/README.md"
    )


def test_footprints_and_catalog_priority_are_checked():
    with pytest.raises(ConfigError, match="footprint name 'z' is already an output column"):
        validate_config(
            minimal(footprints=[{"name": "z", "circles": [{"ra": 1, "dec": 1, "radius_deg": 1}]}])
        )
    with pytest.raises(ConfigError, match="give circles, a moc file, or both"):
        validate_config(minimal(footprints=[{"name": "in_x"}]))
    with pytest.raises(ConfigError, match="catalog_priority names 'b', which is not a catalog"):
        validate_config(minimal(resolution={"catalog_priority": ["a", "b"]}))
    cfg = validate_config(minimal(resolution={"catalog_priority": ["a"]}))
    assert cfg["validation"]["no_redshift"] == "drop" and cfg["output"]["z_flag_min"] is None


# JSON Schema keywords a property schema may use; anything else in a property's mapping is a
# stray key (e.g. the tail of a description cut at a comma inside a YAML flow mapping).
SCHEMA_KEYWORDS = {
    "type", "description", "default", "enum", "const", "items", "properties", "required",
    "additionalProperties", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern", "oneOf",
    "anyOf", "allOf", "not", "if", "then", "else", "title", "examples", "format", "$schema",
    "$id", "$ref", "$defs", "propertyNames", "minProperties", "maxProperties", "multipleOf",
}  # fmt: skip
ONE_LINE_DESCRIPTION = re.compile(r"(?:^\s*|[{,]\s*)description: (?![>|{])(.+?)\s*$")


def _property_schemas(node, path=""):
    """(key path, property schema) for every property, items schema and branch."""
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            if isinstance(sub, dict):
                yield f"{path}.{name}".lstrip("."), sub
                yield from _property_schemas(sub, f"{path}.{name}".lstrip("."))
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                yield from _property_schemas(node[key], path + "[]")
        for key in ("oneOf", "anyOf", "allOf"):
            for sub in node.get(key) or []:
                yield from _property_schemas(sub, path)


def _raw_one_line_descriptions(text: str) -> list[str]:
    """The descriptions as written on one line of the schema file (quotes and the closing brace
    of a flow mapping removed): what a reader of the file takes as the sentence."""
    out = []
    for line in text.splitlines():
        m = ONE_LINE_DESCRIPTION.search(line)
        if not m:
            continue
        raw = m.group(1)
        if "{" in line[: m.start(1)]:  # inside a flow mapping: drop its closing braces
            raw = raw.rstrip("}").rstrip()
        if raw[:1] in "\"'" and raw[-1:] == raw[:1]:
            raw = raw[1:-1]
        out.append(" ".join(raw.split()))
    return out


@pytest.mark.parametrize(
    "pipeline", ["combine_redshift", "training_set", "embedding", "embedding_task"]
)
def test_config_readme_has_every_description_whole(pipeline):
    """Every description in config/README.md is the schema's full sentence: none cut at a comma
    inside a YAML flow mapping (which also adds the rest of the sentence as a stray key)."""
    from pzforge.config.loading import load_schema

    readme = (CONFIG_DIR / "README.md").read_text()
    schema = load_schema(pipeline)
    parsed = {}
    for path, sub in _property_schemas(schema):
        stray = set(sub) - SCHEMA_KEYWORDS
        assert not stray, f"{pipeline}: {path} has stray keys {sorted(stray)} (a cut description?)"
        if "description" in sub:
            desc = " ".join(str(sub["description"]).split())
            parsed[path] = desc
            assert desc.endswith((".", ")", "?", "!")), f"{pipeline}: {path}: {desc!r} is cut"
            assert f"| {desc} |" in readme, f"{pipeline}: {path}: README lacks {desc!r}"
    raw = _raw_one_line_descriptions(
        (CONFIG_DIR / "schemas" / f"{pipeline}.schema.yaml").read_text()
    )
    assert raw, "no one-line descriptions found: the test's pattern is out of date"
    for sentence in raw:
        assert f"| {sentence} |" in readme, f"{pipeline}: README lacks the full {sentence!r}"
