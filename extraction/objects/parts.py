"""Observation rows back into videos and tracks; each finished video into one atomic part.

Rows of a video arrive from the actors in any order (its end row says how many there are); when
all have arrived, its tracks are cut out (rows grouped by track id, in frame order), tracks
shorter than ``min_track_length`` snippets are dropped, and the rest are written as
``part-<key>.parquet`` — one row per track, keyed by the *source* video, so that a re-run skips
exactly the videos whose part exists. A video in which nothing was tracked gets a part with no
rows: it is done, and is not tracked again on a re-run.

A track's row (the feature-set columns of docs/feature-sets.md plus the track columns of
docs/object-level.md):

- ``video_id`` ``<source video id>#t<track id>``; ``split``, ``label``, ``class_name``,
  ``source`` those of the source video (a track inherits its video's weak label); ``crop`` 0;
- ``num_snippets`` T = the frames the track was seen on, one snippet per tracked frame;
  ``num_frames`` T too (a track's timeline is its own snippets); ``fps`` the source video's
  divided by the frame stride;
- ``features`` T·D, and per snippet ``frame``, ``box`` (4 values), ``score``, ``category``.

The part's Parquet metadata (``wsvad.source_video``) records the source video (id, split, label,
class, source, frames decoded, fps, tracks kept and dropped), also when it has no track: resuming
checks it against the plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from extraction.parts import part_path
from extraction.plan import VideoEntry
from wsvad.features.atomic import write_parquet_atomic
from wsvad.features.writer import rows_to_table

SOURCE_VIDEO = b"wsvad.source_video"
OBSERVATION = ("frame", "track_id", "box", "score", "category", "features")


def track_video_id(video_id: str, track_id: int) -> str:
    return f"{video_id}#t{int(track_id)}"


@dataclass
class ObjectsResult:
    entry: VideoEntry
    num_tracks: int            # tracks written
    num_snippets: int          # their tracked frames
    dropped_tracks: int        # tracks shorter than min_track_length
    num_frames: int            # frames decoded
    claimed_frames: int        # the container's claim (-1 unknown)
    note: str                  # why it was rejected, or why decoding stopped early ("" if neither)
    rejected: bool = False


@dataclass
class _Pending:
    rows: dict = field(default_factory=lambda: {name: [] for name in OBSERVATION})
    count: int = 0
    end: dict | None = None


class TrackAssembler:
    """Collects observation rows per video; writes each video's part the moment it is complete."""

    def __init__(self, out, entries: list[VideoEntry], dtype: str = "float32", min_track_length: int = 1,
                 frame_stride: int = 1):
        self.out = Path(out)
        self.entries = {e.key: e for e in entries}
        self.dtype, self.min_track_length, self.frame_stride = dtype, min_track_length, frame_stride
        self._pending: dict[str, _Pending] = {}

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def add(self, batch: dict[str, np.ndarray]) -> list[ObjectsResult]:
        """Take a batch of rows; return the videos it finished (written or rejected)."""
        keys = np.asarray(batch["key"]).astype(str)
        finished = []
        for key in np.unique(keys):
            rows = np.flatnonzero(keys == key)
            pending = self._pending.setdefault(key, _Pending())
            end = rows[np.asarray(batch["end"])[rows]]
            observed = rows[~np.asarray(batch["end"])[rows]]
            for name in OBSERVATION:
                pending.rows[name].append(np.asarray(batch[name])[observed])
            pending.count += len(observed)
            if len(end):
                i = int(end[0])
                pending.end = {name: batch[name][i] for name in ("num_rows", "num_frames", "claimed_frames", "fps",
                                                                 "note", "rejected")}
            if pending.end is not None and pending.count >= int(pending.end["num_rows"]):
                finished.append(self._finish(self.entries[key], self._pending.pop(key)))
        return finished

    def _finish(self, entry: VideoEntry, pending: _Pending) -> ObjectsResult:
        end = pending.end
        if bool(end["rejected"]):
            return ObjectsResult(entry, 0, 0, 0, int(end["num_frames"]), int(end["claimed_frames"]), str(end["note"]),
                                 rejected=True)
        observations = {name: np.concatenate(values) for name, values in pending.rows.items()}
        written, snippets, dropped = write_tracks_part(self.out, entry, observations, int(end["num_frames"]),
                                                       float(end["fps"]), self.frame_stride, self.min_track_length,
                                                       self.dtype)
        return ObjectsResult(entry, written, snippets, dropped, int(end["num_frames"]), int(end["claimed_frames"]),
                             str(end["note"]))


def write_tracks_part(out: Path, entry: VideoEntry, observations: dict[str, np.ndarray], num_frames: int, fps: float,
                      frame_stride: int = 1, min_track_length: int = 1,
                      dtype: str = "float32") -> tuple[int, int, int]:
    """One video's tracks as ``part-<key>.parquet``, atomically: (tracks written, their snippets, tracks dropped)."""
    order = np.lexsort((observations["frame"], observations["track_id"]))
    obs = {name: values[order] for name, values in observations.items()}
    ids, starts, counts = np.unique(obs["track_id"], return_index=True, return_counts=True)
    rows, dropped = [], 0
    for track_id, start, t in zip(ids.tolist(), starts.tolist(), counts.tolist(), strict=True):
        if t < min_track_length:
            dropped += 1
            continue
        part = slice(start, start + t)
        features = np.ascontiguousarray(obs["features"][part], dtype=np.dtype(dtype))      # (T, D)
        rows.append(dict(video_id=track_video_id(entry.video_id, track_id), split=entry.split, label=entry.label,
                         class_name=entry.class_name, crop=0, num_snippets=t, dim=features.shape[1], num_frames=t,
                         fps=fps / frame_stride, source=entry.source, features=features.reshape(-1),
                         source_video_id=entry.video_id, track_id=track_id, frame=obs["frame"][part],
                         box=obs["box"][part].reshape(-1), score=obs["score"][part], category=obs["category"][part]))
    table = rows_to_table(rows, dtype, tracks=True)
    source = {"video_id": entry.video_id, "split": entry.split, "label": entry.label, "class_name": entry.class_name,
              "source": entry.source, "num_frames": num_frames, "fps": fps, "tracks": len(rows),
              "dropped_tracks": dropped}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), SOURCE_VIDEO: json.dumps(source)})
    write_parquet_atomic(table, part_path(out, entry.key))
    return len(rows), sum(r["num_snippets"] for r in rows), dropped


def read_source_video(path: Path) -> dict | None:
    """The source-video record of an object-level part (None: not an object-level part)."""
    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[SOURCE_VIDEO]) if SOURCE_VIDEO in metadata else None


def project_intervals(frames: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """Source-video frame intervals ``[start, end]`` (inclusive; start −1: none) → the intervals of a
    track's snippet indices whose frame lies inside one: ``(K, 2)`` int64, inclusive."""
    frames = np.asarray(frames, np.int64)
    inside = np.zeros(len(frames), bool)
    for start, stop in np.asarray(intervals, np.int64).reshape(-1, 2):
        if start != -1:
            inside |= (frames >= start) & (frames <= stop)
    edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1], axis=1).astype(np.int64)
