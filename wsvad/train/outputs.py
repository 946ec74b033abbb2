"""Files a training run leaves behind besides its checkpoint."""

from pathlib import Path

import numpy as np
import pyarrow as pa

from wsvad.features import FeatureSet
from wsvad.features.atomic import write_parquet_atomic
from wsvad.protocol import Evaluation


def write_frame_scores(path: Path, evaluation: Evaluation, fs: FeatureSet, videos: np.ndarray) -> None:
    """frame_scores.parquet: video_id, frame, score, label — one row per test frame."""
    ids = fs.video_ids[np.asarray(videos)][evaluation.frame_video_index]
    table = pa.table({
        "video_id": pa.array(ids.astype(str)),
        "frame": pa.array(evaluation.frame_index.astype(np.int64)),
        "score": pa.array(evaluation.frame_scores.astype(np.float32)),
        "label": pa.array(evaluation.frame_labels.astype(np.int8)),
    })
    write_parquet_atomic(table, Path(path))
