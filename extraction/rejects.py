"""``rejects.parquet``: every video that did not make it whole into the feature set, and why.

Columns: ``path``, ``video_id``, ``reason``, ``used`` (False: the video is not in the set —
missing, zero-byte, undecodable, shorter than one snippet; True: its decodable frames are in the
set but decoding ended before the container's claimed end, e.g. a truncated file, or a
container that over-claims like OpenCV's ``tree.avi``), ``decoded_frames``, ``claimed_frames``.

The file is rewritten atomically whenever a row is added, so a killed run keeps what it
learnt. A re-run retries the videos that are not in the set and keeps the rows of videos
already in it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from extraction.parts import part_path
from extraction.plan import part_key
from wsvad.features.atomic import write_parquet_atomic

REJECTS = "rejects.parquet"
SCHEMA = pa.schema([("path", pa.string()), ("video_id", pa.string()), ("reason", pa.string()),
                    ("used", pa.bool_()), ("decoded_frames", pa.int64()), ("claimed_frames", pa.int64())])


class RejectLog:
    def __init__(self, out):
        """Keep the previous rows of videos that are in the set (``used`` and their part exists);
        the others are retried by this run and get fresh rows if they fail again."""
        self.out = Path(out)
        self.path = self.out / REJECTS
        self.rows: list[dict] = []
        if self.path.exists():
            old = pq.read_table(self.path).to_pylist()
            self.rows = [r for r in old if r["used"] and part_path(self.out, part_key(r["video_id"])).exists()]
        self._write()

    def add(self, path: str, video_id: str, reason: str, used: bool, decoded_frames: int, claimed_frames: int):
        self.rows.append(dict(path=str(path), video_id=video_id, reason=reason, used=bool(used),
                              decoded_frames=int(decoded_frames), claimed_frames=int(claimed_frames)))
        self._write()

    @property
    def rejected(self) -> list[dict]:
        return [r for r in self.rows if not r["used"]]

    @property
    def partial(self) -> list[dict]:
        return [r for r in self.rows if r["used"]]

    def _write(self) -> None:
        write_parquet_atomic(pa.Table.from_pylist(self.rows, schema=SCHEMA), self.path)


def read_rejects(out) -> list[dict]:
    path = Path(out) / REJECTS
    return pq.read_table(path).to_pylist() if path.exists() else []
