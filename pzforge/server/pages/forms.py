"""A pipeline's run form, made from its config JSON schema, and the config read back from it.

Every key of the schema becomes a labelled control named by its path (``catalogs.0.columns.ra``):
objects are fieldsets with their description, enums are selects, booleans a yes/no select,
numbers number inputs with the schema's range, lists of numbers or words one comma-separated
text field, free-form maps a JSON text area, a list of objects (the catalogs) one fieldset per
item with an "add another" button, and every ``product`` key a select among the products the
user can read. Defaults are filled in and help text is the key's description.

Reading the form back, an empty field is left out (the pipeline's default applies), a list
item whose fields are all empty or default is dropped, and a value of the wrong kind is a
problem shown next to its field. The config is then checked exactly as ``POST /api/v1/runs``
checks it (``submissions.check_run``); its problems are put next to the fields they name.
"""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup, escape

SKIP = ("pipeline",)  # set by the page, not asked
# shown at once; every other key of an object waits behind "More settings" (opened when one of
# them was changed or has a problem)
PRIMARY = ("run_name", "name", "product", "columns", "survey", "catalogs", "reference",
           "photometry", "input", "features", "output", "formats")  # fmt: skip
PROBLEM = re.compile(r"^config (?:key )?([\w\[\].-]+): (.*)$", re.S)
REQUIRED = re.compile(r"^'([\w-]+)' is a required property")


def _types(schema: dict[str, Any]) -> tuple[str, bool]:
    t = schema.get("type", "string")
    types = t if isinstance(t, list) else [t]
    nullable = "null" in types
    base = next((x for x in types if x != "null"), "string")
    return base, nullable


def _fid(name: str) -> str:
    return "f-" + name.replace(".", "-")


def _label(key: str) -> str:
    return key.replace("_", " ")


