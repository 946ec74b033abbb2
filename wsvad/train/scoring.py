"""Scoring whole videos with a method's official test path, and evaluating a split."""

from __future__ import annotations

import numpy as np
import torch

from wsvad.features import FeatureSet
from wsvad.methods.base import Method
from wsvad.protocol import Evaluation, Protocol, VideoScores, evaluate, evaluate_video_level


@torch.no_grad()
def score_videos(model: Method, fs: FeatureSet, videos: np.ndarray, device: str = "cpu") -> list[np.ndarray]:
    """Snippet scores (T_i,) of each video; one forward per video (lengths differ)."""
    was_training = model.training
    model.eval()
    out = []
    for i in videos:
        x = torch.from_numpy(fs.video(int(i))).to(device=device, dtype=torch.float32)
        out.append(model.score(x).float().cpu().numpy())
    model.train(was_training)
    return out


def video_scores(fs: FeatureSet, videos: np.ndarray, scores: list[np.ndarray]) -> list[VideoScores]:
    empty = np.zeros((0, 2), np.int64)
    return [
        VideoScores(
            video_id=str(fs.video_ids[i]),
            label=int(fs.labels[i]),
            class_name=str(fs.class_names[i]),
            snippet_scores=s,
            intervals=fs.ground_truth.get(str(fs.video_ids[i]), empty),
            num_frames=int(fs.num_frames[i]),
        )
        for i, s in zip(videos, scores)
    ]


def has_frame_truth(fs: FeatureSet, videos: np.ndarray) -> bool:
    return all(str(fs.video_ids[i]) in fs.ground_truth for i in videos)


def evaluate_videos(model: Method, fs: FeatureSet, videos: np.ndarray, protocol: Protocol,
                    device: str = "cpu") -> tuple[dict, Evaluation | None]:
    """Frame metrics when every video has frame ground truth, else video-level metrics only."""
    scored = video_scores(fs, videos, score_videos(model, fs, videos, device))
    if has_frame_truth(fs, videos):
        ev = evaluate(scored, protocol)
        return ev.metrics, ev
    return evaluate_video_level(scored, protocol), None
