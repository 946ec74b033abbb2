"""Train-step throughput of every method: features held in memory (wsvad) vs. the official loaders,
which `np.load` every sampled video's .npy and pool it in a Python loop, every step.

Both sides run the very same `Trainer.train_step` (model, optimiser, loss, finiteness check, logged
parts) in one process with the same torch threads, at the method's official batch size and the
official feature layout (dimension × crops); only where the batch comes from differs:

- ours: `BagSampler.next_batch`, one fancy-index of the bags pooled once in memory;
- baseline: what the official Dataset + DataLoader (num_workers=0) do each step — for every sampled
  video (or crop file, where each crop is a sample) `np.load` + `np.array(..., float32)`, the
  official per-segment pooling loop (RTFM `process_feat`, VadCLIP `uniform_extract`/`pad`, S3R's
  per-crop linear resize), then the collate stack.

Batch assembly is timed alone (interleaved repetitions), then, after one warm-up step, whole steps
interleaved baseline / ours: at least `--steps` pairs, more until `--budget` seconds are spent;
medians are reported. Features are synthetic (normal noise) at the official
dimensions; videos have ~`--snippets` snippets (±50 %), or with `--realistic` the mean length of the
official datasets' videos (UCF-Crime 7247 frames ≈ 453 snippets, XD-Violence ≈ 247). Files are
read from the page cache (written just before), which favours the baseline.

    python benchmarks/train_step.py [--methods all] [--steps 1] [--budget 60] [--realistic] [--report FILE.md]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wsvad.features import FeatureSetWriter, load_feature_set
from wsvad.methods import get_method, list_methods, make_config
from wsvad.methods.base import Batch
from wsvad.train import TrainOptions, Trainer

# Official feature layouts (dimension, crops, dataset the official numbers are on).
LAYOUTS = {
    "mil": (4096, 1, "ucf"),       # C3D fc6, no crops (Sultani)
    "rtfm": (2048, 10, "ucf"),     # I3D ResNet-50, 10-crop
    "mgfn": (2048, 10, "ucf"),
    "s3r": (2048, 10, "ucf"),
    "cliptsa": (512, 1, "ucf"),    # CLIP ViT-B/16, one crop
    "urdmu": (1024, 10, "ucf"),    # I3D RGB, 10-crop, each crop its own sample
    "gsmoe": (1024, 10, "ucf"),
    "bnwvad": (1024, 5, "xd"),     # XD-Violence: 5 crops
    "vadclip": (512, 10, "ucf"),   # CLIP ViT-B/16, 10-crop, each crop its own sample
    "tpwng": (512, 10, "ucf"),
}
REALISTIC_SNIPPETS = {"ucf": 453, "xd": 247}   # mean video length / 16 frames (UCF-Crime 128 h / 1900 videos)
UCF_CLASSES = ["Abuse", "Arrest", "Arson", "Assault", "Burglary", "Explosion", "Fighting", "RoadAccidents",
               "Robbery", "Shooting", "Shoplifting", "Stealing", "Vandalism"]


# --- the official loaders' per-video work ----------------------------------------------------------

def process_feat(feat: np.ndarray, length: int) -> np.ndarray:
    """RTFM/MGFN/CLIP-TSA utils.process_feat and UR-DMU's loader loop: mean over int(linspace) bounds."""
    new_feat = np.zeros((length, feat.shape[1]), np.float32)
    r = np.linspace(0, len(feat), length + 1).astype(int)
    for i in range(length):
        if r[i] != r[i + 1]:
            new_feat[i, :] = np.mean(feat[r[i]:r[i + 1], :], 0)
        else:
            new_feat[i, :] = feat[r[i], :]
    return new_feat


def vadclip_process_feat(feat: np.ndarray, length: int) -> tuple[np.ndarray, int]:
    """VadCLIP utils/tools.py process_feat: uniform_extract (avg) above `length`, zero pad below."""
    if feat.shape[0] > length:
        return process_feat(feat, length), length
    return np.pad(feat, ((0, length - feat.shape[0]), (0, 0)), mode="constant", constant_values=0), feat.shape[0]


def s3r_resize(feat: np.ndarray, length: int) -> np.ndarray:
    """S3R: cv2.resize(feature, (D, length), INTER_LINEAR) of one crop (T, D) — half-pixel centres,
    edges clamped — as vectorised numpy (as fast as the one C call it stands for)."""
    t = feat.shape[0]
    src = np.clip((np.arange(length) + 0.5) * (t / length) - 0.5, 0, t - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, t - 1)
    w = (src - i0).astype(np.float32)[:, None]
    return feat[i0] * (1 - w) + feat[i1] * w


