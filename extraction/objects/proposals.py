"""``--proposals blobs``: boxes of what moves under a fixed camera, for tests and weight-free runs.

An untrained (``random``) detector finds nothing meaningful, so tests need boxes from
elsewhere. This source needs no weights and is deterministic: the background is the per-pixel
median of up to 64 frames spread evenly over the video (a first decoding pass); a pixel is
foreground when some channel differs from it by more than ``threshold`` (0–255); a 3×3 opening
removes sensor noise; every 8-connected foreground region of at least ``min_area`` pixels is a
box. Blobs carry no class (category −1) and no confidence (score 1). It suits fixed cameras with
moving things — the toy clips' pedestrians and cars, OpenCV's ``vtest.avi`` — and is no detector:
crossing objects merge, a stopped one fades into the background. The detector's own boxes
(``--proposals detector``) are the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BACKGROUND_FRAMES = 64


@dataclass(frozen=True)
class BlobSpec:
    threshold: int = 30       # per-channel difference from the background that makes a pixel foreground
    min_area: int = 12        # pixels (at the decoded size) of the smallest box kept


class EvenSample:
    """At most ``size`` frames spread evenly over a stream of unknown length (keeps every
    ``step``-th frame; when full, drops every other kept frame and doubles ``step``)."""

    def __init__(self, size: int = BACKGROUND_FRAMES):
        self.size, self.step, self.seen = size, 1, 0
        self.frames: list[np.ndarray] = []

    def add(self, frame: np.ndarray) -> None:
        if self.seen % self.step == 0:
            self.frames.append(frame)
            if len(self.frames) > self.size:
                self.frames = self.frames[::2]
                self.step *= 2
        self.seen += 1

    def median(self) -> np.ndarray:
        """Per-pixel median (uint8 ``(H, W, 3)``) of the kept frames: the background."""
        return np.median(np.stack(self.frames), axis=0).astype(np.uint8)


class BlobProposals:
    def __init__(self, background: np.ndarray, spec: BlobSpec = BlobSpec()):
        self.background = background.astype(np.int16)
        self.spec = spec

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(boxes (K, 4) x1 y1 x2 y2 float32, scores (K,), categories (K,))`` of one frame (H, W, 3)."""
        from scipy import ndimage

        moving = (np.abs(frame.astype(np.int16) - self.background) > self.spec.threshold).any(axis=-1)
        moving = ndimage.binary_opening(moving, structure=np.ones((3, 3), bool))
        regions, count = ndimage.label(moving, structure=np.ones((3, 3), bool))
        boxes = []
        if count:
            areas = np.bincount(regions.reshape(-1), minlength=count + 1)[1:]
            for label, window in enumerate(ndimage.find_objects(regions), start=1):
                if areas[label - 1] >= self.spec.min_area:
                    ys, xs = window
                    boxes.append((xs.start, ys.start, xs.stop, ys.stop))
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        return boxes, np.ones(len(boxes), np.float32), np.full(len(boxes), -1, np.int32)
