"""Toy feature sets with planted anomalies: CI needs no downloads, and a method that works must
find them (tests require frame AUC well above chance).

Every snippet is noise around its video's own mean; an anomalous video carries one contiguous
event (10–40 % of its snippets) where the features shift along its class's direction. Nothing
in a normal video, or outside the event, tells the classes apart, so only a model that learns
from the weak video labels *where* the shift is can score frames well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wsvad.features import FeatureSetWriter

TOY_CLASSES = ("Arson", "Fighting", "Robbery")


def make_toy_feature_set(out, videos: int = 64, dim: int = 64, snippets: int = 48, crops: int = 1,
                         seed: int = 0, strength: float = 6.0, video_spread: float = 0.0, test_fraction: float = 0.4,
                         frames_per_snippet: int = 16, dtype: str = "float32",
                         synthetic_fraction: float = 0.0) -> dict:
    """Write a toy feature set to `out`; returns its manifest."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(len(TOY_CLASSES), dim))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    labels = np.arange(videos) % 2                       # alternate: half normal, half anomalous
    n_test = max(2, int(round(test_fraction * videos)))
    splits = np.array(["train"] * (videos - n_test) + ["test"] * n_test)
    rng.shuffle(splits[: videos - n_test])               # keep both labels in both splits
    provenance = {"generator": "wsvad.toy", "seed": seed, "strength": strength, "backbone": "toy",
                  "frames_per_snippet": frames_per_snippet, "crops": crops}
    counters = {c: 0 for c in ("Normal", *TOY_CLASSES)}
    with FeatureSetWriter(Path(out), dataset="toy", provenance=provenance, dtype=dtype) as writer:
        for v in range(videos):
            t = int(rng.integers(max(4, snippets // 2), snippets + snippets // 2 + 1))
            base = rng.normal(scale=video_spread, size=dim) + rng.normal(size=(t, dim))          # (T, D)
            intervals = np.zeros((0, 2), np.int64)
            if labels[v]:
                k = int(rng.integers(len(TOY_CLASSES)))
                cls = TOY_CLASSES[k]
                length = int(rng.integers(max(1, t // 10), max(2, (2 * t) // 5) + 1))
                start = int(rng.integers(0, t - length + 1))
                base[start: start + length] += strength * directions[k]
                intervals = np.array([[start * frames_per_snippet, (start + length) * frames_per_snippet - 1]])
            else:
                cls = "Normal"
            counters[cls] += 1
            feats = base[None] + rng.normal(scale=0.1, size=(crops, t, dim))          # (C, T, D)
            video_id = f"{cls}{counters[cls]:03d}_toy"
            # GV-VAD: a share of the *training* videos is marked generated (synthetic)
            synthetic = splits[v] == "train" and rng.random() < synthetic_fraction
            writer.add_video(video_id, str(splits[v]), int(labels[v]), cls, feats,
                             num_frames=t * frames_per_snippet, fps=30.0, source="synthetic" if synthetic else "real")
            if splits[v] == "test":
                writer.set_ground_truth(video_id, intervals)
    return writer.manifest
