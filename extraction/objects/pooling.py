"""Pooling a RoIAlign window ``(K, C, h, w)`` into one object feature ``(K, D)``.

Three kinds, after the seed's object pooling (shared/seeds/temporal-mae-object-level.txt):

``gap``        global average over the window: D = C (256 on torchvision's FPNs). No weights.
``attention``  one learnable query attends over the h·w window cells (``nn.MultiheadAttention``,
               8 heads): D = C. Its weights are the checkpoint's ``pooling.*`` entries when the
               detector checkpoint has them; otherwise a seeded random init — and an untrained
               attention pooling is an arbitrary (if fixed) weighting of the window, meaningful
               only once trained. The manifest records which (``pooling_weights``).
``hybrid``     ``[gap, attention]`` concatenated: D = 2C.

Cells carry no positional encoding: the query weighs them by content only.
"""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("gap", "attention", "hybrid")
HEADS = 8


class GlobalAveragePool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:   # (K, C, h, w)
        return x.mean(dim=(2, 3))                           # (K, C)


class AttentionPool(nn.Module):
    def __init__(self, channels: int, heads: int = HEADS):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, channels) * channels ** -0.5)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # (K, C, h, w)
        cells = x.flatten(2).transpose(1, 2)                # (K, h·w, C)
        query = self.query.expand(len(x), -1, -1)           # (K, 1, C)
        out, _ = self.attention(query, cells, cells, need_weights=False)
        return out[:, 0]                                    # (K, C)


class HybridPool(nn.Module):
    def __init__(self, channels: int, heads: int = HEADS):
        super().__init__()
        self.gap = GlobalAveragePool()
        self.attention = AttentionPool(channels, heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # (K, C, h, w)
        return torch.cat([self.gap(x), self.attention(x)], dim=1)   # (K, 2C)


def pooled_dim(kind: str, channels: int) -> int:
    check_pooling(kind)
    return 2 * channels if kind == "hybrid" else channels


def build_pooling(kind: str, channels: int) -> nn.Module:
    check_pooling(kind)
    return {"gap": GlobalAveragePool, "attention": AttentionPool, "hybrid": HybridPool}[kind](
        *(() if kind == "gap" else (channels,)))


def check_pooling(kind: str) -> None:
    if kind not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {kind!r}")