class FormBuilder:
    def __init__(
        self,
        values: dict[str, str],
        problems: dict[str, str],
        products: list[tuple[str, str]],
    ):
        self.values, self.problems, self.products = values, problems, products
        self.initial: dict[str, str] = {}  # what each control showed before any answer

    def render(self, schema: dict[str, Any]) -> Markup:
        return Markup(self.children(schema, ""))

    def children(self, schema: dict[str, Any], name: str) -> str:
        """An object's keys: the main ones, then the others behind "More settings"."""
        required = set(schema.get("required", []))
        main, more, changed = [], [], False
        for key, sub in schema.get("properties", {}).items():
            if key in SKIP:
                continue
            path = f"{name}.{key}" if name else key
            html = self.node(key, sub, path, key in required)
            if key in required or key in PRIMARY:
                main.append(html)
            else:
                more.append(html)
                changed = (
                    changed
                    or any(k == path or k.startswith(path + ".") for k in self.problems)
                    or self.touched(path)
                )
        if more and not main:  # nothing stands out (survey: column or value): show them all
            main, more = more, []
        if more:
            main.append(
                f'<details class="more"{" open" if changed else ""}>'
                "<summary>More settings</summary>" + "".join(more) + "</details>"
            )
        return "".join(main)

    def touched(self, path: str) -> bool:
        """Whether a submitted value under ``path`` differs from what the form first showed."""
        return any(
            (k == path or k.startswith(path + ".")) and v.strip() != self.initial.get(k, "")
            for k, v in self.values.items()
        )

    def node(self, key: str, schema: dict[str, Any], name: str, required: bool) -> str:
        base, _nullable = _types(schema)
        if base == "object" and "properties" in schema:
            return self.fieldset(key, schema, name)
        if base == "array" and _types(schema.get("items", {}))[0] == "object":
            return self.repeated(key, schema, name)
        return self.control(key, schema, name, required)

    def fieldset(self, key: str, schema: dict[str, Any], name: str, legend: str | None = None):
        inner = self.children(schema, name)
        error = self.problems.get(name)
        return (
            f'<fieldset id="{_fid(name)}"><legend>{escape(legend or _label(key))}</legend>'
            + (
                f'<p class="description">{escape(schema["description"])}</p>'
                if schema.get("description")
                else ""
            )
            + (f'<p class="error" role="alert">{escape(error)}</p>' if error else "")
            + inner
            + "</fieldset>"
        )

    def repeated(self, key: str, schema: dict[str, Any], name: str) -> str:
        items = schema.get("items", {})
        present = {
            int(m.group(1))
            for v in self.values
            if (m := re.match(re.escape(name) + r"\.(\d+)\.", v))
        }
        count = max([schema.get("minItems", 0), *(i + 1 for i in present)])
        label = _label(key).rstrip("s")
        blocks = [
            self.fieldset(key, items, f"{name}.{i}", legend=f"{label} {i + 1}")
            for i in range(count)
        ]
        template = FormBuilder({}, {}, self.products).fieldset(
            key, items, f"{name}.__INDEX__", legend=f"{label} __NUMBER__"
        )
        error = self.problems.get(name)
        return (
            f'<section class="repeated"><h3>{escape(_label(key))}</h3>'
            + (
                f'<p class="description">{escape(schema["description"])}</p>'
                if schema.get("description")
                else ""
            )
            + (f'<p class="error" role="alert">{escape(error)}</p>' if error else "")
            + f'<div id="{_fid(name)}-items">'
            + "".join(blocks)
            + "</div>"
            + f'<template id="{_fid(name)}-template">{template}</template>'
            + f'<button type="button" class="secondary" data-add-item="{_fid(name)}-template" '
            f'data-into="{_fid(name)}-items">Add another {escape(label)}</button></section>'
        )

    def control(self, key: str, schema: dict[str, Any], name: str, required: bool) -> str:
        base, nullable = _types(schema)
        fid = _fid(name)
        default = schema.get("default")
        value = self.values.get(name)
        self.initial[name] = _shown(default, schema)
        if value is None:
            value = _shown(default, schema)
        error = self.problems.get(name)
        help_text = (schema.get("description", "") + _format_note(key, schema)).strip()
        hint = []
        if "minimum" in schema or "maximum" in schema:
            hint.append(f"from {schema.get('minimum', '…')} to {schema.get('maximum', '…')}")
        for bound, words in (("exclusiveMinimum", "more than"), ("exclusiveMaximum", "less than")):
            if bound in schema:
                hint.append(f"{words} {schema[bound]}")
        if default not in (None, "", [], {}):
            hint.append(f"default {_shown(default, schema)}")
        described = " ".join(
            x for x in (f"h-{fid}" if help_text or hint else "", f"e-{fid}" if error else "") if x
        )
        common = (
            f'id="{fid}" name="{escape(name)}"'
            + (f' aria-describedby="{described}"' if described else "")
            + (' aria-invalid="true"' if error else "")
        )
        if key == "product":
            options = ['<option value="">(none)</option>'] + [
                f'<option value="{escape(v)}"{" selected" if v == value else ""}>{escape(t)}</option>'
                for v, t in self.products
            ]
            widget = f"<select {common}>{''.join(options)}</select>"
        elif "enum" in schema:
            choices = [c for c in schema["enum"] if c is not None]
            options = [] if required and not nullable else ['<option value="">(default)</option>']
            options += [
                f'<option value="{escape(c)}"{" selected" if str(c) == value else ""}>{escape(c)}</option>'
                for c in choices
            ]
            widget = f"<select {common}>{''.join(options)}</select>"
        elif base == "boolean":
            options = [
                f'<option value="{v}"{" selected" if v == value else ""}>{t}</option>'
                for v, t in (("true", "yes"), ("false", "no"))
            ]
            widget = f"<select {common}>{''.join(options)}</select>"
        elif base in ("integer", "number"):
            attrs = ' step="1"' if base == "integer" else ' step="any"'
            for bound, attr in (("minimum", "min"), ("maximum", "max")):
                if bound in schema:
                    attrs += f' {attr}="{schema[bound]}"'
            widget = f'<input type="number" {common} value="{escape(value)}"{attrs}>'
        elif base == "object" or base == "array" and _types(schema.get("items", {}))[0] == "object":
            widget = f'<textarea {common} rows="3">{escape(value)}</textarea>'
        else:
            widget = f'<input type="text" {common} value="{escape(value)}">'
        help_html = (
            f'<p class="help" id="h-{fid}">{escape(help_text)}'
            + (
                f' <span class="muted">({escape("; ".join(hint))})</span>'
                if hint and help_text
                else ""
            )
            + (escape("; ".join(hint).capitalize()) if hint and not help_text else "")
            + "</p>"
            if help_text or hint
            else ""
        )
        return (
            f'<div class="field{" has-error" if error else ""}">'
            f'<label for="{fid}">{escape(schema.get("title") or _label(key))}'
            + (
                ' <span class="req" aria-hidden="true">*</span>'
                if required and default is None
                else ""
            )
            + f"</label>{widget}{help_html}"
            + (f'<p class="error" id="e-{fid}" role="alert">{escape(error)}</p>' if error else "")
            + "</div>"
        )


def _format_note(key: str, schema: dict[str, Any]) -> str:
    """How a control that is not a select or a number is typed: JSON or a comma-separated list."""
    base, _ = _types(schema)
    if key == "product" or "enum" in schema or base not in ("object", "array"):
        return ""
    if base == "object" or _types(schema.get("items", {}))[0] == "object":
        return " (JSON)"
    return " (comma-separated)"