class OfficialLoader:
    """The official normal and abnormal DataLoaders (shuffle, drop_last, num_workers=0), one batch each per step."""

    def __init__(self, files: np.ndarray, labels: np.ndarray, class_ids: np.ndarray, per_crop_files: bool,
                 pooling: str, segments: int, batch_size: int, seed: int = 0):
        self.files, self.labels, self.class_ids = files, labels, class_ids
        self.per_crop_files, self.pooling, self.segments = per_crop_files, pooling, segments
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.steps_per_epoch = max(1, min((labels == 0).sum(), (labels == 1).sum()) // batch_size)

    def _sample(self, path: str) -> tuple[np.ndarray, int]:
        features = np.array(np.load(path), dtype=np.float32)                    # dataset.py: np.load + float32
        crops = [features] if self.per_crop_files else list(features.transpose(1, 0, 2))   # (T, D) each
        length = self.segments
        pooled = []
        for f in crops:                                                         # the official per-crop loop
            if self.pooling == "linspace_mean":
                pooled.append(process_feat(f, self.segments))
            elif self.pooling == "pad_sample":
                p, length = vadclip_process_feat(f, self.segments)
                pooled.append(p)
            else:
                pooled.append(s3r_resize(f, self.segments))
        return np.array(pooled, dtype=np.float32), length                       # (C, S, D)

    def next_batch(self) -> Batch:
        b = self.batch_size
        chosen = np.concatenate([self.rng.choice(np.flatnonzero(self.labels == 0), b, replace=False),
                                 self.rng.choice(np.flatnonzero(self.labels == 1), b, replace=False)])
        samples = [self._sample(str(p)) for p in self.files[chosen]]
        x = torch.from_numpy(np.stack([s[0] for s in samples]))                  # default_collate's stack
        return Batch(x, torch.from_numpy(self.labels[chosen].astype(np.float32)), b, b,
                     torch.from_numpy(self.class_ids[chosen]), torch.zeros(2 * b, dtype=torch.bool),
                     torch.tensor([s[1] for s in samples]))


# --- data ------------------------------------------------------------------------------------------

@dataclass
class Data:
    root: Path
    fs: object
    video_files: np.ndarray     # one (T, C, D) .npy per training video
    crop_files: np.ndarray      # one (T, D) .npy per training video and crop
    video_labels: np.ndarray
    video_classes: np.ndarray   # class names
    snippets: float             # mean T of the training videos


def make_data(root: Path, per_side: int, dim: int, crops: int, snippets: int, seed: int = 0) -> Data:
    """The same videos twice: official .npy dumps (per video, and per crop) and one feature set."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    files, crop_files, labels, classes, lengths = [], [], [], [], []
    with FeatureSetWriter(root / "features", "bench", {"backbone": "synthetic"}) as w:
        for v in range(2 * per_side + 4):
            t = int(rng.integers(max(2, snippets // 2), snippets * 3 // 2 + 1))
            feats = rng.standard_normal((t, crops, dim), dtype=np.float32)           # official (T, crops, D)
            label = v % 2
            cls = UCF_CLASSES[(v // 2) % len(UCF_CLASSES)] if label else "Normal"
            vid = f"{cls}{v:04d}_x264"
            split = "train" if v < 2 * per_side else "test"
            w.add_video(vid, split, label, cls, feats.transpose(1, 0, 2))
            if split == "test":
                w.set_ground_truth(vid, np.zeros((0, 2)) if label == 0 else np.array([[0, 15]]))
                continue
            np.save(root / f"{vid}_i3d.npy", feats)
            for c in range(crops):
                np.save(root / f"{vid}__{c}.npy", np.ascontiguousarray(feats[:, c]))
            files.append(root / f"{vid}_i3d.npy")
            crop_files.append([root / f"{vid}__{c}.npy" for c in range(crops)])
            labels.append(label)
            classes.append(cls)
            lengths.append(t)
    fs = load_feature_set(root / "features", validate_rows=False)
    return Data(root, fs, np.array(files), np.array(crop_files), np.array(labels), np.array(classes),
                float(np.mean(lengths)))


def baseline_for(trainer: Trainer, data: Data) -> OfficialLoader:
    spec = trainer.method_cls.inputs
    class_id = {c: i for i, c in enumerate(trainer.class_names)}
    ids = np.array([class_id.get(c, 0) for c in data.video_classes], np.int64)
    if spec.train_crops == "each":   # the official lists name every crop file as its own sample
        crops = data.crop_files.shape[1]
        return OfficialLoader(data.crop_files.reshape(-1), np.repeat(data.video_labels, crops), np.repeat(ids, crops),
                              True, spec.pooling, trainer.config.segments, trainer.batch_size)
    return OfficialLoader(data.video_files, data.video_labels, ids, False, spec.pooling, trainer.config.segments,
                          trainer.batch_size)


# --- measurement -----------------------------------------------------------------------------------

def per_side(method: str, crops: int) -> int:
    cls = get_method(method)
    batch = make_config(cls).batch_size
    return (math.ceil(batch / crops) if cls.inputs.train_crops == "each" else batch) + 2


def bench(method: str, data: Data, args) -> dict:
    cls = get_method(method)
    trainer = Trainer(data.fs, method, None, TrainOptions(seed=0, max_steps=10**6, select_on="last"))
    ours = trainer.sampler
    official = baseline_for(trainer, data)
    assert trainer.batch_size == make_config(cls).batch_size, "not enough videos for the official batch size"

    # Batch assembly alone, interleaved.
    asm = {"ours": [], "baseline": []}
    for _ in range(args.assembly_reps):
        for side, sampler in (("ours", ours), ("baseline", official)):
            started = time.perf_counter()
            sampler.next_batch()
            asm[side].append(time.perf_counter() - started)

    cpu = {"ours": [], "baseline": []}

    def step(side: str) -> float:
        trainer.sampler = ours if side == "ours" else official
        started, cpu_started = time.perf_counter(), time.process_time()
        trainer.train_step()
        cpu[side].append(time.process_time() - cpu_started)   # less sensitive to other jobs than wall time
        return time.perf_counter() - started

    steps = {"ours": [], "baseline": []}
    # Warm-up, not counted: the first step pays first-call costs and the first touch of every
    # activation page (seconds for the heavy methods on this VM), which later steps of either side reuse.
    step("ours")
    cpu["ours"].clear()
    started = time.perf_counter()
    while True:
        for side in ("baseline", "ours"):
            steps[side].append(step(side))
        pairs = min(len(steps["ours"]), len(steps["baseline"]))
        # At least --steps pairs; light methods go on filling the budget (sub-second steps are noisy).
        if pairs >= args.max_pairs or (pairs >= args.steps and time.perf_counter() - started > args.budget):
            break
    mean = {k: float(np.median(v)) for k, v in steps.items()}
    amean = {k: float(np.median(v)) for k, v in asm.items()}   # median: robust to a load spike
    dim, crops, _ = LAYOUTS[method]
    return {
        "method": method, "batch": trainer.batch_size, "samples": 2 * trainer.batch_size,
        "crops_per_sample": trainer.bags.pooled.shape[1], "segments": trainer.config.segments, "dim": dim,
        "crops": crops, "train_crops": cls.inputs.train_crops, "pooling": cls.inputs.pooling,
        "mean_snippets": data.snippets, "assembly_ours_s": amean["ours"], "assembly_baseline_s": amean["baseline"],
        "assembly_ratio": amean["baseline"] / amean["ours"], "step_ours_s": mean["ours"],
        "step_baseline_s": mean["baseline"], "step_ratio": mean["baseline"] / mean["ours"],
        "steps_measured": min(len(steps["ours"]), len(steps["baseline"])),
        "cpu_step_ours_s": float(np.median(cpu["ours"])), "cpu_step_baseline_s": float(np.median(cpu["baseline"])),
        "cpu_step_ratio": float(np.median(cpu["baseline"]) / np.median(cpu["ours"])),
        "threads": torch.get_num_threads(), "load_average": os.getloadavg()[0],
        # What no batch source can change: the step without assembly, and the best step ratio it allows.
        "compute_s": mean["ours"] - amean["ours"],
        "ratio_bound": (mean["ours"] - amean["ours"] + amean["baseline"]) / max(mean["ours"] - amean["ours"], 1e-9),
    }


def markdown(rows: list[dict], args) -> str:
    label = ("realistic video lengths (UCF-Crime mean 453 snippets, XD-Violence 247)" if args.realistic
             else f"~{args.snippets} snippets per video")
    loads = ", ".join(f"{r['load_average']:.1f}" for r in rows if "load_average" in r) or "not recorded"
    out = [f"Official batch sizes and feature layouts, synthetic values, {label}; torch "
           f"{torch.__version__} on CPU, {rows[0]['threads'] if rows else '?'} threads on both sides (same process); "
           f"load average after each method: {loads}.", "",
           "| method | samples × crops × S × D | batch assembly ours | baseline | ratio | step ours | baseline | "
           "**step ratio** | CPU-time ratio | step pairs | bound | assembly share of the baseline step |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        share = r["assembly_baseline_s"] / r["step_baseline_s"]
        cpu = f"{r['cpu_step_ratio']:.2f}×" if "cpu_step_ratio" in r else "—"
        out.append(f"| {r['method']} | {r['samples']} × {r['crops_per_sample']} × {r['segments']} × {r['dim']} | "
                   f"{1e3 * r['assembly_ours_s']:.1f} ms | {1e3 * r['assembly_baseline_s']:.0f} ms | "
                   f"{r['assembly_ratio']:.1f}× | {r['step_ours_s']:.2f} s | {r['step_baseline_s']:.2f} s | "
                   f"**{r['step_ratio']:.2f}×** | {cpu} | {r['steps_measured']} | "
                   f"{r['ratio_bound']:.2f}× | {100 * share:.0f} % |")
    out += ["", "Step ratio: wall time, median of the interleaved pairs after a warm-up step. CPU-time ratio: the "
            "same steps' process CPU time (user + system), less sensitive to other jobs on the box. Bound: "
            "(compute + baseline assembly) / (compute + our assembly), compute = our step − our assembly — the "
            "most any batch source can gain while the model's forward/backward stays as it is."]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="all", help="all, or a comma-separated list")
    p.add_argument("--steps", type=int, default=1, help="interleaved step pairs to measure, at least")
    p.add_argument("--budget", type=float, default=60.0, help="seconds per method: pairs go on until it is spent")
    p.add_argument("--max-pairs", type=int, default=50)
    p.add_argument("--assembly-reps", type=int, default=5)
    p.add_argument("--snippets", type=int, default=200, help="mean snippets per video")
    p.add_argument("--realistic", action="store_true", help="the official datasets' mean video lengths")
    p.add_argument("--smoke-test", action="store_true", help="tiny: MIL and RTFM, one step")
    p.add_argument("--report", help="also write the markdown table here")
    p.add_argument("--json", help="also write the rows as JSON here")
    p.add_argument("--from-json", help="only render the markdown of an earlier run's JSON")
    p.add_argument("--append", action="store_true", help="keep the other methods' rows of the --json file")
    args = p.parse_args()
    if args.from_json:
        text = markdown(json.loads(Path(args.from_json).read_text()), args)
        print(text)
        if args.report:
            Path(args.report).write_text(text + "\n")
        return
    methods = list_methods() if args.methods == "all" else args.methods.split(",")
    skipped = [m for m in methods if m not in LAYOUTS]
    if skipped:   # e.g. one-class methods: no weakly-supervised official loader to compare with
        print(f"no official loader to compare with for {', '.join(skipped)}: skipped", flush=True)
    methods = [m for m in methods if m in LAYOUTS]
    if args.smoke_test:
        methods, args.steps, args.budget, args.assembly_reps, args.snippets = ["mil", "cliptsa"], 1, 0, 1, 40
    # Methods sharing a layout share one data set; the heavy layouts last.
    groups: dict[tuple, list[str]] = {}
    for m in methods:
        dim, crops, dataset = LAYOUTS[m]
        groups.setdefault((dim, crops, dataset), []).append(m)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.1f}",
          flush=True)
    rows = []
    earlier = []
    if args.append and args.json and Path(args.json).exists():   # keep the other methods of an earlier run
        earlier = [r for r in json.loads(Path(args.json).read_text()) if r["method"] not in methods]

    def save() -> None:   # after every method: a run stopped midway keeps what it measured
        if args.json:
            Path(args.json).write_text(json.dumps(earlier + rows, indent=1))

    with tempfile.TemporaryDirectory() as tmp:
        for g, ((dim, crops, dataset), members) in enumerate(sorted(groups.items(), key=lambda kv: kv[0][0] * kv[0][1])):
            snippets = REALISTIC_SNIPPETS[dataset] if args.realistic else args.snippets
            started = time.perf_counter()
            data = make_data(Path(tmp) / f"layout{g}", max(per_side(m, crops) for m in members), dim, crops, snippets)
            print(f"[{'/'.join(members)}] {len(data.video_files)} training videos of {crops} × {dim} features, "
                  f"mean {data.snippets:.0f} snippets, written and loaded in {time.perf_counter() - started:.0f} s",
                  flush=True)
            for m in members:
                r = bench(m, data, args)
                rows.append(r)
                save()
                print(f"  {m:<8} assembly {1e3 * r['assembly_ours_s']:8.1f} ms vs {1e3 * r['assembly_baseline_s']:8.1f} ms "
                      f"({r['assembly_ratio']:.1f}x) | step {r['step_ours_s']:8.2f} s vs {r['step_baseline_s']:8.2f} s "
                      f"({r['step_ratio']:.2f}x, {r['steps_measured']} pair(s)) | bound {r['ratio_bound']:.2f}x",
                      flush=True)
            del data
    order = {m: i for i, m in enumerate(list_methods())}
    text = markdown(sorted(earlier + rows, key=lambda r: order.get(r["method"], 99)), args)
    print("\n" + text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    save()


if __name__ == "__main__":
    main()
