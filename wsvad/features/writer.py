"""Writing feature sets: buffered rows → atomic part files → validated manifest with a hash.

`finalize_feature_set` is separate from the writer so that other producers of part files (the
Ray Data extraction job writes its own parts) end with the same validation, hash and manifest.
"""

import datetime as _dt
import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import wsvad
from wsvad.errors import FeatureSetError
from wsvad.features import validate
from wsvad.features.atomic import write_json_atomic, write_parquet_atomic
from wsvad.features.schema import (
    GROUND_TRUTH,
    GROUND_TRUTH_SCHEMA,
    MANIFEST,
    PART_GLOB,
    SCHEMA_VERSION,
    TRACK_COLUMNS,
    TRACK_VALUES_PER_SNIPPET,
    part_schema,
)


class FeatureSetWriter:
    """Accumulates videos and writes them as atomic Parquet parts.

    Usage::

        with FeatureSetWriter(out, dataset="ucf-crime", provenance={...}) as w:
            w.add_video("Arson011_x264", "test", 1, "Arson", feats)   # feats (crops, T, D)
            w.set_ground_truth("Arson011_x264", np.array([[150, 420]]))
        manifest = w.manifest
    """

    def __init__(self, out_dir, dataset: str, provenance: dict | None = None,
                 dtype: str = "float32", part_bytes: int = 256 << 20):
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.dataset = dataset
        self.provenance = dict(provenance or {})
        self.dtype = dtype
        self.part_bytes = part_bytes
        self._np_dtype = np.dtype(dtype)
        self._rows: list[dict] = []
        self._buffered = 0
        self._next_part = len(sorted(self.out.glob(PART_GLOB)))
        self._ground_truth: dict[str, np.ndarray] = {}
        self.manifest: dict | None = None

    def add_video(self, video_id: str, split: str, label: int, class_name: str, features: np.ndarray,
                  num_frames: int = -1, fps: float = 0.0, source: str = "real") -> None:
        feats = np.asarray(features)
        if feats.ndim == 2:
            feats = feats[None]
        if feats.ndim != 3:
            raise FeatureSetError(f"video {video_id!r}: features must be (T, D) or (crops, T, D), got shape {feats.shape}")
        crops, t, d = feats.shape
        feats = np.ascontiguousarray(feats, dtype=self._np_dtype)
        for c in range(crops):
            self._rows.append(dict(video_id=str(video_id), split=split, label=int(label), class_name=class_name,
                                   crop=c, num_snippets=t, dim=d, num_frames=int(num_frames), fps=float(fps),
                                   source=source, features=feats[c].reshape(-1)))
        self._buffered += feats.nbytes
        if self._buffered >= self.part_bytes:
            self.flush()

    def set_ground_truth(self, video_id: str, intervals: np.ndarray) -> None:
        self._ground_truth[str(video_id)] = np.asarray(intervals, np.int64).reshape(-1, 2)

    def flush(self) -> None:
        if not self._rows:
            return
        write_parquet_atomic(rows_to_table(self._rows, self.dtype), self.out / f"part-{self._next_part:05d}.parquet")
        self._next_part += 1
        self._rows, self._buffered = [], 0

    def close(self) -> dict:
        self.flush()
        write_ground_truth(self.out, self._ground_truth)
        self.manifest = finalize_feature_set(self.out, self.dataset, self.provenance)
        return self.manifest

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        return False


def rows_to_table(rows: list[dict], dtype: str = "float32", tracks: bool | None = None) -> pa.Table:
    """Rows (dicts of the part columns, ``features`` a flat array) as a part table.

    ``tracks`` (default: whether the rows carry ``track_id``) adds the object-level columns,
    whose per-snippet lists (``frame``, ``box``, ``score``, ``category``) are flat arrays too.
    No rows give an empty table of the schema (an object-level part of a video without tracks).
    """
    tracks = bool(rows) and "track_id" in rows[0] if tracks is None else tracks
    schema = part_schema(dtype, tracks=tracks)
    if not rows:
        return schema.empty_table()
    lists = ("features", *(c for c in TRACK_COLUMNS if c in TRACK_VALUES_PER_SNIPPET)) if tracks else ("features",)
    columns = {name: pa.array([r[name] for r in rows], type=schema.field(name).type)
               for name in schema.names if name not in lists}
    for name in lists:
        columns[name] = _list_column([r[name] for r in rows], schema.field(name).type)
    return pa.table(columns, schema=schema)


