"""ByteTrack (Zhang et al., ECCV 2022), as ``supervision`` 0.30.9 ships it (``sv.ByteTrack``, MIT).

This is the one module that imports the tracker (STYLE: one wrapper per outside API), so moving
to another implementation touches this file only. ``sv.ByteTrack`` is the classic port of the
official code: a Kalman filter per track, then two IoU association stages solved as assignment
problems — detections scoring at least ``activation_threshold`` first, then the remaining tracks
against the low-scoring detections (score in (0.1, activation_threshold)) — and new tracks from
unmatched detections scoring at least ``activation_threshold + 0.1``. A lost track is kept
``lost_track_buffer`` frames (at 30 fps; scaled by the frame rate) for re-identification.

Why this version: supervision deprecated ``sv.ByteTrack`` in 0.28 and removed it in 0.31.0 in
favour of the separate ``trackers`` package (Apache-2.0), whose ``import trackers`` needs
``opencv-python`` — the GUI build, which loads the system's libGL/libxcb/glib and brings its own
FFmpeg. 0.30.9 keeps the core install free of that (and of AGPL code: ultralytics is never a
dependency). Its import warns about the missing OpenCV and its constructor about the deprecation;
both warnings are expected here and silenced, nothing else.

Behaviour worth knowing: a track born after the video's first frame is confirmed when it is
matched again on a later frame; the frame it was born on is not reported (the official
ByteTrack's unconfirmed tracks), so such a track starts on its second frame.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackerSpec:
    # ByteTrack's own defaults (the paper's MOT17 settings): track_thresh 0.5, track_buffer 30,
    # match_thresh 0.8 (IoU distance, i.e. IoU >= 0.2).
    activation_threshold: float = 0.5
    lost_track_buffer: int = 30
    matching_threshold: float = 0.8
    minimum_consecutive_frames: int = 1


def _import_bytetrack():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"OpenCV \(`opencv-python`\) is not installed")
        from supervision.detection.core import Detections
        from supervision.tracker.byte_tracker.core import ByteTrack
    return ByteTrack, Detections


class ByteTracker:
    """One video's tracker: ``update(boxes, scores)`` per frame, in frame order."""

    def __init__(self, spec: TrackerSpec = TrackerSpec(), frame_rate: float = 30.0):
        byte_track, self._detections = _import_bytetrack()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"The `ByteTrack` was deprecated", category=FutureWarning)
            self._tracker = byte_track(track_activation_threshold=spec.activation_threshold,
                                       lost_track_buffer=spec.lost_track_buffer,
                                       minimum_matching_threshold=spec.matching_threshold,
                                       frame_rate=frame_rate if frame_rate > 0 else 30.0,
                                       minimum_consecutive_frames=spec.minimum_consecutive_frames)

    def update(self, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed one frame's detections ``boxes`` (K, 4) x1 y1 x2 y2 and ``scores`` (K,).

        Returns ``(index, track_id)``: which of the given detections belong to a confirmed track
        (indices into ``boxes``) and that track's id (1, 2, ... in order of confirmation).
        """
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        scores = np.asarray(scores, np.float32).reshape(-1)
        detections = self._detections(xyxy=boxes, confidence=scores, class_id=np.zeros(len(boxes), int),
                                      data={"index": np.arange(len(boxes))})
        tracked = self._tracker.update_with_detections(detections)
        if len(tracked) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.asarray(tracked.data["index"], np.int64), np.asarray(tracked.tracker_id, np.int64)
