"""Feature sets: Parquet part files + manifest.json + ground truth, one row per (video, crop).

`write_feature_set`/`FeatureSetWriter` write them atomically; `load_feature_set` reads a whole
set into one contiguous array with per-video offsets (shareable zero-copy by Ray).
"""

from wsvad.features.schema import COLUMNS, SPLITS
from wsvad.features.store import FeatureSet, load_feature_set, read_manifest
from wsvad.features.writer import FeatureSetWriter, finalize_feature_set

__all__ = [
    "COLUMNS",
    "SPLITS",
    "FeatureSet",
    "FeatureSetWriter",
    "finalize_feature_set",
    "load_feature_set",
    "read_manifest",
]
