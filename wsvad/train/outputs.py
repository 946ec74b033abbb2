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


def save_evaluation(path: Path, evaluation: Evaluation, video_ids) -> None:
    """The selected model's test frame scores as one .npz (no pickle): enough to redraw its plots."""
    keys = sorted(evaluation.metrics)
    path = Path(path)
    with open(path, "wb") as f:
        np.savez(f, frame_video_index=evaluation.frame_video_index, frame_index=evaluation.frame_index,
                 frame_scores=evaluation.frame_scores, frame_labels=evaluation.frame_labels,
                 video_ids=np.asarray([str(v) for v in video_ids]), metric_names=np.asarray(keys),
                 metric_values=np.asarray([float(evaluation.metrics[k]) for k in keys], np.float64))


def load_evaluation(path: Path) -> tuple[Evaluation, list[str]]:
    with np.load(Path(path), allow_pickle=False) as z:
        metrics = dict(zip(z["metric_names"].tolist(), z["metric_values"].tolist()))
        evaluation = Evaluation(metrics, z["frame_video_index"], z["frame_index"], z["frame_scores"], z["frame_labels"])
        return evaluation, z["video_ids"].tolist()
