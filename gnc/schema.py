"""Load plain dicts (parsed TOML) into frozen, validated dataclasses.

Each field declares its unit and allowed range with ``spec``; ``load`` walks the dataclass, checks
types, ranges and choices, rejects unknown keys, and raises ConfigError with one line naming the
field path, the value and what is allowed.
"""

import dataclasses
import math
import types
import typing

_MISSING = dataclasses.MISSING


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""

    def __init__(self, path: str, value, allowed: str):
        self.path, self.value, self.allowed = path, value, allowed
        if value is _MISSING:
            shown = "(missing)"
        elif isinstance(value, dict):
            shown = "{...}"
        else:
            shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        super().__init__(f"{path} = {shown}: {allowed}")


def spec(default=_MISSING, *, unit: str = "", gt=None, ge=None, lt=None, le=None,
         choices=None, doc: str = ""):
    """A dataclass field carrying its unit, bounds (gt/ge/lt/le), and choices."""
    meta = dict(unit=unit, gt=gt, ge=ge, lt=lt, le=le, choices=choices, doc=doc)
    return dataclasses.field(default=default, metadata=meta)


def _describe(meta) -> str:
    parts = []
    for key, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if meta.get(key) is not None:
            parts.append(f"{sym} {meta[key]}")
    if meta.get("choices"):
        parts.append("one of " + ", ".join(repr(c) for c in meta["choices"]))
    unit = f" ({meta['unit']})" if meta.get("unit") else ""
    return ("must be " + " and ".join(parts) + unit) if parts else ("any value" + unit)


def _check_number(path, value, meta):
    if not math.isfinite(value):
        raise ConfigError(path, value, "must be a finite number")
    for key, ok in (("gt", lambda a, b: a > b), ("ge", lambda a, b: a >= b),
                    ("lt", lambda a, b: a < b), ("le", lambda a, b: a <= b)):
        bound = meta.get(key)
        if bound is not None and not ok(value, bound):
            raise ConfigError(path, value, _describe(meta))


def _coerce(path, value, tp, meta):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return load(tp, value, path)
    if origin in (typing.Union, types.UnionType):
        return _load_union(path, value, typing.get_args(tp))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, value, "must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, value, "must be an integer " + _describe(meta))
        _check_number(path, value, meta)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, value, "must be a number " + _describe(meta))
        _check_number(path, value, meta)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(path, value, "must be a string")
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(path, value, _describe(meta))
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(path, value, "must be a list")
        if len(args) == 2 and args[1] is Ellipsis:
            item_types = [args[0]] * len(value)
        else:
            item_types = list(args)
        if len(value) != len(item_types):
            raise ConfigError(path, value, f"must be a list of {len(item_types)} values")
        return tuple(_coerce(f"{path}[{i}]", v, t, meta) for i, (v, t) in enumerate(zip(value, item_types)))
    raise TypeError(f"schema: unsupported field type {tp!r} at {path}")


def _load_union(path, value, options):
    """A table whose 'kind' key picks one dataclass among options (each declares KIND)."""
    kinds = {opt.KIND: opt for opt in options}
    if not isinstance(value, dict):
        raise ConfigError(path, value, "must be a table")
    kind = value.get("kind", _MISSING)
    if not isinstance(kind, str) or kind not in kinds:
        raise ConfigError(f"{path}.kind", kind, "must be one of " + ", ".join(repr(k) for k in kinds))
    return load(kinds[kind], value, path)


def load(cls, data, path: str = ""):
    """Build the frozen dataclass cls from dict data, validating every field (see module doc)."""
    if not isinstance(data, dict):
        raise ConfigError(path or cls.__name__, data, "must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    prefix = f"{path}." if path else ""
    for key in data:
        if key not in fields:
            close = ", ".join(sorted(fields))
            raise ConfigError(f"{prefix}{key}", data[key], f"unknown key; allowed keys: {close}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _coerce(prefix + name, data[name], hints[name], f.metadata)
        elif f.default is _MISSING and f.default_factory is _MISSING:
            raise ConfigError(prefix + name, _MISSING, "required; " + _describe(f.metadata))
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check is not None:
        check(path)
    return obj
