"""Scoring a whole video with a model that reads windows of W snippets (one-class methods).

    starts   0, s, 2s, … and T − W, so the tail is always covered; one window (start 0) when T ≤ W
    window   W consecutive snippets; past a short video's end its last snippet is repeated
    snippet  the mean (or max) of the scores of the windows that cover it
    EWMA     y_0 = x_0,  y_t = β·y_{t−1} + (1 − β)·x_t           (β = 0: no smoothing)
"""

from __future__ import annotations

import torch


def window_starts(t: int, window: int, stride: int) -> torch.Tensor:
    """Start snippets (n,) of the windows that slide over a video of T snippets."""
    last = max(t - window, 0)
    starts = torch.arange(0, last + 1, stride)
    if starts[-1] != last:
        starts = torch.cat([starts, torch.tensor([last])])
    return starts


def window_index(t: int, window: int, starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Snippet index (n, W) of every window position (clamped: padding repeats the last snippet)
    and whether the position is a real snippet (n, W)."""
    pos = starts[:, None] + torch.arange(window)[None]             # (n, W)
    return pos.clamp(max=t - 1), pos < t


def windows_to_snippets(window_scores: torch.Tensor, starts: torch.Tensor, window: int, t: int,
                        how: str = "mean") -> torch.Tensor:
    """Snippet scores (..., T) from window scores (..., n): each snippet gets the mean (or max) of
    the windows covering it (a padded position covers no snippet)."""
    idx, valid = window_index(t, window, starts)                  # (n, W)
    covers = torch.zeros(starts.numel(), t, dtype=torch.bool)
    covers[torch.arange(starts.numel())[:, None].expand_as(idx)[valid], idx[valid]] = True    # (n, T)
    covers = covers.to(window_scores.device)
    if how == "max":
        spread = window_scores[..., :, None].expand(*window_scores.shape, t).masked_fill(~covers, float("-inf"))
        return spread.amax(-2)
    w = covers.to(window_scores.dtype)
    return (window_scores[..., :, None] * w).sum(-2) / w.sum(0)                               # (..., T)


def ewma(x: torch.Tensor, beta: float) -> torch.Tensor:
    """Exponentially weighted moving average along the last axis, started at the first value.

    A Python loop over plain floats: O(T) and a few ms for thousands of snippets, where a
    closed form would need β^(−t) (overflow on long videos)."""
    if beta == 0 or x.shape[-1] < 2:
        return x.clone()
    flat = x.detach().reshape(-1, x.shape[-1]).double().cpu().tolist()
    out = []
    for row in flat:
        y, smoothed = row[0], []
        for v in row:
            y = beta * y + (1 - beta) * v
            smoothed.append(y)
        out.append(smoothed)
    return torch.tensor(out, dtype=x.dtype, device=x.device).reshape(x.shape)