def _list_column(arrays: list, list_type: pa.DataType) -> pa.Array:
    """One list per row from flat numpy arrays, built from offsets (no per-value Python objects)."""
    values = np.concatenate([np.asarray(a).reshape(-1) for a in arrays])
    lengths = np.fromiter((np.asarray(a).size for a in arrays), np.int64, len(arrays))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32 if values.size < 2**31 else np.int64)
    column = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=list_type.value_type))
    return column.cast(list_type)


def write_ground_truth(out_dir: Path, ground_truth: dict[str, np.ndarray]) -> None:
    ids = sorted(ground_truth)
    table = pa.table(
        {
            "video_id": ids,
            "start_frame": [ground_truth[v][:, 0].tolist() for v in ids],
            "end_frame": [ground_truth[v][:, 1].tolist() for v in ids],
        },
        schema=GROUND_TRUTH_SCHEMA,
    )
    write_parquet_atomic(table, Path(out_dir) / GROUND_TRUTH)


def read_ground_truth(out_dir: Path) -> dict[str, np.ndarray]:
    """video_id -> (K, 2) int64 intervals. Found by fuzzing: a corrupt or foreign file raised
    pyarrow/KeyError/ValueError tracebacks, and reversed, negative or repeated entries loaded silently
    (a second row for a video replaced the first)."""
    path = Path(out_dir) / GROUND_TRUTH
    if not path.exists():
        return {}
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise FeatureSetError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {_one_line(exc)})") from None
    missing = [c for c in GROUND_TRUTH_SCHEMA.names if c not in table.column_names]
    if missing:
        raise FeatureSetError(f"{path}: missing column(s) {', '.join(missing)}")
    for name in GROUND_TRUTH_SCHEMA.names:
        column = table.column(name)
        value_type = column.type.value_type if pa.types.is_list(column.type) or pa.types.is_large_list(column.type) else None
        ok = (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)) if name == "video_id" else (
            value_type is not None and pa.types.is_integer(value_type))
        if not ok:
            raise FeatureSetError(f"{path}: column {name!r} has type {column.type}, expected "
                                  f"{'a string' if name == 'video_id' else 'a list of integers'}")
        if column.null_count or (value_type is not None and column.combine_chunks().flatten().null_count):
            raise FeatureSetError(f"{path}: column {name!r} has null values")
    ground_truth: dict[str, np.ndarray] = {}
    for v, s, e in zip(*(table.column(c).to_pylist() for c in GROUND_TRUTH_SCHEMA.names)):
        if v in ground_truth:
            raise FeatureSetError(f"{path}: video {v!r} has two ground-truth rows")
        if len(s) != len(e):
            raise FeatureSetError(f"{path}: video {v!r} has {len(s)} start frames but {len(e)} end frames")
        pairs = np.array([s, e], np.int64).T.reshape(-1, 2)
        if (pairs < 0).any() or (pairs[:, 1] < pairs[:, 0]).any():
            raise FeatureSetError(f"{path}: video {v!r} has an interval that is negative or ends before it "
                                  f"starts: {pairs.tolist()!s:.120}")
        ground_truth[v] = pairs
    return ground_truth


def _one_line(exc) -> str:
    return " ".join(str(exc).split())


def read_parts(out_dir: Path) -> tuple[pa.Table, list[str]]:
    parts = sorted(Path(out_dir).glob(PART_GLOB))
    if not parts:
        raise FeatureSetError(f"{out_dir}: no part-*.parquet files (the feature set is empty)")
    tables = []
    for p in parts:
        try:
            tables.append(pq.read_table(p))
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise FeatureSetError(f"{p}: not a readable Parquet file ({type(exc).__name__}: {_one_line(exc)})") from None
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # Arrow's messages span lines: kept to one
        raise FeatureSetError(f"{out_dir}: part files disagree on their schema ({_one_line(exc)})") from None
    return table, [p.name for p in parts]


