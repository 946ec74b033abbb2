"""Toy feature sets for one-class methods: snippet features of generated surveillance videos in
which every training clip is normal and the test clips carry an object-level anomaly.

A clip is simulated, not rendered: its latent scene is a stream of objects of one class crossing
the camera view in the direction of the flow, one after another, and each snippet's feature is a
fixed random rendering of that state plus noise (the way a frozen backbone maps what it sees to a
vector):

    f_t = scene + a · (c_pedestrian + M · φ(p_t, v_t)) + ε,     ε ~ N(0, noise² I_D)
    φ(p, v) = (cos 2πp, sin 2πp, cos 4πp, sin 4πp, v / v₀)     p ∈ [0, 1): position, v: velocity

Positions are periodic, so an object leaving on the right and the next one entering on the left
is a smooth change; v₀ > 0 is the flow and every normal object moves with it (speed jitter ±20 %).
`scene` is one of a few camera vectors (ShanghaiTech-like: several scenes, one flow each).

An anomalous test clip holds one event (`event_fraction` of its snippets, at a random place):
- `AgainstFlow`: the object turns round and walks against the flow (v → −v); its positions run
  backwards and its motion component flips sign, while the class and the scene stay normal;
- `NewObject`: a second object of a class never seen in training (its own random direction
  c_new) enters and crosses the view during the event, on top of the normal stream.

Frame ground truth marks the event's frames (`frames_per_snippet` frames per snippet, inclusive
ends, as wsvad.toy). Nothing outside the event differs from the training clips, so a one-class
model must flag the event frames from the normal clips alone.

`train_anomalous` adds anomalous *training* clips with video labels only, so the same set also
trains weakly-supervised methods (a sweep can run both kinds side by side); one-class training
ignores them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wsvad.features import FeatureSetWriter

ONECLASS_ANOMALIES = ("AgainstFlow", "NewObject")


def _trajectory(rng: np.random.Generator, t: int, v0: float, start: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions (T,) in [0, 1) and velocities (T,) of a stream of objects moving with the flow."""
    v = v0 * (1 + rng.uniform(-0.2, 0.2, size=t))
    p0 = rng.random() if start is None else start
    p = (p0 + np.concatenate([[0.0], np.cumsum(v[:-1])])) % 1.0
    return p, v


def _phi(p: np.ndarray, v: np.ndarray, v0: float) -> np.ndarray:
    """The object state as 5 numbers per snippet (T, 5): periodic position, signed motion."""
    ang = 2 * np.pi * p
    return np.stack([np.cos(ang), np.sin(ang), np.cos(2 * ang), np.sin(2 * ang), v / v0], axis=1)


def make_oneclass_feature_set(out, train_videos: int = 32, test_videos: int = 24, dim: int = 32,
                              snippets: int = 96, crops: int = 1, seed: int = 0, scenes: int = 3,
                              anomalies: tuple[str, ...] = ONECLASS_ANOMALIES, event_fraction: tuple[float, float] = (0.25, 0.45),
                              object_scale: float = 0.5, noise: float = 1.0, flow_speed: float = 1 / 24,
                              train_anomalous: int = 0, frames_per_snippet: int = 16, dtype: str = "float32") -> dict:
    """Write the feature set to `out`; returns its manifest.

    `train_videos` normal training clips (+ `train_anomalous` weakly-labelled anomalous ones);
    `test_videos` test clips, every other one anomalous, the anomaly kind cycling through `anomalies`.
    Clip lengths are drawn from [snippets/2, 3·snippets/2].
    """
    unknown = set(anomalies) - set(ONECLASS_ANOMALIES)
    if not anomalies or unknown:
        raise ValueError(f"anomalies must be a non-empty subset of {ONECLASS_ANOMALIES}, got {anomalies}")
    if test_videos < 2 or train_videos < 1:
        raise ValueError("need at least 1 training clip and 2 test clips (one normal, one anomalous)")
    rng = np.random.default_rng(seed)
    scene_vectors = rng.normal(size=(scenes, dim))                                   # (S, D)
    pedestrian = rng.normal(size=dim)
    pedestrian *= np.sqrt(dim) / np.linalg.norm(pedestrian) / 2                      # |c| = √D / 2
    render = rng.normal(size=(dim, 5))                                              # M (D, 5)
    new_class = rng.normal(size=dim)
    new_class *= np.sqrt(dim) / np.linalg.norm(new_class) / 2

    def clip(t: int, anomaly: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Features (C, T, D) and event snippet interval [[start, stop)] (or none)."""
        p, v = _trajectory(rng, t, flow_speed)
        objects = pedestrian[None] + _phi(p, v, flow_speed) @ render.T           # (T, D)
        interval = np.zeros((0, 2), np.int64)
        if anomaly is not None:
            lo, hi = event_fraction
            length = int(np.clip(round(rng.uniform(lo, hi) * t), 2, t))
            start = int(rng.integers(0, t - length + 1))
            stop = start + length
            if anomaly == "AgainstFlow":
                # from the event's start the object walks back along where it came from
                back = p[start] - np.cumsum(v[start:stop])
                objects[start:stop] = pedestrian[None] + _phi(back % 1.0, -v[start:stop], flow_speed) @ render.T
            else:  # NewObject: a second object, of a new class, crosses the view during the event
                q, w = _trajectory(rng, length, flow_speed, start=0.0)
                objects[start:stop] += new_class[None] + _phi(q, w, flow_speed) @ render.T
            interval = np.array([[start, stop]], np.int64)
        scene = scene_vectors[int(rng.integers(scenes))]
        base = scene[None] + object_scale * objects                                 # (T, D)
        feats = base[None] + rng.normal(scale=noise, size=(crops, t, dim))         # (C, T, D)
        return feats, interval

    plan = [("train", None)] * train_videos
    plan += [("train", anomalies[i % len(anomalies)]) for i in range(train_anomalous)]
    plan += [("test", None if i % 2 == 0 else anomalies[(i // 2) % len(anomalies)]) for i in range(test_videos)]
    provenance = {"generator": "wsvad.toy_oneclass", "seed": seed, "backbone": "toy", "crops": crops,
                  "frames_per_snippet": frames_per_snippet, "object_scale": object_scale, "noise": noise,
                  "flow_speed": flow_speed, "anomalies": list(anomalies)}
    counters: dict[str, int] = {}
    with FeatureSetWriter(Path(out), dataset="toy-oneclass", provenance=provenance, dtype=dtype) as writer:
        for split, anomaly in plan:
            t = int(rng.integers(max(4, snippets // 2), snippets + snippets // 2 + 1))
            feats, interval = clip(t, anomaly)
            cls = anomaly or "Normal"
            counters[cls] = counters.get(cls, 0) + 1
            video_id = f"{cls}{counters[cls]:03d}_{split}_toy"
            writer.add_video(video_id, split, int(anomaly is not None), cls, feats,
                             num_frames=t * frames_per_snippet, fps=30.0)
            if split == "test":
                frames = interval * frames_per_snippet - np.array([0, 1])                 # [first, last] frame
                writer.set_ground_truth(video_id, frames.reshape(-1, 2))
    return writer.manifest
