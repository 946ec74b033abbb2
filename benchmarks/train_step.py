"""Train-step throughput: features held in memory (wsvad) vs. the official loaders' habit of
`np.load`-ing every sampled video's .npy and pooling it in a Python loop, every step.

Both sides run the same model, optimiser and loss at the method's official batch size; only the
way a batch is produced differs. Steps of the two sides are interleaved (ours, baseline, ours, ...)
so that load on a shared machine affects both alike. Prints, per method, the batch-assembly time
and the whole-step throughput of each side and their ratios (measured in one run).

    python benchmarks/train_step.py [--methods mil,rtfm] [--steps 5] [--videos 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from wsvad.features import FeatureSetWriter, load_feature_set
from wsvad.methods.base import Batch
from wsvad.train import TrainOptions, Trainer

# Official feature layouts: Sultani uses C3D (4096-d, one crop); RTFM uses I3D 10-crop 2048-d.
SETUPS = {"mil": {"dim": 4096, "crops": 1}, "rtfm": {"dim": 2048, "crops": 10}}


def official_process_feat(feat: np.ndarray, length: int) -> np.ndarray:
    """The official per-segment loop (RTFM utils.process_feat), as the baseline runs it."""
    new_feat = np.zeros((length, feat.shape[1]), np.float32)
    r = np.linspace(0, len(feat), length + 1).astype(int)
    for i in range(length):
        new_feat[i] = feat[r[i]:r[i + 1]].mean(0) if r[i] != r[i + 1] else feat[r[i]]
    return new_feat


def make_data(root: Path, videos: int, dim: int, crops: int, snippets: int, seed: int = 0):
    """The same videos twice: one .npy per video (official dumps) and one feature set."""
    rng = np.random.default_rng(seed)
    paths, labels = [], []
    with FeatureSetWriter(root / "features", "bench", {"backbone": "synthetic"}) as w:
        for v in range(videos):
            t = int(rng.integers(snippets // 2, snippets * 3 // 2))
            feats = rng.normal(size=(t, crops, dim)).astype(np.float32)   # official (T, crops, D)
            label = v % 2
            split = "train" if v < videos - 4 else "test"
            vid = f"{'Arson' if label else 'Normal'}{v:04d}"
            path = root / f"{vid}_i3d.npy"
            np.save(path, feats)
            if split == "train":
                paths.append(path)
                labels.append(label)
            w.add_video(vid, split, label, "Arson" if label else "Normal", feats.transpose(1, 0, 2))
            if split == "test":
                w.set_ground_truth(vid, np.zeros((0, 2)) if label == 0 else np.array([[0, 15]]))
    return load_feature_set(root / "features"), np.array(paths), np.array(labels)


def baseline_batch(paths, labels, batch_size, segments, rng) -> Batch:
    """What the official loaders do each step: load every sampled video from disk and pool it."""
    chosen = np.concatenate([rng.choice(np.flatnonzero(labels == 0), batch_size, replace=False),
                             rng.choice(np.flatnonzero(labels == 1), batch_size, replace=False)])
    bags = []
    for p in paths[chosen]:
        feats = np.load(p).transpose(1, 0, 2)                          # (crops, T, D)
        bags.append(np.stack([official_process_feat(f, segments) for f in feats]))
    x = torch.from_numpy(np.stack(bags))
    b = len(chosen)
    return Batch(x, torch.tensor([0.0] * batch_size + [1.0] * batch_size), batch_size, batch_size,
                 torch.zeros(b, dtype=torch.long), torch.zeros(b, dtype=torch.bool), torch.full((b,), segments))


def bench(method: str, steps: int, videos: int, snippets: int) -> dict:
    setup = SETUPS[method]
    with tempfile.TemporaryDirectory() as tmp:
        fs, paths, labels = make_data(Path(tmp), videos, setup["dim"], setup["crops"], snippets)
        trainer = Trainer(fs, method, None, TrainOptions(seed=0, max_steps=2 * steps + 2, select_on="last"))
        model, optimizer = trainer.model, trainer.optimizer
        rng = np.random.default_rng(0)

        def ours_batch() -> Batch:
            return trainer.sampler.next_batch()

        def baseline() -> Batch:
            batch = baseline_batch(paths, labels, trainer.batch_size, trainer.config.segments, rng)
            if trainer.method_cls.inputs.train_crops == "random":  # e.g. Sultani: one crop per bag
                batch.features = batch.features[:, :1]
            return batch

        def step(make_batch) -> tuple[float, float]:
            started = time.perf_counter()
            batch = make_batch()
            assembled = time.perf_counter()
            model.train()
            total, _ = model.loss(model(batch.features), batch)
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            return assembled - started, time.perf_counter() - started

        step(ours_batch), step(baseline)  # warm-up: allocations, first-call overheads
        times = {"ours": np.zeros(2), "baseline": np.zeros(2)}
        for _ in range(steps):
            times["ours"] += step(ours_batch)
            times["baseline"] += step(baseline)
    return {side: {"batch_s": t[0] / steps, "step_s": t[1] / steps} for side, t in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="mil,rtfm")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--videos", type=int, default=72, help="training videos on disk (official batch sizes need >= 64)")
    p.add_argument("--snippets", type=int, default=200, help="mean snippets per video")
    args = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'method':<7} {'batch':>6} {'dim×crops':>10} | {'batch assembly ms':>25} {'ratio':>7} | "
          f"{'steps/s':>17} {'ratio':>6}")
    print(f"{'':<7} {'':>6} {'':>10} | {'ours':>12} {'baseline':>12} {'':>7} | {'ours':>8} {'baseline':>8}")
    for method in args.methods.split(","):
        r = bench(method, args.steps, args.videos, args.snippets)
        cfg = SETUPS[method]
        bs = {"mil": 30, "rtfm": 32}.get(method, 0)
        shape = f"{cfg['dim']}×{cfg['crops']}"
        o, b = r["ours"], r["baseline"]
        print(f"{method:<7} {f'{bs}+{bs}':>6} {shape:>10} | {1e3 * o['batch_s']:>12.1f} {1e3 * b['batch_s']:>12.1f} "
              f"{b['batch_s'] / o['batch_s']:>6.1f}x | {1 / o['step_s']:>8.3f} {1 / b['step_s']:>8.3f} "
              f"{b['step_s'] / o['step_s']:>5.2f}x", flush=True)


if __name__ == "__main__":
    main()
