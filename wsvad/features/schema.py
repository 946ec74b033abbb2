"""The on-disk schema of a feature set (DESIGN.md "Feature set"), in plain Arrow types.

Plain types (no Ray tensor extension) so that pyarrow, pandas or DuckDB read a set directly.
`features` holds one crop of one video flattened: T·D values, row-major (snippet, dim).
"""

import pyarrow as pa

SPLITS = ("train", "val", "test")
SOURCES = ("real", "synthetic")

MANIFEST = "manifest.json"
GROUND_TRUTH = "ground_truth.parquet"
PART_GLOB = "part-*.parquet"
SCHEMA_VERSION = 1


def feature_type(dtype: str) -> pa.DataType:
    if dtype == "float16":
        return pa.list_(pa.float16())
    if dtype == "float32":
        return pa.list_(pa.float32())
    raise ValueError(f"feature dtype must be float16 or float32, got {dtype!r}")


def part_schema(dtype: str = "float32", tracks: bool = False) -> pa.Schema:
    """The part schema; ``tracks`` appends the optional columns of object-level sets."""
    return pa.schema(
        [
            ("video_id", pa.string()),
            ("split", pa.string()),
            ("label", pa.int8()),
            ("class_name", pa.string()),
            ("crop", pa.int16()),
            ("num_snippets", pa.int32()),
            ("dim", pa.int32()),
            ("num_frames", pa.int64()),
            ("fps", pa.float32()),
            ("source", pa.string()),
            ("features", feature_type(dtype)),
            *(TRACK_FIELDS if tracks else ()),
        ]
    )


# Optional columns of an object-level feature set (docs/object-level.md): one row per *track*
# (its `video_id` is "<source video>#t<track id>"), and per snippet — one tracked frame — the
# frame index in the source video, the box (x1, y1, x2, y2 in source-video pixels, 4 values per
# snippet), the detection score and the detector's category id (-1: no class). A set has all of
# them or none; sets without them load exactly as before.
TRACK_FIELDS = (
    pa.field("source_video_id", pa.string()),
    pa.field("track_id", pa.int32()),
    pa.field("frame", pa.list_(pa.int64())),
    pa.field("box", pa.list_(pa.float32())),
    pa.field("score", pa.list_(pa.float32())),
    pa.field("category", pa.list_(pa.int32())),
)
TRACK_COLUMNS = tuple(f.name for f in TRACK_FIELDS)
# values per snippet of each per-snippet track column
TRACK_VALUES_PER_SNIPPET = {"frame": 1, "box": 4, "score": 1, "category": 1}

COLUMNS = tuple(part_schema().names)

# Frame ground truth of test videos: one row per test video; normal videos have empty lists.
# A missing row (not an empty one) is what "a test video without ground truth" means.
GROUND_TRUTH_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("start_frame", pa.list_(pa.int64())),
        ("end_frame", pa.list_(pa.int64())),
    ]
)
