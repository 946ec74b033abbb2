"""One registry of methods (timm-style): register by decorator, create by name."""

from __future__ import annotations

import dataclasses
import typing

from wsvad.errors import ConfigError

_METHODS: dict[str, type] = {}


def register(cls):
    name = cls.name
    if name in _METHODS:
        raise ValueError(f"method {name!r} is registered twice ({_METHODS[name].__module__} and {cls.__module__})")
    _METHODS[name] = cls
    return cls


def list_methods() -> list[str]:
    return sorted(_METHODS)


def get_method(name: str) -> type:
    if name not in _METHODS:
        raise ConfigError(f"unknown method {name!r}; known methods: {', '.join(list_methods())}")
    return _METHODS[name]


def make_config(method: str | type, overrides: dict | None = None):
    """The method's official Config with `overrides` applied, each value checked against its type.

    Values may be typed already (from a sweep) or strings (from `--set key=value`).
    """
    cls = get_method(method) if isinstance(method, str) else method
    hints = typing.get_type_hints(cls.Config)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    values = {}
    for key, raw in (overrides or {}).items():
        if key not in fields:
            raise ConfigError(f"{cls.name}: unknown option {key!r}; options: {', '.join(sorted(fields))}")
        values[key] = coerce(raw, hints[key], f"{cls.name}.{key}")
    config = cls.Config(**values)
    check = getattr(config, "validate", None)
    if check is not None:
        check()
    return config


def create(method: str, feature_dim: int, overrides: dict | None = None, class_names: list[str] | None = None):
    cls = get_method(method)
    return cls(make_config(cls, overrides), feature_dim, class_names=class_names)


def coerce(raw, typ, where: str):
    """`raw` as a value of `typ` (int, float, bool, str, Literal, tuple[...]) or a ConfigError."""
    origin = typing.get_origin(typ)
    if origin is typing.Literal:
        choices = typing.get_args(typ)
        value = raw if not isinstance(raw, str) else coerce(raw, type(choices[0]), where)
        if value not in choices:
            raise ConfigError(f"{where} must be one of {list(choices)}, got {raw!r}")
        return value
    if origin is tuple:
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        args = typing.get_args(typ)
        elem = args[0] if args else str
        return tuple(coerce(v.strip() if isinstance(v, str) else v, elem, where) for v in items)
    try:
        if typ is bool:
            if isinstance(raw, str):
                if raw.lower() in ("1", "true", "yes", "on"):
                    return True
                if raw.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if isinstance(raw, (bool, int)) and raw in (0, 1):
                return bool(raw)
            raise ValueError
        if typ is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw) if not isinstance(raw, str) else int(raw, 10)
        if typ is float:
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
            return value
        if typ is str:
            return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be {getattr(typ, '__name__', typ)}, got {raw!r}") from None
    raise ConfigError(f"{where}: unsupported option type {typ}")
