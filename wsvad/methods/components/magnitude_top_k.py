"""Top-k snippet selection by feature magnitude (RTFM's MSNSD, reused by MGFN and S3R).

The official `MSNSD` / `Model.forward` code (tianyu0207/RTFM model.py, carolchenyx/MGFN.
models/mgfn.py `MSNSD`, louisYen/S3R anomaly/models/detectors/detector.py `S3R.forward`) picks,
per video, the k snippets of largest crop-averaged feature magnitude after multiplying the
magnitudes by a dropout mask drawn on a ones tensor (so dropped snippets can still win when all
others are dropped too), then gathers those snippets' features from every crop with a Python loop
over crops, concatenating crop-major: row `c·n + v` is crop c of video v.

    idx      = top-k_t( ||f̄_t||₂ · Dropout(1) )                     (n, k)
    gathered = [f[v, c, idx[v]] for c in crops for v in videos]      (C·n, k, F)

Here the mask is drawn with the caller's `nn.Dropout` module (same shape, same CPU draw as the
official code) and the per-crop loop is one batched `gather`.
"""

from __future__ import annotations

import torch
from torch import nn


def select_top_k(magnitudes: torch.Tensor, k: int, drop_out: nn.Dropout) -> torch.Tensor:
    """Indices (n, k) of the k largest `magnitudes` (n, T) after the official dropout on a ones mask."""
    keep = drop_out(torch.ones_like(magnitudes))          # (n, T): 0 or 1/(1-p) in train mode
    return torch.topk(magnitudes * keep, k, dim=1)[1]


def gather_crop_major(features: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """The selected snippets of every crop, crop-major: features (n, C, T, F), idx (n, k) → (C·n, k, F)."""
    n, c, _, f = features.shape
    index = idx[:, None, :, None].expand(-1, c, -1, f)        # (n, C, k, F)
    return features.gather(2, index).transpose(0, 1).reshape(c * n, idx.shape[1], f)
