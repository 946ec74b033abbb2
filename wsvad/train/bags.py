"""Training bags held in memory and sampled as explicit normal / abnormal batches.

Every training video is pooled to S segments once (`segments.pool_video`), into one array
(N, C, S, D); a step is then a single fancy-index of that array — no file reads, no per-video
Python work on the hot path (the official loaders `np.load` each video every step).
"""

from __future__ import annotations

import sys
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
        self._buffer: np.ndarray | None = None   # the last batch's features, reused when nobody holds them

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

    def _gather(self, idx: np.ndarray) -> np.ndarray:
        """bags.pooled[idx], into an array kept from step to step while no tensor of an earlier batch
        still points at it (then a new one is made, so a batch a caller keeps never changes).

        A fresh array each step pays its page faults each step: for RTFM's 168 MB batch, 0.05–0.7 s
        on a 2-core VM against 0.03–0.06 s into a kept array (measured, benchmarks/RESULTS.md). numpy's
        single-threaded copy, not torch's index_select, which stalled at 0.1–0.5 s under load."""
        pooled = self.bags.pooled
        shape = (idx.size, *pooled.shape[1:])
        buf = self._buffer
        if buf is None or buf.shape != shape or sys.getrefcount(buf) > 3:   # 3: self._buffer, buf, the call
            buf = self._buffer = np.empty(shape, pooled.dtype)
        np.take(pooled, idx, axis=0, out=buf, mode="clip")     # idx is always in range; "raise" would buffer
        return buf

    def next_batch(self) -> Batch:
        idx = np.concatenate([self._take(0), self._take(1)])
        b = self.bags
        if self.train_crops == "random" and b.pooled.shape[1] > 1:
            crop = torch.randint(b.pooled.shape[1], (idx.size,), generator=self.generator).numpy()
            feats = b.pooled[idx, crop][:, None]                  # (B, 1, S, D): one gather, chosen crops only
        else:
            feats = self._gather(idx)                             # (B, C, S, D): one gather
        n = self.batch_size
        return Batch(
            features=torch.from_numpy(np.ascontiguousarray(feats)).float(),   # no copy for float32
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


# --- one-class methods: windows of normal videos ------------------------------------------------
# A one-class method (Method.one_class) learns the normal videos only, from windows of W
# consecutive snippets rather than whole videos pooled to bags: nothing is pooled or copied up
# front; a step gathers its windows' rows straight from the feature set's contiguous array.


@dataclass
class Windows:
    """The stride-1 windows of W snippets of some videos of a feature set (a video shorter than W
    gives one window, padded by repeating its last snippet)."""

    fs: FeatureSet
    videos: np.ndarray       # (V,) indices into the feature set
    window: int              # W
    first: np.ndarray        # (V+1,) global index of each video's first window; first[-1] = total
    labels: np.ndarray       # (V,) of the videos (all 0 for one-class training)

    @property
    def total(self) -> int:
        return int(self.first[-1])


def build_windows(fs: FeatureSet, videos: np.ndarray, window: int, same_crops: bool = False) -> Windows:
    """`same_crops`: windows will carry every crop (train_crops='all'), so the videos must agree on it."""
    videos = np.asarray(videos, np.int64)
    if same_crops and np.unique(fs.num_crops[videos]).size > 1:
        raise ValueError("training videos have different crop counts; windows of all crops need one crop count")
    t = fs.num_snippets[videos]
    counts = np.maximum(t - window + 1, 1)
    first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Windows(fs, videos, int(window), first, fs.labels[videos])


def gather_windows(w: Windows, video_pos: np.ndarray, starts: np.ndarray, crops: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Features (B, C', W, D) and valid lengths (B,) of windows (video_pos[i] into w.videos, start).

    `crops` (B,) picks one crop per window (C' = 1); None takes every crop (C' = C, which must
    agree across the chosen videos).
    """
    fs, win = w.fs, w.window
    v = w.videos[video_pos]                                       # (B,) feature-set indices
    t = fs.num_snippets[v]                                        # (B,)
    pos = np.minimum(starts[:, None] + np.arange(win)[None], t[:, None] - 1)    # (B, W): pad by repeating
    lengths = np.minimum(t - starts, win)
    if crops is None:
        c = fs.num_crops[v]
        if np.unique(c).size > 1:
            raise ValueError("windows of videos with different crop counts cannot share a batch")
        crop_rows = np.arange(int(c[0]))[None, :, None] * t[:, None, None]        # (B, C, 1)
    else:
        crop_rows = (crops * t)[:, None, None]                                   # (B, 1, 1)
    rows = fs.offsets[v][:, None, None] + crop_rows + pos[:, None, :]            # (B, C', W)
    return fs.features[rows], lengths


def tile_windows(w: Windows) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows that cover every snippet of every video once (the last window of a
    video ends at its last snippet): (video_pos, starts), for a deterministic validation pass."""
    pos, starts = [], []
    for i, t in enumerate(w.fs.num_snippets[w.videos]):
        s = np.arange(0, max(int(t) - w.window, 0) + 1, w.window)
        if s[-1] + w.window < t:
            s = np.append(s, int(t) - w.window)
        pos.append(np.full(s.size, i))
        starts.append(s)
    return np.concatenate(pos).astype(np.int64), np.concatenate(starts).astype(np.int64)


class WindowSampler:
    """Epochs of shuffled windows of the normal training videos, `batch_size` per step (drop_last).

    An epoch is every stride-1 window once, in a fresh random order (a DataLoader over all
    windows with shuffle=True, drop_last=True). Batches hold normal windows only: n_normal =
    batch_size, n_abnormal = 0. The state is the generator plus where the epoch's permutation
    was drawn from, so a resumed run redraws the same order instead of storing it.
    """

    def __init__(self, windows: Windows, batch_size: int, train_crops: str, generator: torch.Generator,
                 shuffle: bool = True):
        self.windows = windows
        self.batch_size = batch_size
        self.train_crops = train_crops
        self.generator = generator
        self.shuffle = shuffle
        self._perm_state: torch.Tensor | None = None   # generator state the current permutation was drawn from
        self._order = np.zeros(0, np.int64)
        self._cursor = 0

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.windows.total // self.batch_size)

    def _new_epoch(self) -> None:
        self._perm_state = self.generator.get_state()
        n = self.windows.total
        self._order = torch.randperm(n, generator=self.generator).numpy() if self.shuffle else np.arange(n)
        self._cursor = 0

    def next_batch(self) -> Batch:
        if self._order.size - self._cursor < min(self.batch_size, self.windows.total):
            self._new_epoch()
        take = self._order[self._cursor: self._cursor + self.batch_size]
        if take.size < self.batch_size:  # fewer windows than a batch: repeat the order to fill it
            take = np.resize(self._order, self.batch_size)
        self._cursor += self.batch_size
        w = self.windows
        video_pos = np.searchsorted(w.first, take, side="right") - 1
        starts = take - w.first[video_pos]
        crops = None
        if self.train_crops in ("random", "each"):  # each: every crop is as likely, one per window
            n_crops = w.fs.num_crops[w.videos[video_pos]]
            crops = (torch.rand(take.size, generator=self.generator).numpy() * n_crops).astype(np.int64)
        feats, lengths = gather_windows(w, video_pos, starts, crops)
        return one_class_batch(w, feats, lengths, video_pos)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(),
                "perm_state": self._perm_state if self._perm_state is not None else torch.zeros(0, dtype=torch.uint8),
                "cursor": int(self._cursor)}

    def load_state_dict(self, state: dict) -> None:
        perm_state = state["perm_state"]
        if perm_state.numel():
            self.generator.set_state(perm_state)
            self._new_epoch()
        else:
            self._order = np.zeros(0, np.int64)
        self._cursor = int(state["cursor"])
        self.generator.set_state(state["generator"])


def one_class_batch(w: Windows, feats: np.ndarray, lengths: np.ndarray, video_pos: np.ndarray) -> Batch:
    b = feats.shape[0]
    v = w.videos[video_pos]
    return Batch(
        features=torch.from_numpy(np.ascontiguousarray(feats)).float(),
        labels=torch.zeros(b),
        n_normal=b,
        n_abnormal=0,
        class_ids=torch.zeros(b, dtype=torch.long),
        synthetic=torch.from_numpy(w.fs.sources[v] == "synthetic"),
        lengths=torch.from_numpy(lengths.astype(np.int64)),
    )
