"""The methods of the field under one contract. Importing this package registers them all.

Every module in this folder except `base` and `registry` defines (and registers) one method,
timm-style; shared building blocks live in the `components` subpackage. Discovery is by listing
the folder so that adding a method is adding one file.
"""

import importlib
import pkgutil

from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.registry import create, get_method, list_methods, make_config, register

_NOT_METHODS = {"base", "registry"}

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.ispkg and not _info.name.startswith("_") and _info.name not in _NOT_METHODS:
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["Batch", "InputSpec", "Method", "MethodConfig", "Output",
           "create", "get_method", "list_methods", "make_config", "register"]
