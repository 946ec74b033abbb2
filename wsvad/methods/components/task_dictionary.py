"""S3R's task-aware dictionary, learned from the normal training videos (Wu et al., ECCV 2022).

Official code: github.com/louisYen/S3R data/ucf-crime/ucf_crime_dictionary_learning.py and
data/shanghaitech/shanghaitech_dictionary_learning.py, `dictionary_learning(...)`:

    X      = mean over crops and snippets of every normal training video      (V, D)
    S      = round(V · ratio / 100)                  (ratio 50 for UCF-Crime → 400 slots, 90 for ShanghaiTech)
    codes  = MiniBatchDictionaryLearning(n_components=S, transform_algorithm="omp",
               transform_n_nonzero_coefs=2, batch_size=32, random_state=42, n_iter=100)
             .fit_transform(Xᵀ)                       # samples are the D channels, features the V videos
    dictionary = codesᵀ                               (S, D), float32

i.e. every feature channel is sparse-coded (2 atoms, OMP) over S learned "video-space" atoms,
and the transposed code matrix is the dictionary the en-Normal module attends to (saved as
`<dataset>_dictionaries.taskaware.omp.100iters.<ratio>pct.npy`). The official inputs are the
normal training videos pooled to 32 snippets (`<dataset>_regular_features-2048dim.training.pickle`,
`{video: (crops, 32, C)}`), which is what the trainer's bags hold.

Deliberate differences (scikit-learn 0.24 → the pinned 1.9):
- `n_iter=100` (100 mini-batch steps, removed from scikit-learn) becomes
  `max_iter = ceil(100 / ceil(D / 32))` passes over the D samples, i.e. the fewest whole passes
  with at least 100 mini-batch steps (2 passes = 128 steps for D = 2048), with early stopping
  off (`tol=0`, `max_no_improvement=None`) as 0.24 had none; `n_jobs` is left at 1;
- S is at least 1 and the OMP sparsity at most min(2, S, V), so tiny training sets still work.
The result is deterministic for a given scikit-learn/NumPy/BLAS, not bit-equal to the released
.npy files (scikit-learn's online dictionary update changed between those versions).
"""

from __future__ import annotations

import math
import warnings

import numpy as np


def dictionary_slots(videos: int, ratio: float) -> int:
    """The official `int(np.around(V * R / 100.))`, at least 1."""
    return max(1, int(np.around(videos * ratio / 100.0)))


def learn_task_dictionary(normal_bags: np.ndarray, ratio: float = 50.0, n_iter: int = 100, batch_size: int = 32,
                          n_nonzero_coefs: int = 2, seed: int = 42) -> np.ndarray:
    """The task-aware dictionary (S, D) float32 of the normal training bags (V, C, T, D)."""
    from sklearn.decomposition import MiniBatchDictionaryLearning  # heavy import, only when learning

    bags = np.asarray(normal_bags)
    if bags.ndim != 4 or bags.shape[0] == 0:
        raise ValueError(f"expected normal training bags (V, C, T, D) with V >= 1, got shape {bags.shape}")
    videos = bags.astype(np.float64).mean(axis=(1, 2)).astype(np.float32)     # (V, D)
    v, d = videos.shape
    slots = dictionary_slots(v, ratio)
    steps_per_pass = math.ceil(d / min(batch_size, d))
    learner = MiniBatchDictionaryLearning(
        n_components=slots,
        transform_algorithm="omp",
        transform_n_nonzero_coefs=min(n_nonzero_coefs, slots, v),
        batch_size=batch_size,
        max_iter=max(1, math.ceil(n_iter / steps_per_pass)),
        tol=0.0,
        max_no_improvement=None,
        random_state=seed,
    )
    with warnings.catch_warnings():  # few, collinear videos (toy sets): OMP stops early, which is fine here
        warnings.filterwarnings("ignore", message="Orthogonal matching pursuit ended prematurely")
        codes = learner.fit_transform(videos.T)                                # (D, S): one code per channel
    return np.ascontiguousarray(codes.T, dtype=np.float32)                     # (S, D)