def _shown(value: Any, schema: dict[str, Any]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and _types(schema.get("items", {}))[0] != "object":
        return ", ".join(str(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value) if value else ""
    return str(value)


def render_form(schema, values, problems, products) -> Markup:
    return FormBuilder(values, problems, products).render(schema)


# --- reading the form back -----------------------------------------------------------------------


def _schema_at(schema: dict[str, Any], parts: list[str]) -> dict[str, Any] | None:
    for part in parts:
        base, _ = _types(schema)
        if base == "array":
            if not part.isdigit():
                return None
            schema = schema.get("items", {})
        elif base == "object":
            props = schema.get("properties", {})
            if part not in props:
                return None
            schema = props[part]
        else:
            return None
    return schema


def _convert(raw: str, schema: dict[str, Any], key: str) -> Any:
    base, _ = _types(schema)
    if key == "product":
        return int(raw) if raw.isdigit() else raw
    if "enum" in schema and base != "array":
        for choice in schema["enum"]:
            if str(choice) == raw:
                return choice
        raise ValueError(
            f"choose one of {', '.join(str(c) for c in schema['enum'] if c is not None)}"
        )
    if base == "boolean":
        if raw not in ("true", "false"):
            raise ValueError("yes or no")
        return raw == "true"
    if base == "integer":
        try:
            return int(raw)
        except ValueError:
            raise ValueError("a whole number") from None
    if base == "number":
        try:
            return float(raw)
        except ValueError:
            raise ValueError("a number") from None
    if base == "array":
        item = schema.get("items", {})
        if _types(item)[0] == "object":
            return json.loads(raw)
        return [_convert(x.strip(), item, "") for x in raw.split(",") if x.strip()]
    if base == "object":
        try:
            value = json.loads(raw)
        except ValueError:
            raise ValueError('JSON, e.g. {"key": "value"}') from None
        if not isinstance(value, dict):
            raise ValueError('a JSON object, e.g. {"key": "value"}')
        return value
    return raw


def read_form(
    schema: dict[str, Any], fields: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The config the form describes, and the problems of fields that cannot be read."""
    tree: dict[str, Any] = {}
    problems: dict[str, str] = {}
    defaults: dict[str, bool] = {}
    for name, raw in fields.items():
        parts = name.split(".")
        sub = _schema_at(schema, parts)
        if sub is None or parts[0] in SKIP:
            continue
        raw = raw.strip()
        if raw == "":
            continue
        try:
            value = _convert(raw, sub, parts[-1])
        except ValueError as exc:
            problems[name] = str(exc)
            continue
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
        defaults[name] = value == sub.get("default")
    config = _tidy(tree, schema, "", defaults)
    return (config if isinstance(config, dict) else {}), problems


def _tidy(node: Any, schema: dict[str, Any], name: str, defaults: dict[str, bool]) -> Any:
    """Index maps back into lists; list items with nothing but defaults dropped; empty objects
    dropped."""
    if not isinstance(node, dict):
        return node
    base, _ = _types(schema)
    if base == "array":
        items = []
        for index in sorted(node, key=int):
            prefix = f"{name}.{index}"
            if all(v for k, v in defaults.items() if k.startswith(prefix + ".")):
                continue  # only defaults: an empty row of the form
            value = _tidy(node[index], schema.get("items", {}), prefix, defaults)
            if value not in ({}, None):
                items.append(value)
        return items
    out = {}
    for key, value in node.items():
        sub = schema.get("properties", {}).get(key, {})
        tidy = _tidy(value, sub, f"{name}.{key}" if name else key, defaults)
        if (
            tidy == {}
            and isinstance(value, dict)
            and _types(sub)[0] == "object"
            and "properties" in sub
        ):
            continue
        out[key] = tidy
    return out


def place_problems(problems: list[str], fields: set[str]) -> tuple[dict[str, str], list[str]]:
    """Problems of the config check put next to their fields (by the key path they name); the
    others are returned to be listed above the form."""
    placed: dict[str, str] = {}
    rest = []
    for problem in problems:
        m = PROBLEM.match(problem)
        where = None
        if m:
            path = re.sub(r"\[(\d+)\]", r".\1", m.group(1))
            text = m.group(2)
            req = REQUIRED.match(text)
            candidates = [f"{path}.{req.group(1)}"] if req else []
            candidates += [path]
            where = next((c for c in candidates if c in fields), None)
            if where is not None:
                placed[where] = (placed[where] + "; " if where in placed else "") + text
                continue
        rest.append(problem)
    return placed, rest
