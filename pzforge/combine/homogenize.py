"""Declarative translation of survey quality flags and types to the common scale.

Rules live in ``config/surveys.yaml`` as data (value maps, ranges, last-digit maps, ordered
conditional rules over several columns) and are applied with vectorized pandas masks. Nothing
from the file is ever evaluated as code.

Common scale (VVDS-style confidence): 0 no redshift, 1 < 70 %, 2 70-90 %, 3 90-99 %, 4 > 99 %,
6 star; null = unknown. Types: s spectroscopic, g grism/prism, p photometric.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import yaml

from pzforge.errors import HomogenizationError

FLAG_VALUES = (0, 1, 2, 3, 4, 6)
TYPE_VALUES = ("s", "g", "p")
CANONICAL = ("z_flag", "z_err", "z", "type")
OPERATORS = (
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "in",
    "not_in",
    "between",
    "is_null",
    "not_null",
    "last_digit",
    "bits_any",
    "startswith",
)
DECIMALS = 6  # flags are compared rounded to this many decimals (float32 2.4 equals 2.4)
RULE_KINDS = ("value", "map", "ranges", "rules")
MAX_EXAMPLES = 5


def _norm_name(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", str(name)).lower()


def norm_survey_name(name: str) -> str:
    """A survey name as compared: case, spaces, dashes, underscores and dots ignored."""
    return _norm_name(name)


def same_survey_name(a: str, b: str) -> bool:
    """Two spellings of one name (case, spaces, dashes, underscores, dots ignored)."""
    return _norm_name(a) == _norm_name(b)


@dataclass(frozen=True)
class Target:
    """How one output (z_flag_homogenized or type_homogenized) is made for a survey."""

    kind: str  # value | map | ranges | rules
    spec: Any
    column: str
    last_digit: bool = False
    default: Any = None
    has_default: bool = False  # ``default:`` given (null included: unmatched rows are unknown)


@dataclass(frozen=True)
class Survey:
    name: str
    aliases: tuple[str, ...]
    description: str
    reference: str
    z_flag: Target
    type: Target
    defaults: Mapping[str, Any]  # values for optional raw columns the file may lack
    no_redshift: dict | None = None  # condition: the row's z is a placeholder (no redshift)
    origin: str = "<memory>"  # the rules file it comes from
    replaces: str | None = None  # the shipped survey it overrides, if any


class RuleBook:
    """Every survey's rules, loaded from YAML and checked before any data is touched.

    Several files are layers (:meth:`load_layers`): each later file adds surveys and overrides
    earlier ones survey by survey (by name, ignoring case and punctuation); its names and
    aliases take precedence when a row's survey name is matched.
    """

    def __init__(self, surveys: dict[str, Survey], source: str = "<memory>"):
        self.surveys = surveys
        self.source = source
        self._lookup: dict[str, str] = {}
        self._spelling: dict[str, str] = {}
        self._learn(surveys.values())

    def _learn(self, surveys: Any) -> None:
        """Map names and aliases to rules; a name wins over another survey's alias."""
        surveys = list(surveys)
        for survey in surveys:
            for alias in survey.aliases:
                self._lookup[_norm_name(alias)] = survey.name
                self._spelling[_norm_name(alias)] = alias
        for survey in surveys:
            self._lookup[_norm_name(survey.name)] = survey.name
            self._spelling[_norm_name(survey.name)] = survey.name

    @classmethod
    def load(cls, path: str | os.PathLike) -> RuleBook:
        return cls.from_dict(_read_rules(path), source=str(path))

    @classmethod
    def load_layers(cls, paths: list[str | os.PathLike]) -> RuleBook:
        """The shipped rules first, then each user file adding and overriding survey by survey."""
        paths = [str(p) for p in dict.fromkeys(str(p) for p in paths if p)]
        book = cls.load(paths[0])
        for path in paths[1:]:
            book = book.overlay(cls.load(path))
        return book

    def overlay(self, other: RuleBook) -> RuleBook:
        """These rules with ``other``'s added; a survey of ``other`` named like one of these
        (ignoring case and punctuation) replaces it."""
        surveys = dict(self.surveys)
        renamed: dict[str, str] = {}
        for name, survey in other.surveys.items():
            replaced = next((n for n in surveys if same_survey_name(n, name)), None)
            if replaced is not None:
                del surveys[replaced]
                renamed[replaced] = name
            surveys[name] = Survey(**{**survey.__dict__, "replaces": replaced})
        book = RuleBook(surveys, f"{self.source} + {other.source}")
        # the replaced rule's aliases now lead to the rule that replaces it
        book._lookup = {k: renamed.get(v, v) for k, v in self._lookup.items()}
        book._spelling = dict(self._spelling)
        book._learn(other.surveys.values())
        return book

    @classmethod
    def from_dict(cls, data: Any, source: str = "<memory>") -> RuleBook:
        if not isinstance(data, dict) or not isinstance(data.get("surveys"), dict):
            raise HomogenizationError(f"{source}: expected a top-level `surveys:` mapping")
        surveys = {}
        for name, body in data["surveys"].items():
            surveys[str(name)] = _parse_survey(str(name), body, source)
        return cls(surveys, source)

    def known_surveys(self) -> list[str]:
        return sorted(self.surveys, key=str.lower)

    def find(self, survey: str) -> str | None:
        """The rule name for a survey name or alias (case and punctuation ignored), or None."""
        return self._lookup.get(_norm_name(survey))

    def display_name(self, survey: str) -> str:
        """One spelling per survey in the output: the rule's name, or the alias as the rules
        spell it (2DFGRS, 2dfgrs -> 2dFGRS; candels -> CANDELS); unknown names as given."""
        return self._spelling.get(_norm_name(survey), survey)

    def resolve(self, survey: str) -> str:
        found = self.find(survey)
        if found is None:
            raise HomogenizationError(
                f"survey {survey!r} has no homogenization rules; known surveys: "
                f"{', '.join(self.known_surveys())}. Write a rule for it in your own rules file "
                "and name that file in homogenization.surveys_file (it adds to the shipped rules; "
                "docs/surveys.md), or set `flags_homogenized: true` on the catalog if its flags "
                "are already on the common scale"
            )
        return found

    def required_columns(self, survey: str) -> set[str]:
        s = self.surveys[self.resolve(survey)]
        cols = _target_columns(s.z_flag) | _target_columns(s.type)
        if s.no_redshift:
            cols |= _condition_columns(s.no_redshift)
        return {c for c in cols if c not in CANONICAL}

    def missing_columns(self, survey: str, available: set[str]) -> list[str]:
        """Columns the survey's rules read (raw ones, or z_flag / z_err / type, which exist only
        when the catalog maps them) that are not ``available`` and have no default."""
        s = self.surveys[self.resolve(survey)]
        cols = _target_columns(s.z_flag) | _target_columns(s.type)
        if s.no_redshift:
            cols |= _condition_columns(s.no_redshift)
        return sorted(c for c in cols - available - {"z"} if c not in s.defaults)

    def to_dict(self, survey: str) -> dict[str, Any]:
        s = self.surveys[self.resolve(survey)]
        return {
            "name": s.name,
            "aliases": list(s.aliases),
            "description": s.description,
            "reference": s.reference,
            "z_flag": _target_dict(s.z_flag),
            "type": _target_dict(s.type),
            "defaults": dict(s.defaults),
            "no_redshift": s.no_redshift,
            "origin": s.origin,
            "replaces": s.replaces,
        }

    def scales(self, survey: str) -> tuple[str, str]:
        """What the survey's flag and type rules read and the values they give, one line each
        (``pzforge surveys list``)."""
        s = self.surveys[self.resolve(survey)]
        return target_scale(s.z_flag), target_scale(s.type)

    def explain(self, survey: str) -> str:
        s = self.surveys[self.resolve(survey)]
        lines = [f"{s.name}" + (f" (aliases: {', '.join(s.aliases)})" if s.aliases else "")]
        lines.append(
            f"  from: {s.origin}" + (f" (overrides the shipped {s.replaces})" if s.replaces else "")
        )
        if s.description:
            lines.append(f"  {s.description}")
        if s.reference:
            lines.append(f"  reference: {s.reference}")
        if s.no_redshift:
            lines.append(
                f"  no redshift (z is a placeholder) when {_explain_condition(s.no_redshift)}"
            )
        lines.append("  z_flag_homogenized:")
        lines += [f"    {ln}" for ln in _explain_target(s.z_flag)]
        lines.append("  type_homogenized:")
        lines += [f"    {ln}" for ln in _explain_target(s.type)]
        if s.defaults:
            lines.append(
                "  when the file lacks a column: "
                + ", ".join(f"{k} = {v!r}" for k, v in s.defaults.items())
            )
        return "\n".join(lines)

    def no_redshift(self, df: pd.DataFrame) -> np.ndarray:
        """Rows whose z is a survey's placeholder (its ``no_redshift`` condition)."""
        out = np.zeros(len(df), dtype=bool)
        if "survey" not in df.columns or len(df) == 0:
            return out
        surveys = df["survey"].astype("string")
        for raw in pd.unique(surveys.dropna()):
            name = self.find(raw)
            cond = self.surveys[name].no_redshift if name else None
            if not cond:
                continue
            mask = (surveys == raw).fillna(False).to_numpy(dtype=bool)
            part = _with_defaults(df.loc[mask], self.surveys[name])
            if _condition_columns(cond) - set(part.columns):
                continue  # the homogenization step reports missing columns
            out[mask] = _evaluate(part, cond)
        return out


