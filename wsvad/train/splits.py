"""Which videos train, which select the model, which test it.

Honest selection (the default): a validation split carved from the *training* videos,
stratified by video label, with a fixed split seed (independent of the training seed so that
retraining over seeds varies the training, not the data). Training videos carry only video
labels, so selection on a carved split uses video-level AUC; a feature set that ships its own
`val` split with frame ground truth is used as-is and selects on frame metrics.
"""

import numpy as np

from wsvad.errors import ConfigError
from wsvad.features import FeatureSet


def carve_validation(fs: FeatureSet, fraction: float, split_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices). Uses the set's own `val` split when it has one."""
    train = fs.select("train")
    own_val = fs.select("val")
    if own_val.size:
        return train, own_val
    if fraction <= 0:
        return train, np.zeros(0, np.int64)
    if not 0 < fraction < 1:
        raise ConfigError(f"--val-fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(split_seed)
    if getattr(fs, "tracks", None) is not None:
        return _carve_by_source_video(fs, train, fraction, rng)
    val = []
    for label in (0, 1):
        members = train[fs.labels[train] == label]
        if members.size < 2:
            raise ConfigError(
                f"cannot carve a validation split: only {members.size} training video(s) with label {label}; "
                "use --select-on test or last, or --val-fraction 0"
            )
        n = min(max(1, int(round(fraction * members.size))), members.size - 1)
        val.append(rng.choice(members, size=n, replace=False))
    val_idx = np.sort(np.concatenate(val))
    return np.setdiff1d(train, val_idx), val_idx


def _carve_by_source_video(fs: FeatureSet, train: np.ndarray, fraction: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Object-level sets (one row per track): whole source videos go to validation, so no video's
    tracks sit on both sides of the split (they share the scene, the lighting, often the object)."""
    sources = fs.tracks.source_video_ids[train]
    val_sources = []
    for label in (0, 1):
        members = np.unique(sources[fs.labels[train] == label])
        if members.size < 2:
            raise ConfigError(
                f"cannot carve a validation split: only {members.size} training source video(s) with label "
                f"{label}; use --select-on test or last, or --val-fraction 0"
            )
        n = min(max(1, int(round(fraction * members.size))), members.size - 1)
        val_sources.append(rng.choice(members, size=n, replace=False))
    in_val = np.isin(sources, np.concatenate(val_sources))
    return train[~in_val], train[in_val]
