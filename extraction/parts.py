"""Feature rows back into videos, and each finished video into its own atomic part file.

Snippet features arrive from the actor pool in any order and interleaved across videos; a
video is complete when all T of its snippets have arrived (T rides on its last chunk). Its
part ``part-<key>.parquet`` is then written atomically (temp file + rename), so a killed job
leaves only whole parts, and a re-run skips exactly the videos whose part exists. Only the
videos in flight are held in memory, never the whole set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from extraction.plan import VideoEntry
from wsvad.features.atomic import write_parquet_atomic
from wsvad.features.writer import rows_to_table

PART_PREFIX = "part-"


def part_path(out: Path, key: str) -> Path:
    return Path(out) / f"{PART_PREFIX}{key}.parquet"


@dataclass
class VideoResult:
    entry: VideoEntry
    num_snippets: int          # 0 for a rejected video
    num_frames: int            # frames decoded
    claimed_frames: int        # the container's claim (-1 unknown)
    note: str                  # why it was rejected, or why decoding stopped early ("" if neither)

    @property
    def rejected(self) -> bool:
        return self.num_snippets == 0


@dataclass
class _Pending:
    snippets: list = field(default_factory=list)
    features: list = field(default_factory=list)
    count: int = 0
    total: int = -1
    meta: dict = field(default_factory=dict)


class VideoAssembler:
    """Collects feature rows per video; writes each video's part the moment it is complete."""

    def __init__(self, out, entries: list[VideoEntry], dtype: str = "float32"):
        self.out = Path(out)
        self.entries = {e.key: e for e in entries}
        self.dtype = dtype
        self._pending: dict[str, _Pending] = {}

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def add(self, batch: dict[str, np.ndarray]) -> list[VideoResult]:
        """Take a batch of feature rows; return the videos it finished (written or rejected)."""
        keys = np.asarray(batch["key"]).astype(str)
        finished = []
        for key in np.unique(keys):
            rows = np.flatnonzero(keys == key)
            entry = self.entries[key]
            if batch["snippet"][rows[0]] < 0:
                finished.append(VideoResult(entry, 0, int(batch["num_frames"][rows[0]]),
                                            int(batch["claimed_frames"][rows[0]]), str(batch["note"][rows[0]])))
                continue
            pending = self._pending.setdefault(key, _Pending())
            pending.snippets.append(np.asarray(batch["snippet"][rows]))
            pending.features.append(np.asarray(batch["features"][rows]))    # (n, crops, D)
            pending.count += len(rows)
            totals = np.asarray(batch["num_snippets"][rows])
            if totals.max() >= 0:
                last = rows[int(np.argmax(totals))]
                pending.total = int(totals.max())
                pending.meta = {name: batch[name][last] for name in ("num_frames", "claimed_frames", "fps", "note")}
            if pending.total >= 0 and pending.count >= pending.total:
                finished.append(self._write(entry, self._pending.pop(key)))
        return finished

    def _write(self, entry: VideoEntry, pending: _Pending) -> VideoResult:
        snippets = np.concatenate(pending.snippets)
        order = np.argsort(snippets, kind="stable")
        if not np.array_equal(snippets[order], np.arange(pending.total)):
            raise RuntimeError(f"video {entry.video_id!r}: snippets {snippets[order].tolist()} "
                               f"are not 0..{pending.total - 1}")
        features = np.concatenate(pending.features)[order].swapaxes(0, 1)       # (crops, T, D)
        meta = pending.meta
        write_video_part(self.out, entry, features, int(meta["num_frames"]), float(meta["fps"]), self.dtype)
        return VideoResult(entry, pending.total, int(meta["num_frames"]), int(meta["claimed_frames"]),
                           str(meta["note"]))


def write_video_part(out: Path, entry: VideoEntry, features: np.ndarray, num_frames: int, fps: float,
                     dtype: str = "float32") -> Path:
    """One video's rows (one per crop) as ``part-<key>.parquet``, atomically."""
    crops, t, d = features.shape
    values = np.ascontiguousarray(features, dtype=np.dtype(dtype))
    rows = [dict(video_id=entry.video_id, split=entry.split, label=entry.label, class_name=entry.class_name,
                 crop=c, num_snippets=t, dim=d, num_frames=num_frames, fps=fps, source=entry.source,
                 features=values[c].reshape(-1)) for c in range(crops)]
    path = part_path(out, entry.key)
    write_parquet_atomic(rows_to_table(rows, dtype), path)
    return path