def _read_rules(path: str | os.PathLike) -> Any:
    try:
        with open(path) as fh:
            return yaml.safe_load(fh)
    except OSError as exc:
        raise HomogenizationError(f"survey rules file {path} cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise HomogenizationError(f"survey rules file {path} is not valid YAML: {exc}") from exc


def _with_defaults(part: pd.DataFrame, survey: Survey) -> pd.DataFrame:
    missing = {k: v for k, v in survey.defaults.items() if k not in part.columns}
    return part.assign(**missing) if missing else part


# --- parsing -------------------------------------------------------------------------------


def _fail(source: str, survey: str, where: str, message: str) -> HomogenizationError:
    return HomogenizationError(f"{source}: survey {survey!r}, {where}: {message}")


def _parse_survey(name: str, body: Any, source: str) -> Survey:
    if not isinstance(body, dict):
        raise _fail(source, name, "entry", "must be a mapping with z_flag and type")
    allowed = {"aliases", "description", "reference", "z_flag", "type", "defaults", "no_redshift"}
    unknown = set(body) - allowed
    if unknown:
        raise _fail(
            source, name, "entry", f"unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    for key in ("z_flag", "type"):
        if key not in body:
            raise _fail(source, name, "entry", f"missing `{key}`")
    return Survey(
        name=name,
        aliases=tuple(str(a) for a in body.get("aliases", [])),
        description=" ".join(str(body.get("description", "")).split()),
        reference=str(body.get("reference", "")),
        z_flag=_parse_target(name, "z_flag", body["z_flag"], source, FLAG_VALUES),
        type=_parse_target(name, "type", body["type"], source, TYPE_VALUES),
        defaults=dict(body.get("defaults") or {}),
        no_redshift=_parse_no_redshift(name, body.get("no_redshift"), source),
        origin=source,
    )


def _parse_no_redshift(name: str, cond: Any, source: str) -> dict | None:
    if cond is None:
        return None
    _check_condition(cond, name, "no_redshift", source)
    return dict(cond)


def _parse_target(survey: str, which: str, body: Any, source: str, allowed_out: tuple) -> Target:
    if not isinstance(body, dict):  # shorthand: a constant
        body = {"value": body}
    kinds = [k for k in RULE_KINDS if k in body]
    if len(kinds) != 1:
        raise _fail(
            source,
            survey,
            which,
            f"give exactly one of {', '.join(RULE_KINDS)} (got {kinds or 'none'})",
        )
    extra = set(body) - {*RULE_KINDS, "column", "last_digit", "default"}
    if extra:
        raise _fail(source, survey, which, f"unknown key(s) {sorted(extra)}")
    kind = kinds[0]
    spec = body[kind]

    def check_out(value: Any, where: str) -> None:
        if value is not None and value not in allowed_out:
            raise _fail(
                source,
                survey,
                f"{which} {where}",
                f"value {value!r} is not one of {list(allowed_out)} (or null)",
            )

    if kind == "value":
        check_out(spec, "value")
    elif kind == "map":
        if not isinstance(spec, dict) or not spec:
            raise _fail(source, survey, which, "map must be a non-empty mapping of flag -> value")
        for k, v in spec.items():
            check_out(v, f"map[{k!r}]")
    elif kind == "ranges":
        if not isinstance(spec, list) or not spec:
            raise _fail(source, survey, which, "ranges must be a list of {min, max, value}")
        for i, r in enumerate(spec):
            if not isinstance(r, dict) or "value" not in r or not ({"min", "max"} & set(r)):
                raise _fail(
                    source, survey, f"{which} ranges[{i}]", "needs value and min and/or max"
                )
            extra_keys = set(r) - {"min", "max", "value", "min_exclusive", "max_inclusive"}
            if extra_keys:
                raise _fail(
                    source, survey, f"{which} ranges[{i}]", f"unknown key(s) {sorted(extra_keys)}"
                )
            check_out(r["value"], f"ranges[{i}]")
    elif kind == "rules":
        if not isinstance(spec, list) or not spec:
            raise _fail(source, survey, which, "rules must be a list of {when, value}")
        for i, r in enumerate(spec):
            if not isinstance(r, dict) or set(r) != {"when", "value"}:
                raise _fail(
                    source, survey, f"{which} rules[{i}]", "each rule is {when: {...}, value: V}"
                )
            _check_condition(r["when"], survey, f"{which} rules[{i}].when", source)
            check_out(r["value"], f"rules[{i}]")
    if "default" in body:
        check_out(body["default"], "default")
    return Target(
        kind=kind,
        spec=spec,
        column=str(body.get("column", which if which == "z_flag" else "type")),
        last_digit=bool(body.get("last_digit", False)),
        default=body.get("default"),
        has_default="default" in body,
    )


def _check_condition(cond: Any, survey: str, where: str, source: str) -> None:
    if not isinstance(cond, dict) or not cond:
        raise _fail(
            source, survey, where, "a condition is a mapping of column -> {operator: value}"
        )
    for key, test in cond.items():
        if key in ("any", "all"):
            if not isinstance(test, list) or not test:
                raise _fail(source, survey, f"{where}.{key}", "must be a list of conditions")
            for j, sub in enumerate(test):
                _check_condition(sub, survey, f"{where}.{key}[{j}]", source)
            continue
        if isinstance(test, dict):
            bad = set(test) - set(OPERATORS)
            if bad:
                raise _fail(
                    source,
                    survey,
                    f"{where}.{key}",
                    f"unknown operator(s) {sorted(bad)}; allowed: {', '.join(OPERATORS)}",
                )
            if "between" in test and (
                not isinstance(test["between"], list) or len(test["between"]) != 2
            ):
                raise _fail(source, survey, f"{where}.{key}", "between takes [low, high]")
            for op in ("in", "not_in"):
                if op in test and not isinstance(test[op], list):
                    raise _fail(source, survey, f"{where}.{key}", f"{op} takes a list")
            if "startswith" in test:
                values = test["startswith"]
                values = values if isinstance(values, list) else [values]
                if not values or not all(isinstance(v, str) and v for v in values):
                    raise _fail(
                        source,
                        survey,
                        f"{where}.{key}",
                        "startswith takes a text or a list of texts",
                    )
            for op in ("last_digit", "bits_any"):
                if op in test:
                    values = test[op] if isinstance(test[op], list) else [test[op]]
                    if not values or not all(
                        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
                    ):
                        raise _fail(
                            source,
                            survey,
                            f"{where}.{key}",
                            f"{op} takes a non-negative integer or a list of them",
                        )


def _condition_columns(cond: dict) -> set[str]:
    cols: set[str] = set()
    for key, test in cond.items():
        if key in ("any", "all"):
            for sub in test:
                cols |= _condition_columns(sub)
        else:
            cols.add(key)
    return cols


def _target_columns(t: Target) -> set[str]:
    if t.kind == "value":
        return set()
    if t.kind == "rules":
        cols: set[str] = set()
        for r in t.spec:
            cols |= _condition_columns(r["when"])
        return cols
    return {t.column}


def _target_dict(t: Target) -> dict[str, Any]:
    d: dict[str, Any] = {t.kind: t.spec}
    if t.kind in ("map", "ranges"):
        d["column"] = t.column
    if t.last_digit:
        d["last_digit"] = True
    if t.has_default:
        d["default"] = t.default
    return d


SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _value(v: Any) -> str:
    return "[" + ", ".join(_value(x) for x in v) + "]" if isinstance(v, list) else repr(v)


def _explain_test(key: str, op: str, val: Any) -> str:
    """One test in the notation of ``surveys explain``: ``z_flag >= 3``, ``z is null``."""
    if op in SYMBOLS:
        return f"{key} {SYMBOLS[op]} {_value(val)}"
    if op in ("is_null", "not_null"):
        null = (op == "is_null") == bool(True if val is None else val)
        return f"{key} is null" if null else f"{key} is not null"
    if op == "between":
        return f"{_value(val[0])} <= {key} <= {_value(val[1])}"
    if op in ("in", "not_in"):
        return f"{key} {'in' if op == 'in' else 'not in'} {_value(list(val))}"
    if op == "last_digit":
        return f"last digit of {key} in {_value(val if isinstance(val, list) else [val])}"
    if op == "bits_any":
        return f"{key} has any of bits {_value(val if isinstance(val, list) else [val])}"
    if op == "startswith":
        return f"{key} starts with {_value(val if isinstance(val, list) else [val])}"
    return f"{key} {op} {_value(val)}"


def _explain_condition(cond: dict) -> str:
    parts = []
    for key, test in cond.items():
        if key in ("any", "all"):
            joiner = " or " if key == "any" else " and "
            parts.append("(" + joiner.join(_explain_condition(c) for c in test) + ")")
        elif isinstance(test, dict):
            parts += [_explain_test(key, op, val) for op, val in test.items()]
        else:
            parts.append(_explain_test(key, "eq", test))
    return " and ".join(parts)


def _explain_target(t: Target) -> list[str]:
    if t.kind == "value":
        return [f"always {t.spec!r}"]
    lines = []
    if t.kind == "map":
        src = f"last digit of {t.column}" if t.last_digit else t.column
        lines += [f"if {src} == {k!r} -> {v!r}" for k, v in t.spec.items()]
    elif t.kind == "ranges":
        for r in t.spec:
            lo = f"{r['min']} {'<' if r.get('min_exclusive') else '<='} " if "min" in r else ""
            hi = f" {'<=' if r.get('max_inclusive') else '<'} {r['max']}" if "max" in r else ""
            lines.append(f"if {lo}{t.column}{hi} -> {r['value']!r}")
    else:
        lines += [f"if {_explain_condition(r['when'])} -> {r['value']!r}" for r in t.spec]
        lines.append("first matching rule wins")
    lines.append(
        f"otherwise -> {'null (unknown)' if t.default is None else repr(t.default)}"
        if t.has_default
        else "otherwise -> outside the documented values (homogenization.on_unknown_flag)"
    )
    return lines


def target_scale(t: Target) -> str:
    """What a rule reads and the values it gives, in one line: ``z_flag (5 values) -> 0, 1, 3,
    4, 6``; ``always 's'``."""
    if t.kind == "value":
        return f"always {t.spec!r}"
    if t.kind == "map":
        values = list(t.spec.values())
        src = f"last digit of {t.column}" if t.last_digit else t.column
        reads = f"{src} ({len(t.spec)} values)"
    elif t.kind == "ranges":
        values = [r["value"] for r in t.spec]
        reads = f"{t.column} ({len(t.spec)} ranges)"
    else:
        values = [r["value"] for r in t.spec]
        columns = sorted(set().union(*(_condition_columns(r["when"]) for r in t.spec)))
        reads = f"{', '.join(columns)} ({len(t.spec)} rules)"
    if t.has_default:
        values.append(t.default)
    shown = sorted({v for v in values if v is not None}, key=lambda v: (str(type(v)), v))
    shown_text = ", ".join(str(v) for v in shown) + (", null" if None in values else "")
    return f"{reads} -> {shown_text}"


# --- applying ------------------------------------------------------------------------------


def _as_number(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _key(v: Any) -> Any:
    """Map keys and values compared in one form: numbers as float (rounded to DECIMALS, so a
    float32 2.4 equals 2.4), text stripped."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return round(float(v), DECIMALS)
    try:
        return round(float(str(v).strip()), DECIMALS)
    except ValueError:
        return str(v).strip()


def _keys(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s.astype("float64").round(DECIMALS)
    text = s.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce").round(DECIMALS)
    return pd.Series(
        np.where(numbers.notna(), numbers.astype(object), text.astype(object)),
        index=s.index,
        dtype=object,
    ).where(s.notna())


def _last_digit(s: pd.Series) -> pd.Series:
    """Last digit of the integer part (12.5 -> 2, 219 -> 9); negative flags have none (NaN):
    VVDS-family negative flags mean "not usable", not the class of their last digit."""
    num = _as_number(s).to_numpy()
    with np.errstate(invalid="ignore"):
        digit = np.where(num >= 0, np.floor(num) % 10, np.nan)
    return pd.Series(digit, index=s.index)


def _compare(values: pd.Series, op: str, arg: Any) -> np.ndarray:
    if op == "is_null":
        return values.isna().to_numpy() == bool(arg if arg is not None else True)
    if op == "not_null":
        return values.notna().to_numpy() == bool(arg if arg is not None else True)
    if op in ("in", "not_in"):
        keys = _keys(values)
        hit = keys.isin([_key(a) for a in arg]).to_numpy()
        return hit if op == "in" else (~hit & values.notna().to_numpy())
    if op in ("eq", "ne") and not isinstance(arg, (int, float, bool)):
        text = values.astype("string").str.strip()
        hit = (text == str(arg).strip()).fillna(False).to_numpy(dtype=bool)
        return hit if op == "eq" else (~hit & values.notna().to_numpy())
    if op == "startswith":
        prefixes = tuple(str(a) for a in (arg if isinstance(arg, list) else [arg]))
        text = values.astype("string").str.strip()
        return text.str.startswith(prefixes).fillna(False).to_numpy(dtype=bool)
    if op == "last_digit":
        digits = [float(a) for a in (arg if isinstance(arg, list) else [arg])]
        return _last_digit(values).isin(digits).to_numpy()
    if op == "bits_any":
        num = _as_number(values).to_numpy()
        ok = np.isfinite(num) & (num >= 0) & (num == np.floor(np.nan_to_num(num)))
        ints = np.where(ok, np.nan_to_num(num), 0).astype(np.int64)
        mask = 0
        for bit in arg if isinstance(arg, list) else [arg]:
            mask |= 1 << int(bit)
        return ok & ((ints & mask) != 0)
    num = _as_number(values).to_numpy()
    with np.errstate(invalid="ignore"):
        if op == "between":
            return (num >= float(arg[0])) & (num <= float(arg[1]))
        a = float(arg)
        if op in ("eq", "ne"):
            num = np.round(num, DECIMALS)
            a = round(a, DECIMALS)
        return {
            "eq": num == a,
            "ne": (num != a) & ~np.isnan(num),
            "lt": num < a,
            "le": num <= a,
            "gt": num > a,
            "ge": num >= a,
        }[op]


def _evaluate(df: pd.DataFrame, cond: dict) -> np.ndarray:
    mask = np.ones(len(df), dtype=bool)
    for key, test in cond.items():
        if key == "any":
            sub = np.zeros(len(df), dtype=bool)
            for c in test:
                sub |= _evaluate(df, c)
            mask &= sub
        elif key == "all":
            for c in test:
                mask &= _evaluate(df, c)
        else:
            values = df[key]
            tests = test if isinstance(test, dict) else {"eq": test}
            for op, arg in tests.items():
                mask &= _compare(values, op, arg)
    return mask


def _apply_target(df: pd.DataFrame, t: Target) -> tuple[pd.Series, np.ndarray]:
    """Homogenized values (object Series, None = unknown) and the mask of unmatched non-null input."""
    n = len(df)
    if t.kind == "value":
        return pd.Series([t.spec] * n, index=df.index, dtype=object), np.zeros(n, dtype=bool)
    out = pd.Series([None] * n, index=df.index, dtype=object)
    matched = np.zeros(n, dtype=bool)
    present = np.ones(n, dtype=bool)
    if t.kind == "map":
        src = df[t.column]
        present = src.notna().to_numpy()
        keys = _last_digit(src) if t.last_digit else _keys(src)
        lookup = {_key(k): v for k, v in t.spec.items()}
        matched = keys.isin(list(lookup)).to_numpy() & present
        out[matched] = keys[matched].map(lookup).to_numpy()
    elif t.kind == "ranges":
        num = _as_number(df[t.column]).to_numpy()
        present = ~np.isnan(num)
        for r in t.spec:
            m = ~matched & present
            with np.errstate(invalid="ignore"):
                if "min" in r:
                    m &= (num > r["min"]) if r.get("min_exclusive") else (num >= r["min"])
                if "max" in r:
                    m &= (num <= r["max"]) if r.get("max_inclusive") else (num < r["max"])
            out[m] = r["value"]
            matched |= m
    else:
        for r in t.spec:
            m = ~matched & _evaluate(df, r["when"])
            out[m] = r["value"]
            matched |= m
        if t.column in df.columns:  # a missing flag no rule matched is unknown, not an error
            present = df[t.column].notna().to_numpy()
    if t.has_default:
        out[~matched] = t.default
        return out, np.zeros(n, dtype=bool)
    return out, ~matched & present


def homogenize(
    df: pd.DataFrame, rulebook: RuleBook, *, on_unknown_flag: str = "error", context: str = ""
) -> pd.DataFrame:
    """Add z_flag_homogenized (Int8) and type_homogenized (string) using each row's survey rules."""
    if on_unknown_flag not in ("error", "null"):
        raise HomogenizationError(
            f"on_unknown_flag must be 'error' or 'null', not {on_unknown_flag!r}"
        )
    prefix = f"{context}: " if context else ""
    if "survey" not in df.columns:
        raise HomogenizationError(f"{prefix}no survey column; say where the survey name comes from")
    out = df.copy()
    flags = pd.Series([None] * len(df), index=df.index, dtype=object)
    types = pd.Series([None] * len(df), index=df.index, dtype=object)
    surveys = df["survey"].astype("string")
    if surveys.isna().any():
        rows = np.flatnonzero(surveys.isna().to_numpy())[:MAX_EXAMPLES].tolist()
        raise HomogenizationError(
            f"{prefix}survey name is empty in {int(surveys.isna().sum())} rows (e.g. rows {rows})"
        )
    for raw_name in pd.unique(surveys):
        name = rulebook.resolve(raw_name)
        survey = rulebook.surveys[name]
        mask = (surveys == raw_name).to_numpy()
        part = df.loc[mask]
        missing = []
        for col in sorted(_target_columns(survey.z_flag) | _target_columns(survey.type)):
            if col not in part.columns:
                if col in survey.defaults:
                    part = part.assign(**{col: survey.defaults[col]})
                else:
                    missing.append(col)
        if missing:
            raise HomogenizationError(
                f"{prefix}survey {name}'s rules read column(s) {', '.join(missing)}, which the catalog "
                "does not provide; map z_flag / z_err / type in the catalog's `columns:`, keep the other "
                f"columns in the file (see `pzforge surveys explain {name}`), or give the rule "
                "`defaults:` for columns a file may lack"
            )
        for target, series, label in (
            (survey.z_flag, flags, "z_flag"),
            (survey.type, types, "type"),
        ):
            values, unknown = _apply_target(part, target)
            if unknown.any():
                column = target.column
                if on_unknown_flag == "error":
                    raw = part[column] if column in part.columns else pd.Series(dtype=object)
                    counts = raw[unknown].astype("string").value_counts().head(MAX_EXAMPLES)
                    positions = part.index[unknown][:MAX_EXAMPLES].tolist()
                    shown = ", ".join(f"{v!r} ({n} rows)" for v, n in counts.items())
                    raise HomogenizationError(
                        f"{prefix}{label} values outside survey {name}'s documented values in column "
                        f"{column!r}: {shown} (e.g. rows {positions}). Fix the data, override survey "
                        f"{name}'s rule in your own rules file (homogenization.surveys_file, which adds "
                        "to the shipped rules; docs/surveys.md), or set homogenization.on_unknown_flag: "
                        "null to mark them unknown"
                    )
            series[mask] = values.to_numpy()
    out["z_flag_homogenized"] = pd.array(pd.to_numeric(flags, errors="coerce"), dtype="Int8")
    out["type_homogenized"] = types.astype("string")
    return out


def check_homogenized(df: pd.DataFrame, *, context: str = "") -> None:
    """Catalogs whose flags are already homogenized: check the values are on the common scale."""
    prefix = f"{context}: " if context else ""
    if "z_flag_homogenized" in df.columns:
        num = pd.to_numeric(df["z_flag_homogenized"], errors="coerce")
        bad = (df["z_flag_homogenized"].notna() & ~num.isin(FLAG_VALUES)).to_numpy()
        if bad.any():
            _raise_bad(
                df["z_flag_homogenized"], bad, f"{prefix}z_flag values", "0, 1, 2, 3, 4, 6 or null"
            )
    if "type_homogenized" in df.columns:
        text = df["type_homogenized"].astype("string").str.strip()
        bad = (text.notna() & ~text.isin(TYPE_VALUES)).to_numpy(dtype=bool)
        if bad.any():
            _raise_bad(df["type_homogenized"], bad, f"{prefix}type values", "s, g, p or null")


def _raise_bad(values: pd.Series, bad: np.ndarray, what: str, allowed: str) -> None:
    counts = values[bad].astype("string").value_counts().head(MAX_EXAMPLES)
    rows = np.flatnonzero(bad)[:MAX_EXAMPLES].tolist()
    raise HomogenizationError(
        f"{what} are not on the homogenized scale ({allowed}): "
        + ", ".join(f"{v!r} ({n} rows)" for v, n in counts.items())
        + f" (e.g. rows {rows}); fix them, or set flags_homogenized: false and name the survey's rules"
    )