def flat_features(table: pa.Table, where: str = "") -> np.ndarray:
    """All `features` values of `table`, concatenated, in the column's own float dtype."""
    column = table.column("features")
    if not pa.types.is_list(column.type) and not pa.types.is_large_list(column.type):
        raise FeatureSetError(f"{where}: column 'features' must be a list of floats, got {column.type}")
    value_type = column.type.value_type
    if value_type not in (pa.float16(), pa.float32()):  # float64 passed here before, against the schema
        raise FeatureSetError(f"{where}: column 'features' must hold float16 or float32 values, got {value_type}")
    chunks = [c.flatten().to_numpy(zero_copy_only=False) for c in column.chunks]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def content_hash(table: pa.Table, flat: np.ndarray, ground_truth: dict[str, np.ndarray]) -> str:
    """sha256 of the set's content, independent of how rows are split into parts or ordered.

    Covers every metadata column, the feature bytes and the ground truth — anything that can
    change a metric. Provenance text is not included: same numbers, same hash.
    """
    meta_cols = ["video_id", "crop", "split", "label", "class_name", "num_snippets", "dim", "num_frames", "fps", "source"]
    meta = {c: table.column(c).to_pylist() for c in meta_cols}
    lengths = np.diff(np.concatenate([[0], np.cumsum(validate._list_lengths(table.column("features")))]))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    order = sorted(range(table.num_rows), key=lambda i: (meta["video_id"][i], meta["crop"][i]))
    h = hashlib.sha256()
    h.update(f"wsvad-feature-set/{SCHEMA_VERSION}/{flat.dtype.str}".encode())
    for i in order:
        h.update(repr(tuple(meta[c][i] for c in meta_cols)).encode())
        h.update(flat[starts[i]: starts[i] + lengths[i]].tobytes())
    for v in sorted(ground_truth):
        h.update(f"gt:{v}:{ground_truth[v].tolist()}".encode())
    if has_track_columns(table):  # object-level sets only: sets without track columns hash as before
        track_ids = table.column("track_id").to_pylist()
        sources = table.column("source_video_id").to_pylist()
        per_snippet = {c: track_column_values(table, c) for c in TRACK_VALUES_PER_SNIPPET}
        for i in order:
            h.update(f"track:{sources[i]}:{track_ids[i]}".encode())
            for c in TRACK_VALUES_PER_SNIPPET:
                h.update(per_snippet[c][i].tobytes())
    return h.hexdigest()


def has_track_columns(table: pa.Table) -> bool:
    return "track_id" in table.column_names


def track_column_values(table: pa.Table, name: str) -> list[np.ndarray]:
    """One numpy array per row of the list column ``name`` (frame, box, score or category)."""
    column = table.column(name).combine_chunks()
    if column.type.value_type == pa.int32():
        kind = np.int32
    elif pa.types.is_integer(column.type.value_type):
        kind = np.int64
    else:
        kind = np.float32
    values = column.flatten().to_numpy(zero_copy_only=False).astype(kind, copy=False)
    offsets = column.offsets.to_numpy()
    offsets = offsets - offsets[0]                  # flatten() starts at a sliced array's first list
    return [values[offsets[i]:offsets[i + 1]] for i in range(len(column))]


