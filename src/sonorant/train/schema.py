"""Build frozen config dataclasses from parsed YAML/TOML, with errors that name the file and the key.

The schema *is* the dataclasses: a field's type annotation says what it accepts, its default says whether it
is required (no default: required), its `metadata` adds a range (`"range": (low, high)`, either end None for
open), a set of choices (`"choices": (...)`) or a file that must exist (`"exists": True`), and the string
literal under it is its documentation (read with `ast`, so help text and the code never drift apart).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import math
import textwrap
import types
import typing
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError


class SchemaError(ConfigError):
    """A training config file does not match the schema (an unknown or missing key, a wrong type or value)."""


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstrings of a dataclass's fields: the string literal that follows each annotated attribute."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple, dict):
        args = typing.get_args(tp)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            args = args[:1]
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if tp is type(None):
        return "none"
    if tp is Any:
        return "any"
    if dataclasses.is_dataclass(tp):
        return "table"
    if tp is Path:
        return "path"
    return getattr(tp, "__name__", str(tp))


class _Where:
    """A position in a config file, for messages: the file and the dotted key."""

    def __init__(self, source: str, key: str = "") -> None:
        self.source, self.key = source, key

    def at(self, name: str | int) -> "_Where":
        key = f"{self.key}[{name}]" if isinstance(name, int) else (f"{self.key}.{name}" if self.key else name)
        return _Where(self.source, key)

    def fail(self, message: str) -> SchemaError:
        return SchemaError(f"{self.source}: {self.key}: {message}" if self.key else f"{self.source}: {message}")


def _convert(value: Any, tp: Any, where: _Where, base: Path | None) -> Any:
    """`value` as type `tp`, or a SchemaError naming the key."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise where.fail("must be set (null is not allowed here)")
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _convert(value, option, where, base)
            except SchemaError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else where.fail(f"expected {_type_name(tp)}, got {_describe(value)}")
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise where.fail(f"expected a table of settings, got {_describe(value)}")
        return build(tp, value, where.source, base, where.key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise where.fail(f"expected true or false, got {_describe(value)}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise where.fail(f"expected an integer, got {_describe(value)}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise where.fail(f"must be a finite number, got {value}")
            return float(value)
        raise where.fail(f"expected a number, got {_describe(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise where.fail(f"expected a string, got {_describe(value)}")
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise where.fail(f"expected a path (a non-empty string), got {_describe(value)}")
        path = Path(value).expanduser()
        return path if path.is_absolute() or base is None else base / path
    if origin is list or origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise where.fail(f"expected a list, got {_describe(value)}")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise where.fail(f"expected a list of {len(args)} items, got {len(value)}")
            return tuple(_convert(v, a, where.at(i), base) for i, (v, a) in enumerate(zip(value, args)))
        items = [_convert(v, args[0], where.at(i), base) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise where.fail(f"expected a table, got {_describe(value)}")
        key_type, value_type = typing.get_args(tp)
        return {_convert(k, key_type, where.at(str(k)), base): _convert(v, value_type, where.at(str(k)), base)
                for k, v in value.items()}
    raise TypeError(f"schema type {tp!r} is not supported")  # a bug in a schema, not in a config file


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return f"{value!r} (a string)"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _check(value: Any, f: dataclasses.Field, where: _Where) -> None:
    """The metadata checks of one field: range, choices, existing file."""
    if value is None:
        return
    meta = f.metadata
    if "choices" in meta:
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v not in meta["choices"]:
                hint = difflib.get_close_matches(str(v), [str(c) for c in meta["choices"]], n=1)
                raise where.fail(f"{v!r} is not one of {', '.join(map(repr, meta['choices']))}"
                                 + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    if "range" in meta:
        low, high = meta["range"]
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if (low is not None and v < low) or (high is not None and v > high):
                raise where.fail(f"{v!r} is out of range: it must be {_range_text(low, high)}")
    if meta.get("exists"):
        paths = value if isinstance(value, (list, tuple)) else [value]
        for p in paths:
            if not Path(p).is_file():
                raise where.fail(f"file {str(p)!r} does not exist")


def _range_text(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f">= {low}" if low is not None else f"<= {high}"


def build(cls: type, data: Mapping[str, Any], source: str, base: Path | None = None, key: str = "") -> Any:
    """An instance of dataclass `cls` from `data`; every key checked. `base`: the directory relative paths
    are read from (the config file's own); `source`: the file named in errors."""
    where = _Where(source, key)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for name in data:
        if name not in fields:
            hint = difflib.get_close_matches(str(name), list(fields), n=1, cutoff=0.6)
            known = ", ".join(fields)
            raise where.at(str(name)).fail("unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                                           + f"; known keys here: {known}")
    values = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise where.at(name).fail(f"missing required key ({field_docs(cls).get(name, '')})")
            continue
        value = _convert(data[name], hints[name], where.at(name), base)
        _check(value, f, where.at(name))
        values[name] = value
    return cls(**values)


def to_plain(obj: Any) -> Any:
    """A dataclass (nested) as plain JSON/TOML-friendly data: paths become strings, tuples lists."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    return obj


def describe_schema(cls: type, indent: str = "") -> list[str]:
    """Documentation lines of a schema: every key with its type, default or 'required', limits and doc."""
    lines: list[str] = []
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints[f.name]
        inner = [a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)]
        nested = tp if dataclasses.is_dataclass(tp) else (inner[0] if inner else None)
        if f.default is not dataclasses.MISSING:
            default = "" if nested is not None and f.default is None else f" = {to_plain(f.default)!r}"
        elif f.default_factory is not dataclasses.MISSING:
            made = f.default_factory()
            default = "" if dataclasses.is_dataclass(made) else f" = {to_plain(made)!r}"
        else:
            default = "  (required)"
        limits = []
        if "choices" in f.metadata:
            limits.append("one of " + ", ".join(map(repr, f.metadata["choices"])))
        if "range" in f.metadata:
            limits.append(_range_text(*f.metadata["range"]))
        if f.metadata.get("exists"):
            limits.append("an existing file")
        type_text = "table" if nested is not None and tp is nested else _type_name(tp)
        lines.append(f"{indent}{f.name}: {type_text}{default}" + (f"  [{'; '.join(limits)}]" if limits else ""))
        for line in textwrap.wrap(docs.get(f.name, ""), 100 - len(indent)):
            lines.append(f"{indent}    {line}")
        if nested is not None:
            lines.extend(describe_schema(nested, indent + "  "))
    return lines
