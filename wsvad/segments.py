"""Segment pooling: how a video's T snippets become a fixed-length training bag of S segments.

Each function takes one video block (C, T, D) and returns (C, S, D), vectorised over crops,
snippets and dims (the only Python loop is over videos, once per training run):
- `linspace_mean` — RTFM/MGFN/UR-DMU(UCF) `process_feat`: boundaries r = int(linspace(0, T, S+1));
  segment i is the mean of snippets r[i]:r[i+1], or snippet r[i] itself when that range is empty;
- `linear_resize` — S3R: `cv2.resize(..., INTER_LINEAR)` along time, i.e. linear interpolation
  with half-pixel centres (torch `interpolate(mode="linear", align_corners=False)`);
- `pad_sample` — VadCLIP `process_feat`: T > S → mean-pooled over int(linspace(0, T, S+1)) bounds
  (as `linspace_mean`); T ≤ S → zero padding after T (the returned length says how many are real).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def linspace_bounds(t: int, segments: int) -> np.ndarray:
    """The official boundaries int(linspace(0, T, S+1)) (np.int truncation)."""
    return np.linspace(0, t, segments + 1).astype(np.int64)


def linspace_mean(video: np.ndarray, segments: int) -> np.ndarray:
    c, t, d = video.shape
    r = linspace_bounds(t, segments)
    starts, ends = r[:-1], r[1:]
    csum = np.zeros((c, t + 1, d), np.float64)
    np.cumsum(video, axis=1, dtype=np.float64, out=csum[:, 1:])
    lengths = (ends - starts)[None, :, None]
    mean = (csum[:, ends] - csum[:, starts]) / np.maximum(lengths, 1)
    single = video[:, np.minimum(starts, t - 1)].astype(np.float64)
    return np.where(lengths == 0, single, mean).astype(np.float32)


def linear_resize(video: np.ndarray, segments: int) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(video, np.float32)).permute(0, 2, 1)  # (C, D, T)
    y = F.interpolate(x, size=segments, mode="linear", align_corners=False)
    return y.permute(0, 2, 1).contiguous().numpy()


def pad_sample(video: np.ndarray, segments: int) -> tuple[np.ndarray, int]:
    c, t, d = video.shape
    if t > segments:
        return linspace_mean(video, segments), segments
    out = np.zeros((c, segments, d), np.float32)
    out[:, :t] = video
    return out, t


def pool_video(video: np.ndarray, segments: int, pooling: str) -> tuple[np.ndarray, int]:
    """One video (C, T, D) → (C, S, D) and the number of real (unpadded) segments."""
    if pooling == "linspace_mean":
        return linspace_mean(video, segments), segments
    if pooling == "linear_resize":
        return linear_resize(video, segments), segments
    if pooling == "pad_sample":
        return pad_sample(video, segments)
    raise ValueError(f"unknown pooling {pooling!r}")
