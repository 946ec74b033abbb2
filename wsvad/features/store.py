"""A feature set in memory: one contiguous array of snippets plus per-video offsets.

Layout: videos in a fixed order; inside a video its crops, inside a crop its snippets, so
`features[offsets[i]:offsets[i+1]].reshape(C_i, T_i, D)` is video i as a view, without a copy.
All fields are plain numpy arrays so `ray.put(feature_set)` shares them zero-copy between the
trials on a node (DESIGN.md: load features once).
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wsvad.errors import FeatureSetError
from wsvad.features import validate
from wsvad.features.schema import MANIFEST, SCHEMA_VERSION
from wsvad.features.writer import (
    check_track_columns,
    content_hash,
    flat_features,
    has_track_columns,
    read_ground_truth,
    read_parts,
    track_column_values,
)


@dataclass
class Tracks:
    """The object-level columns of a set whose videos are tracks (docs/object-level.md).

    Per-video arrays follow :attr:`FeatureSet.video_ids`; per-snippet arrays are aligned row for
    row with :attr:`FeatureSet.features` (so ``frames[offsets[i]:offsets[i+1]]`` are video i's).
    """

    source_video_ids: np.ndarray  # (V,) str: the video each track was found in
    track_ids: np.ndarray         # (V,) int64: the tracker's id inside that video
    frames: np.ndarray            # (N,) int64: source-video frame of each snippet
    boxes: np.ndarray             # (N, 4) float32: x1, y1, x2, y2 in source-video pixels
    scores: np.ndarray            # (N,) float32: detection score
    categories: np.ndarray        # (N,) int64: detector category id, -1 for none


@dataclass
class FeatureSet:
    features: np.ndarray      # (N, D): every snippet of every crop of every video
    offsets: np.ndarray       # (V+1,) int64 row offsets of each video into `features`
    num_crops: np.ndarray     # (V,) int64
    num_snippets: np.ndarray  # (V,) int64 (T of each video)
    video_ids: np.ndarray     # (V,) str
    splits: np.ndarray        # (V,) str: train / val / test
    labels: np.ndarray        # (V,) int64: 0 normal, 1 anomalous
    class_names: np.ndarray   # (V,) str
    num_frames: np.ndarray    # (V,) int64, -1 unknown
    fps: np.ndarray           # (V,) float32
    sources: np.ndarray       # (V,) str: real / synthetic (GV-VAD)
    ground_truth: dict = field(default_factory=dict)  # video_id -> (K, 2) int64 frame intervals
    manifest: dict = field(default_factory=dict)
    tracks: Tracks | None = None  # object-level sets only: each video is a track

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def num_videos(self) -> int:
        return int(self.video_ids.size)

    @property
    def hash(self) -> str:
        return self.manifest.get("feature_set_hash", "")

    @property
    def dataset(self) -> str:
        return self.manifest.get("dataset", "")

    def video(self, i: int) -> np.ndarray:
        """Video i as a (crops, T, D) view."""
        block = self.features[self.offsets[i]: self.offsets[i + 1]]
        return block.reshape(int(self.num_crops[i]), int(self.num_snippets[i]), self.dim)

    def select(self, split: str | None = None, label: int | None = None) -> np.ndarray:
        """Indices of the videos in `split` (and with `label`), in set order."""
        keep = np.ones(self.num_videos, bool)
        if split is not None:
            keep &= self.splits == split
        if label is not None:
            keep &= self.labels == label
        return np.flatnonzero(keep)

    def index_of(self, video_id: str) -> int:
        hits = np.flatnonzero(self.video_ids == video_id)
        if hits.size == 0:
            raise FeatureSetError(f"video {video_id!r} is not in the feature set")
        return int(hits[0])


# What a loader relies on (finalize_feature_set writes more). Found by fuzzing: a manifest that was
# valid JSON but not an object, or whose "parts" was not a list, raised AttributeError/TypeError;
# one without "feature_set_hash" loaded with the hash "" and tagged runs with it.
_MANIFEST_KEYS = {"schema_version": int, "dataset": str, "feature_set_hash": str, "parts": list}
_HASH = re.compile(r"[0-9a-f]{64}")


def read_manifest(path) -> dict:
    path = Path(path)
    file = path / MANIFEST if path.is_dir() else path
    if not file.exists():
        raise FeatureSetError(f"{path}: no {MANIFEST} (not a feature set, or its writer did not finish)")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise FeatureSetError(f"{file}: unreadable manifest ({type(exc).__name__}: {exc})") from None
    except OSError as exc:
        raise FeatureSetError(f"{file}: cannot read the manifest ({exc.strerror or exc})") from None
    _check_manifest(manifest, file)
    return manifest


def _check_manifest(manifest, file: Path) -> None:
    if not isinstance(manifest, dict):
        kind = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(manifest), "null")
        raise FeatureSetError(f"{file}: the manifest is a JSON {kind}, not an object")
    for key, kind in _MANIFEST_KEYS.items():
        if key not in manifest:
            raise FeatureSetError(f"{file}: the manifest has no {key!r} (it was not written by finalize_feature_set)")
        value = manifest[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise FeatureSetError(f"{file}: manifest {key!r} must be a {kind.__name__}, got {value!r:.80}")
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise FeatureSetError(f"{file}: schema_version {manifest['schema_version']}, this code reads {SCHEMA_VERSION}")
    if not _HASH.fullmatch(manifest["feature_set_hash"]):
        raise FeatureSetError(f"{file}: feature_set_hash {manifest['feature_set_hash']!r:.80} is not a sha256 hex digest")
    if not all(isinstance(p, str) for p in manifest["parts"]):
        raise FeatureSetError(f"{file}: manifest 'parts' must list part file names, got {manifest['parts']!r:.80}")
    if not isinstance(manifest.get("provenance", {}), dict):
        raise FeatureSetError(f"{file}: manifest 'provenance' must be an object, got {manifest['provenance']!r:.80}")


def load_feature_set(path, validate_rows: bool = True) -> FeatureSet:
    """Read a whole feature set into one contiguous array (validated, with its ground truth).

    ``validate_rows`` checks every row's invariants and that the content still hashes to the
    manifest's ``feature_set_hash``; column types and the manifest are always checked."""
    path = Path(path)
    if not path.is_dir():
        raise FeatureSetError(f"{path}: not a directory (a feature set is a directory of Parquet parts)")
    manifest = read_manifest(path)
    table, parts = read_parts(path)
    if sorted(manifest["parts"]) != parts:
        raise FeatureSetError(f"{path}: part files {parts} differ from the manifest's {manifest['parts']}")
    validate.check_columns(table, str(path))
    flat = flat_features(table, str(path))
    ground_truth = read_ground_truth(path)
    if validate_rows:
        validate.check_rows(table, flat, str(path))
        # Found by fuzzing: a part or the ground truth changed after the manifest was written loaded
        # silently under the old hash, so runs were tagged with a hash their numbers do not have.
        if content_hash(table, flat, ground_truth) != manifest["feature_set_hash"]:
            raise FeatureSetError(f"{path}: its content does not match the manifest's feature_set_hash "
                                  f"{manifest['feature_set_hash'][:12]} (parts or ground truth changed after it "
                                  "was written); write the set again")

    vid = table.column("video_id").to_numpy(zero_copy_only=False).astype(str)
    crop = table.column("crop").to_numpy().astype(np.int64)
    t = table.column("num_snippets").to_numpy().astype(np.int64)
    d = int(table.column("dim")[0].as_py())

    # Videos keep their first-appearance order; crops ascend inside each video.
    _, first, inverse = np.unique(vid, return_index=True, return_inverse=True)
    video_rank = np.argsort(np.argsort(first))[inverse]
    order = np.lexsort((crop, video_rank))
    lengths = t * d
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    if np.array_equal(order, np.arange(order.size)):
        values = flat
    else:  # one vectorised gather: element j of the new layout comes from src[j]
        new_lengths = lengths[order]
        shift = np.repeat(starts[order] - np.concatenate([[0], np.cumsum(new_lengths)[:-1]]), new_lengths)
        values = flat[np.arange(shift.size) + shift]
    features = np.ascontiguousarray(values).reshape(-1, d)

    video_rows = order[np.concatenate([[True], video_rank[order][1:] != video_rank[order][:-1]])]
    num_crops = np.bincount(video_rank, minlength=video_rows.size).astype(np.int64)
    num_snippets = t[video_rows]
    offsets = np.concatenate([[0], np.cumsum(num_crops * num_snippets)]).astype(np.int64)

    def col(name, dtype):
        return np.asarray(table.column(name).to_numpy(zero_copy_only=False)[video_rows]).astype(dtype)

    fs = FeatureSet(
        features=features,
        offsets=offsets,
        num_crops=num_crops,
        num_snippets=num_snippets,
        video_ids=vid[video_rows],
        splits=col("split", str),
        labels=col("label", np.int64),
        class_names=col("class_name", str),
        num_frames=col("num_frames", np.int64),
        fps=col("fps", np.float32),
        sources=col("source", str),
        ground_truth=ground_truth,
        manifest=manifest,
        tracks=_tracks(table, order, video_rows, str(path)) if has_track_columns(table) else None,
    )
    validate.check_ground_truth(fs.video_ids, fs.splits, fs.ground_truth, str(path))
    return fs


def _tracks(table, order: np.ndarray, video_rows: np.ndarray, where: str) -> Tracks:
    """The track columns in the set's layout: rows in ``order``, snippets concatenated."""
    check_track_columns(table, where)   # always, even without validate_rows: the layout relies on it

    def per_snippet(name, dtype):
        values = track_column_values(table, name)
        return np.concatenate([values[i] for i in order]).astype(dtype) if len(order) else np.zeros(0, dtype)

    return Tracks(
        source_video_ids=np.asarray(table.column("source_video_id").to_numpy(zero_copy_only=False)[video_rows]).astype(str),
        track_ids=table.column("track_id").to_numpy().astype(np.int64)[video_rows],
        frames=per_snippet("frame", np.int64),
        boxes=per_snippet("box", np.float32).reshape(-1, 4),
        scores=per_snippet("score", np.float32),
        categories=per_snippet("category", np.int64),
    )
