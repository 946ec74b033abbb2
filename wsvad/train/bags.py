"""Training bags held in memory and sampled as explicit normal / abnormal batches.

Every training video is pooled to S segments once (`segments.pool_video`), into one array
(N, C, S, D); a step is then a single fancy-index of that array — no file reads, no per-video
Python work on the hot path (the official loaders `np.load` each video every step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wsvad.features import FeatureSet
from wsvad.methods.base import Batch, InputSpec
from wsvad.segments import pool_video


@dataclass
class Bags:
    pooled: np.ndarray       # (N, C, S, D), the feature set's dtype
    lengths: np.ndarray      # (N,) real segments (S unless padded)
    labels: np.ndarray       # (N,) 0/1
    class_ids: np.ndarray    # (N,) 0 = Normal
    synthetic: np.ndarray    # (N,) bool
    video_index: np.ndarray  # (N,) index of the source video in the feature set


def build_bags(fs: FeatureSet, videos: np.ndarray, segments: int, spec: InputSpec,
               class_ids: dict[str, int]) -> Bags:
    """Pool `videos` of `fs` once. With train_crops='each', every crop becomes its own bag."""
    pooled, lengths = [], []
    for i in videos:  # once per run, not per step
        p, n = pool_video(fs.video(int(i)), segments, spec.pooling)
        pooled.append(p.astype(fs.features.dtype, copy=False))
        lengths.append(n)
    crops = fs.num_crops[videos]
    if np.unique(crops).size > 1:
        raise ValueError("training videos have different crop counts; a bag array needs one crop count")
    stack = np.stack(pooled)                          # (V, C, S, D)
    lengths = np.asarray(lengths, np.int64)
    labels = fs.labels[videos]
    cls = np.array([class_ids.get(c, 0) for c in fs.class_names[videos]], np.int64)
    synthetic = fs.sources[videos] == "synthetic"
    index = np.asarray(videos, np.int64)
    if spec.train_crops == "each":
        c = stack.shape[1]
        stack = stack.reshape(-1, 1, *stack.shape[2:])
        lengths, labels, cls, synthetic, index = (np.repeat(a, c) for a in (lengths, labels, cls, synthetic, index))
    return Bags(stack, lengths, labels, cls, synthetic, index)


class BagSampler:
    """Epochs of shuffled normal and abnormal bags, `batch_size` of each per step (drop_last).

    As the official loaders (shuffle=True, drop_last=True, re-iterated when exhausted), each side
    is an independent permutation, refreshed when it runs out; with shuffle=False (MGFN's loaders)
    each side is taken in feature-set order.
    """

    def __init__(self, bags: Bags, batch_size: int, train_crops: str, generator: torch.Generator,
                 shuffle: bool = True):
        self.bags = bags
        self.batch_size = batch_size
        self.train_crops = train_crops
        self.generator = generator
        self.shuffle = shuffle
        self.normal = np.flatnonzero(bags.labels == 0)
        self.abnormal = np.flatnonzero(bags.labels == 1)
        self._queues = {0: np.zeros(0, np.int64), 1: np.zeros(0, np.int64)}

    @property
    def steps_per_epoch(self) -> int:
        return max(1, min(self.normal.size, self.abnormal.size) // self.batch_size)

    def _take(self, label: int) -> np.ndarray:
        pool = self.normal if label == 0 else self.abnormal
        if self._queues[label].size < self.batch_size:
            if self.shuffle:
                perm = torch.randperm(pool.size, generator=self.generator).numpy()
                self._queues[label] = pool[perm]
            else:
                self._queues[label] = pool.copy()
        out, self._queues[label] = self._queues[label][: self.batch_size], self._queues[label][self.batch_size:]
        return out

    def next_batch(self) -> Batch:
        idx = np.concatenate([self._take(0), self._take(1)])
        b = self.bags
        if self.train_crops == "random" and b.pooled.shape[1] > 1:
            crop = torch.randint(b.pooled.shape[1], (idx.size,), generator=self.generator).numpy()
            feats = b.pooled[idx, crop][:, None]                  # (B, 1, S, D): one gather, chosen crops only
        else:
            # (B, C, S, D): one gather. numpy's single-threaded copy, not torch's index_select: measured
            # 20-40 ms vs 110-490 ms for 64 RTFM bags on a loaded 2-core box (parallel regions stall).
            feats = b.pooled[idx]
        n = self.batch_size
        return Batch(
            features=torch.from_numpy(np.ascontiguousarray(feats)).float(),
            labels=torch.from_numpy(b.labels[idx].astype(np.float32)),
            n_normal=n,
            n_abnormal=n,
            class_ids=torch.from_numpy(b.class_ids[idx]),
            synthetic=torch.from_numpy(b.synthetic[idx]),
            lengths=torch.from_numpy(b.lengths[idx]),
        )

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(),
                "queue_normal": torch.from_numpy(self._queues[0].copy()),
                "queue_abnormal": torch.from_numpy(self._queues[1].copy())}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self._queues = {0: state["queue_normal"].numpy(), 1: state["queue_abnormal"].numpy()}
