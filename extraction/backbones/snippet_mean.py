"""``snippet-mean:<image backbone spec>``: a clip backbone made of an image backbone.

Every frame of a snippet goes through the image backbone; the snippet's feature is the mean
over its frames. It is a baseline in its own right (frame features pooled per snippet) and
exercises the whole-snippet path that I3D/TimeSformer backbones take.
"""

from __future__ import annotations

import dataclasses

from extraction.backbones.base import BackboneInfo
from extraction.errors import ExtractionError


def describe(argument: str | None) -> BackboneInfo:
    from extraction import backbones

    if not argument:
        raise ExtractionError("snippet-mean needs an image backbone: snippet-mean:effnet-lite0, "
                              "snippet-mean:clip:ViT-B-16:openai ...")
    inner = backbones.describe(argument)
    if inner.frames_per_input != 1:
        raise ExtractionError(f"snippet-mean:{argument}: {inner.spec} is not an image backbone")
    return dataclasses.replace(inner, spec=f"snippet-mean:{inner.spec}", family="snippet-mean",
                               frames_per_input=None, options={"inner": dataclasses.asdict(inner)})


def build(info: BackboneInfo):
    import importlib

    import torch

    from extraction import backbones

    inner_info = BackboneInfo(**info.options["inner"])
    inner = importlib.import_module(backbones.FAMILIES[inner_info.family]).build(inner_info)

    class SnippetMean(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = inner

        def forward(self, x):                                   # (N, F, 3, H, W)
            n, f = x.shape[:2]
            y = self.inner(x.reshape(n * f, *x.shape[2:]))     # (N·F, D)
            return y.reshape(n, f, -1).mean(dim=1)             # (N, D)

    return SnippetMean()