def check_track_columns(table: pa.Table, where: str) -> None:
    """The object-level columns, if any: all present, typed, without nulls, one value (four for
    ``box``) per snippet, frames increasing inside a track, boxes finite and not inverted, and
    one row per (source video, track id, crop)."""
    present = [c for c in TRACK_COLUMNS if c in table.column_names]
    if not present:
        return
    missing = [c for c in TRACK_COLUMNS if c not in table.column_names]
    if missing:
        raise FeatureSetError(f"{where}: object-level column(s) {', '.join(present)} without {', '.join(missing)} "
                              "(a set has all track columns or none)")
    for name in TRACK_COLUMNS:
        column_type = table.schema.field(name).type
        ok, kind = _track_column_kind(name, column_type)
        if not ok:
            raise FeatureSetError(f"{where}: column {name!r} has type {column_type}, expected {kind}")
        column = table.column(name)
        if column.null_count or (name in TRACK_VALUES_PER_SNIPPET and column.combine_chunks().flatten().null_count):
            raise FeatureSetError(f"{where}: column {name!r} has null values")
    vid = table.column("video_id").to_pylist()
    t = table.column("num_snippets").to_numpy().astype(np.int64)
    values = {c: track_column_values(table, c) for c in TRACK_VALUES_PER_SNIPPET}
    for name, per in TRACK_VALUES_PER_SNIPPET.items():
        lengths = np.fromiter((v.size for v in values[name]), np.int64, table.num_rows)
        bad = np.flatnonzero(lengths != per * t)
        if bad.size:
            i = int(bad[0])
            raise FeatureSetError(f"{where}: track {vid[i]!r}: column {name!r} holds {lengths[i]} values, expected "
                                  f"{per} per snippet ({per}*{t[i]})")
    for i in range(table.num_rows):
        frames, box = values["frame"][i], values["box"][i].reshape(-1, 4)
        if np.any(np.diff(frames) <= 0) or np.any(frames < 0):
            raise FeatureSetError(f"{where}: track {vid[i]!r}: frames must be >= 0 and increasing, got "
                                  f"{frames.tolist()!s:.80}")
        if not np.isfinite(box).all() or np.any(box[:, 2] < box[:, 0]) or np.any(box[:, 3] < box[:, 1]):
            raise FeatureSetError(f"{where}: track {vid[i]!r}: boxes must be finite (x1, y1, x2, y2) with "
                                  "x2 >= x1 and y2 >= y1")
    seen = set()
    for key in zip(table.column("source_video_id").to_pylist(), table.column("track_id").to_pylist(),
                   table.column("crop").to_pylist()):
        if key in seen:
            raise FeatureSetError(f"{where}: two rows for track {key[1]} (crop {key[2]}) of source video {key[0]!r}")
        seen.add(key)


def _track_column_kind(name: str, column_type: pa.DataType) -> tuple[bool, str]:
    """Whether ``column_type`` suits track column ``name``, and the kind expected (for the message)."""
    if name == "source_video_id":
        return pa.types.is_string(column_type) or pa.types.is_large_string(column_type), "a string"
    if name == "track_id":
        return pa.types.is_integer(column_type), "an integer"
    integers = name in ("frame", "category")
    is_list = pa.types.is_list(column_type) or pa.types.is_large_list(column_type)
    value_ok = is_list and (pa.types.is_integer(column_type.value_type) if integers
                            else pa.types.is_floating(column_type.value_type))
    per = TRACK_VALUES_PER_SNIPPET[name]
    return value_ok, f"a list of {'integers' if integers else 'floats'}" + (f" ({per} per snippet)" if per > 1 else "")


def finalize_feature_set(out_dir, dataset: str, provenance: dict | None = None) -> dict:
    """Validate every part and the ground truth, then write manifest.json (atomically) last."""
    out = Path(out_dir)
    table, parts = read_parts(out)
    validate.check_columns(table, str(out))
    flat = flat_features(table, str(out))
    validate.check_rows(table, flat, str(out))
    check_track_columns(table, str(out))
    ground_truth = read_ground_truth(out)
    vid = table.column("video_id").to_numpy(zero_copy_only=False).astype(str)
    split = table.column("split").to_numpy(zero_copy_only=False).astype(str)
    validate.check_ground_truth(vid, split, ground_truth, str(out))

    first = np.unique(vid, return_index=True)[1]
    labels = table.column("label").to_numpy()[first]
    splits = split[first]
    counts = {s: {"videos": int((splits == s).sum()), "anomalous": int(((splits == s) & (labels == 1)).sum())}
              for s in ("train", "val", "test") if (splits == s).any()}
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "dataset": dataset,
        "feature_set_hash": content_hash(table, flat, ground_truth),
        "dim": int(table.column("dim")[0].as_py()),
        "dtype": str(flat.dtype),
        "crops": int(table.column("crop").to_numpy().max()) + 1,
        "num_videos": int(first.size),
        "num_rows": table.num_rows,
        "num_snippets": int(table.column("num_snippets").to_numpy().astype(np.int64)[first].sum()),
        "counts": counts,
        **({"num_source_videos": len(set(table.column("source_video_id").to_pylist()))}
           if has_track_columns(table) else {}),
        "parts": parts,
        "provenance": dict(provenance or {}),
        "code_version": wsvad.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomic(manifest, out / MANIFEST)
    return manifest
