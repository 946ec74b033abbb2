"""Validation carving: stratified by label; object-level sets split by source video, never by track."""

import dataclasses

import numpy as np

from wsvad.features.store import Tracks
from wsvad.train.splits import carve_validation


@dataclasses.dataclass
class _Set:  # the fields carve_validation reads
    splits: np.ndarray
    labels: np.ndarray
    tracks: Tracks | None = None

    def select(self, split=None, label=None):
        keep = np.ones(self.splits.size, bool)
        if split is not None:
            keep &= self.splits == split
        if label is not None:
            keep &= self.labels == label
        return np.flatnonzero(keep)


def test_video_sets_carve_a_stratified_fraction():
    fs = _Set(np.array(["train"] * 20 + ["test"] * 4), np.array([0, 1] * 12))
    train, val = carve_validation(fs, 0.2, split_seed=3)
    assert np.intersect1d(train, val).size == 0 and train.size + val.size == 20
    assert (fs.labels[val] == 0).sum() == 2 and (fs.labels[val] == 1).sum() == 2


def test_tracks_of_one_source_video_stay_on_one_side():
    sources = np.repeat([f"v{i}" for i in range(10)], 3)                 # 10 videos × 3 tracks
    labels = np.repeat(np.arange(10) % 2, 3)
    n = sources.size
    tracks = Tracks(sources, np.tile([1, 2, 3], 10), np.zeros(0, np.int64), np.zeros((0, 4), np.float32),
                    np.zeros(0, np.float32), np.zeros(0, np.int64))
    fs = _Set(np.array(["train"] * n), labels, tracks)
    train, val = carve_validation(fs, 0.2, split_seed=0)
    assert set(sources[train]).isdisjoint(set(sources[val]))
    assert train.size + val.size == n and val.size == 6                  # one normal + one anomalous video
    assert sorted(set(labels[val])) == [0, 1]
