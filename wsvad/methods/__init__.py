"""The methods of the field under one contract. Importing this package registers them all."""

from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.registry import create, get_method, list_methods, make_config, register

# Each import registers one method (timm-style); keep the list sorted.
from wsvad.methods import mil, rtfm  # noqa: E402,F401  isort: skip

__all__ = ["Batch", "InputSpec", "Method", "MethodConfig", "Output",
           "create", "get_method", "list_methods", "make_config", "register"]
