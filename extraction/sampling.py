"""Snippets and crops: which frames of a video a backbone sees, and which parts of each frame.

Snippets
    A video of N decodable frames is cut into T = N // L non-overlapping snippets of L frames
    (L = ``frames_per_snippet``, 16 as every official extractor uses); the last N % L frames are
    dropped, as the I3D/C3D extractors behind the public feature dumps drop them. An image
    backbone sees the centre frame of each snippet (frame t·L + L//2); a clip backbone sees all
    L frames (``frames_per_input`` between the two picks evenly spaced frames).
Crops
    ``crops=1``: the backbone's own eval view: short side resized to the input size, centre crop.
    ``crops=5|10``: the field's multi-crop view (torchvision ``FiveCrop``/``TenCrop``): short side
    resized to input·256/224 (256 for 224), then the centre and the four corner crops, and for
    10 crops the horizontal flips of those five. Crop 0 is always the centre crop, so consumers
    that read one crop (VadCLIP and CLIP-TSA test on crop 0) get the centre view.
    The decode stage ships the five spatial crops; the flips are made next to the backbone,
    so 10 crops move no more bytes between stages than 5.
"""

from __future__ import annotations

import numpy as np

CROPS = (1, 5, 10)


def check_crops(crops: int) -> None:
    if crops not in CROPS:
        raise ValueError(f"crops must be one of {', '.join(map(str, CROPS))}, got {crops!r}")


def spatial_crops(crops: int) -> int:
    """Crops cut by the decode stage: 1, or 5 (10-crop adds the 5 flips later)."""
    check_crops(crops)
    return 1 if crops == 1 else 5


def resize_short_side(input_size: int, crops: int) -> int:
    check_crops(crops)
    return input_size if crops == 1 else int(round(input_size * 256 / 224))


def resized_shape(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(h, w) with the short side equal to ``short_side`` and the aspect ratio kept."""
    if height <= 0 or width <= 0:
        raise ValueError(f"bad frame size {width}x{height}")
    scale = short_side / min(height, width)
    h, w = max(short_side, int(round(height * scale))), max(short_side, int(round(width * scale)))
    return (short_side, w) if height <= width else (h, short_side)


def snippet_positions(frames_per_snippet: int, frames_per_input: int) -> np.ndarray:
    """Frame offsets inside a snippet that the backbone sees: the centre, all, or evenly spaced."""
    if not 1 <= frames_per_input <= frames_per_snippet:
        raise ValueError(f"frames_per_input must be in 1..{frames_per_snippet}, got {frames_per_input}")
    if frames_per_input == 1:
        return np.array([frames_per_snippet // 2])
    if frames_per_input == frames_per_snippet:
        return np.arange(frames_per_snippet)
    return np.linspace(0, frames_per_snippet - 1, frames_per_input).round().astype(np.int64)


def num_snippets(num_frames: int, frames_per_snippet: int) -> int:
    return max(0, int(num_frames) // frames_per_snippet)


def crop_corners(height: int, width: int, size: int, crops: int) -> list[tuple[int, int]]:
    """Top-left (y, x) of each spatial crop: centre first, then the four corners (TL, TR, BL, BR)."""
    if height < size or width < size:
        raise ValueError(f"frame {width}x{height} is smaller than the crop size {size}")
    center = ((height - size) // 2, (width - size) // 2)
    if spatial_crops(crops) == 1:
        return [center]
    return [center, (0, 0), (0, width - size), (height - size, 0), (height - size, width - size)]


def cut_crops(frames: np.ndarray, size: int, crops: int) -> np.ndarray:
    """(..., H, W, 3) uint8 → (..., C, size, size, 3) with C = 1 or 5 spatial crops."""
    h, w = frames.shape[-3], frames.shape[-2]
    views = [frames[..., y:y + size, x:x + size, :] for y, x in crop_corners(h, w, size, crops)]
    return np.stack(views, axis=-4)


def add_flips(crops5, crops: int):
    """(N, C, ...H, W, 3) → (N, crops, ...): 10-crop appends the horizontal flip of each crop.

    Works on numpy arrays and torch tensors alike (the width axis is -2 in HWC layout).
    """
    if crops != 10:
        return crops5
    if isinstance(crops5, np.ndarray):
        return np.concatenate([crops5, crops5[..., ::-1, :]], axis=1)
    import torch

    return torch.cat([crops5, crops5.flip(-2)], dim=1)
