"""The trainer: explicit normal/abnormal bags, periodic evaluation, honest model selection.

Pure torch (no Ray, no MLflow). Sweeps and retraining drive it through `callback`, which is
called at every evaluation with the step, the metrics so far and the trainer itself (to save a
checkpoint); returning True stops training early (an ASHA decision, for instance).

Model selection (`select_on`):
- "val" (default): the best evaluation on a validation split carved from the training videos
  (see splits.py); its test metrics are what `fit` returns. Honest: the test set never chooses.
- "test": the best evaluation on the test set itself — what the official repos do; recorded as
  `selected_on: test` so a table can mark it.
- "last": the final step.

One-class methods (`Method.one_class`, e.g. temporal_mae) train on the normal training videos
only, as windows of `segments` snippets (bags.WindowSampler), and need no anomalous training
video. Their validation split is carved from the normal training videos (the same normal videos
the weakly-supervised carve picks for that split seed), so it holds no anomaly label: the model is
selected on the validation loss (`neg_loss` = −mean loss on fixed windows tiling the validation
videos, with fixed masks and noise; higher is better). A feature set whose own `val` split has
anomalous videos with frame ground truth selects on frame `auc` instead (`video_auc` without it).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from wsvad.errors import ConfigError, WsvadError
from wsvad.features import FeatureSet
from wsvad.methods import get_method, make_config
from wsvad.protocol import Evaluation, Protocol, check_select_metric
from wsvad.train.amp import autocast, check_amp, grad_scaler, to_fp32
from wsvad.train.bags import (
    BagSampler,
    WindowSampler,
    build_bags,
    build_windows,
    gather_windows,
    one_class_batch,
    tile_windows,
)
from wsvad.train.scoring import evaluate_videos, has_frame_truth
from wsvad.train.seeding import seed_everything
from wsvad.train.splits import carve_validation
from wsvad.train.synthetic import SyntheticLossScaling

SELECT_ON = ("val", "test", "last")


class DivergedError(WsvadError):
    """The loss became NaN or Inf: the trial has failed (retrying from a checkpoint would only repeat it)."""


@dataclass
class TrainOptions:
    seed: int = 0
    max_steps: int | None = None     # overrides the method's official schedule (quick runs, sweeps)
    max_epochs: int | None = None
    eval_every: int | None = None    # steps between evaluations (default: 10 per run)
    select_on: str = "val"
    select_metric: str | None = None  # default: auc on frame truth, video_auc on a carved split
    val_fraction: float = 0.1
    split_seed: int = 0
    protocol: Protocol = field(default_factory=Protocol)
    device: str = "cpu"
    vlr: float | None = None         # GV-VAD synthetic-sample loss scaling (None: off)
    learnable_vlr: bool = False
    amp: str = "off"                 # mixed-precision forward: off | bf16 | fp16 (wsvad/train/amp.py)

    def __post_init__(self):
        check_amp(self.amp)
        if self.select_on not in SELECT_ON:
            raise ConfigError(f"--select-on must be one of {', '.join(SELECT_ON)}, got {self.select_on!r}")
        if self.max_steps is not None and self.max_epochs is not None:
            raise ConfigError("give --max-steps or --max-epochs, not both")
        for name in ("max_steps", "max_epochs", "eval_every"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {v}")


@dataclass
class TrainResult:
    metrics: dict                  # test metrics of the selected model + selection facts
    evaluation: Evaluation | None  # frame scores of the selected model on the test split
    model: torch.nn.Module         # with the selected weights, in eval mode
    history: list[dict]


class Trainer:
    def __init__(self, fs: FeatureSet, method: str, overrides: dict | None = None,
                 options: TrainOptions | None = None):
        self.fs = fs
        self.options = options or TrainOptions()
        opts = self.options
        self.method_cls = get_method(method)
        self.config = make_config(self.method_cls, overrides)
        self.generator = seed_everything(opts.seed)

        self.one_class = bool(self.method_cls.one_class)
        carve = carve_one_class_validation if self.one_class else carve_validation
        self.train_idx, self.val_idx = carve(fs, opts.val_fraction if opts.select_on == "val" else 0.0, opts.split_seed)
        self.test_idx = fs.select("test")
        if opts.select_on == "val" and self.val_idx.size == 0:
            raise ConfigError("--select-on val needs validation videos: set --val-fraction > 0 or add a val split")
        if self.test_idx.size == 0:
            raise ConfigError(f"the feature set has no test videos to evaluate on")
        if self.one_class:
            if self.train_idx.size == 0:
                raise ConfigError(f"the feature set has no normal training videos (one-class {method} learns from them)")
        else:
            for label, what in ((0, "normal"), (1, "anomalous")):
                if not (fs.labels[self.train_idx] == label).any():
                    raise ConfigError(f"the feature set has no {what} training videos (weak supervision needs both)")

        anomaly_classes = sorted({str(c) for c in fs.class_names[fs.labels == 1]} - {"Normal"})
        self.class_names = ["Normal", *anomaly_classes]
        spec = self.method_cls.inputs
        if self.one_class:
            # `bags` are then the stride-1 windows of the normal training videos (what prepare_training gets)
            self.bags = build_windows(fs, self.train_idx, self.config.segments, same_crops=spec.train_crops == "all")
            self.batch_size = self.config.batch_size
            self.sampler = WindowSampler(self.bags, self.batch_size, spec.train_crops, self.generator,
                                         shuffle=spec.shuffle)
            normal_val = self.val_idx[fs.labels[self.val_idx] == 0]
            self.val_windows = build_windows(fs, normal_val, self.config.segments, same_crops=spec.train_crops == "all")
        else:
            self.bags = build_bags(fs, self.train_idx, self.config.segments, spec,
                                   {c: i for i, c in enumerate(self.class_names)})

            per_side = min(int((self.bags.labels == 0).sum()), int((self.bags.labels == 1).sum()))
            self.batch_size = min(self.config.batch_size, per_side)
            self.sampler = BagSampler(self.bags, self.batch_size, spec.train_crops, self.generator, shuffle=spec.shuffle)

        self.model = self.method_cls(self.config, fs.dim, class_names=self.class_names).to(opts.device)
        self.model.prepare_training(self.bags)
        self.optimizer, self.scheduler = self.model.configure_optimizer()
        self.scaler = grad_scaler(opts.amp, opts.device)  # fp16 only
        # GV-VAD: scale each batch's loss by frac_real + frac_synthetic · VLR (wsvad/train/synthetic.py).
        self.loss_scaling = None
        if opts.vlr is not None:
            self.loss_scaling = SyntheticLossScaling(opts.vlr, learnable=opts.learnable_vlr).to(opts.device)
            if self.loss_scaling.learnable:  # no weight decay: decay on log-VLR would pull VLR towards 1
                self.optimizer.add_param_group({"params": list(self.loss_scaling.parameters()), "weight_decay": 0.0})
        self.total_steps = self._total_steps()
        self.eval_every = opts.eval_every or max(1, self.total_steps // 10)
        if opts.select_metric:
            check_select_metric(opts.select_metric)
        self.select_metric = opts.select_metric or self._default_select_metric()

        self.step = 0
        self.history: list[dict] = []
        self.best_value = -math.inf
        self.best_step = 0
        self.best_state: dict | None = None
        self.best_metrics: dict = {}
        self.best_evaluation: Evaluation | None = None
        self.train_seconds = 0.0

    # --- schedule -----------------------------------------------------------------------
    def _total_steps(self) -> int:
        opts, cfg = self.options, self.config
        if opts.max_steps is not None:
            return opts.max_steps
        if opts.max_epochs is not None:
            return opts.max_epochs * self.sampler.steps_per_epoch
        if cfg.max_epochs:
            return cfg.max_epochs * self.sampler.steps_per_epoch
        return cfg.max_steps

    def _default_select_metric(self) -> str:
        if self.one_class and self.options.select_on == "val" and not (self.fs.labels[self.val_idx] == 1).any():
            return "neg_loss"  # normal videos only: no AUC is defined, the loss is
        if self.options.select_on == "val" and not has_frame_truth(self.fs, self.val_idx):
            return "video_auc"
        return "auc"

    # --- training -----------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        self.model.train()
        batch = self.sampler.next_batch()
        batch.features = batch.features.to(self.options.device)
        batch.labels = batch.labels.to(self.options.device)
        with autocast(self.options.amp, self.options.device):
            output = self.model(batch.features)
        # The loss in fp32 whatever the forward ran in (a no-op without AMP): see wsvad/train/amp.py.
        total, parts = self.model.loss(to_fp32(output) if self.options.amp != "off" else output, batch)
        objective = total
        if self.loss_scaling is not None:
            objective = total * self.loss_scaling(batch.synthetic.to(self.options.device))
        if not torch.isfinite(objective):
            bad = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in parts.items())
            raise DivergedError(f"{self.method_cls.name}: loss is {float(total.detach())} at step {self.step + 1} ({bad})")
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            objective.backward()
            if self.config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.optimizer.step()
        else:  # fp16: scaled backward; a step whose gradients overflowed is skipped and the scale lowered
            self.scaler.scale(objective).backward()
            if self.config.grad_clip > 0:
                self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.step += 1
        if self.scheduler is not None and self.step % self.sampler.steps_per_epoch == 0:
            self.scheduler.step()  # official schedulers step once per epoch
        out = {f"loss/{k}": float(v.detach()) for k, v in parts.items()}
        out["loss/total"] = float(total.detach())  # unscaled: the logged parts add up to it
        if self.loss_scaling is not None:
            out["train/objective"] = float(objective.detach())
            out["train/vlr"] = float(self.loss_scaling.vlr.detach())
        return out

    def evaluate(self) -> tuple[dict, Evaluation | None]:
        """Metrics of the current model: `test/...` always, `val/...` when selecting on val."""
        metrics = {}
        test, test_eval = evaluate_videos(self.model, self.fs, self.test_idx, self.options.protocol, self.options.device)
        metrics.update({f"test/{k}": v for k, v in test.items()})
        if self.options.select_on == "val":
            val, _ = evaluate_videos(self.model, self.fs, self.val_idx, self.options.protocol, self.options.device)
            metrics.update({f"val/{k}": v for k, v in val.items()})
            if self.one_class and self.val_windows.total:
                metrics.update({f"val/{k}": v for k, v in self.validation_loss().items()})
        return metrics, test_eval

    @torch.no_grad()
    def validation_loss(self) -> dict[str, float]:
        """One-class: the method's loss (and its parts) on the normal validation videos, as windows
        that tile each video once, under fixed randomness (the same masks at every evaluation),
        averaged over windows; `neg_loss` is its negative (selection maximises)."""
        w, spec = self.val_windows, self.method_cls.inputs
        pos, starts = tile_windows(w)
        crops = None
        if spec.train_crops != "all":  # every crop of every tile is its own window
            n_crops = self.fs.num_crops[w.videos[pos]]
            crops = np.concatenate([np.arange(c) for c in n_crops]).astype(np.int64)
            pos, starts = np.repeat(pos, n_crops), np.repeat(starts, n_crops)
        was_training = self.model.training
        self.model.eval()
        device = torch.device(self.options.device)
        sums: dict[str, float] = {}
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(self.options.split_seed)
            for i in range(0, pos.size, self.batch_size):
                part = slice(i, i + self.batch_size)
                feats, lengths = gather_windows(w, pos[part], starts[part], None if crops is None else crops[part])
                batch = one_class_batch(w, feats, lengths, pos[part])
                batch.features, batch.labels = batch.features.to(device), batch.labels.to(device)
                total, parts = self.model.loss(self.model(batch.features), batch)
                n = feats.shape[0]
                for k, v in {"loss": total, **{f"loss/{k}": v for k, v in parts.items()}}.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * n
        self.model.train(was_training)
        out = {k: v / pos.size for k, v in sums.items()}
        out.update({f"neg_{k}": -v for k, v in list(out.items())})  # neg_loss, neg_loss/<part>
        return out

    def _select(self, metrics: dict, evaluation: Evaluation | None) -> None:
        on = self.options.select_on
        key = f"{'test' if on == 'last' else on}/{self.select_metric}"
        if key not in metrics:
            raise ConfigError(f"--select-metric {self.select_metric!r} is not computed here; "
                              f"available: {', '.join(sorted(k.split('/', 1)[1] for k in metrics if k.startswith(on)))}")
        value = metrics[key]
        value = -math.inf if value != value else value  # NaN never wins
        # Ties go to the later step: a saturated weak validation metric should not freeze an early model.
        if on == "last" or value >= self.best_value or self.best_state is None:
            self.best_value, self.best_step = value, self.step
            self.best_state = copy.deepcopy(self.model.state_dict())
            self.best_metrics, self.best_evaluation = dict(metrics), evaluation

    def fit(self, callback: Callable[[int, dict, "Trainer"], bool | None] | None = None) -> TrainResult:
        started = time.perf_counter()
        last_losses: dict = {}
        while self.step < self.total_steps:
            last_losses = self.train_step()
            if self.step % self.eval_every == 0 or self.step == self.total_steps:
                metrics, evaluation = self.evaluate()
                self._select(metrics, evaluation)
                record = {"step": self.step, **last_losses, **metrics}
                self.history.append(record)
                self.train_seconds += time.perf_counter() - started
                started = time.perf_counter()
                if callback is not None and callback(self.step, record, self):
                    break
        self.train_seconds += time.perf_counter() - started
        return self.result(last_losses)

    def result(self, last_losses: dict | None = None) -> TrainResult:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self.model.eval()
        metrics = {k.split("/", 1)[1]: v for k, v in self.best_metrics.items() if k.startswith("test/")}
        metrics.update({k: v for k, v in self.best_metrics.items() if k.startswith("val/")})
        metrics.update({
            "selected_on": self.options.select_on,
            "select_metric": self.select_metric,
            "selected_step": self.best_step,
            "steps": self.step,
            "batch_size": self.batch_size,
            "seed": self.options.seed,
            "train_seconds": round(self.train_seconds, 3),
            "feature_set_hash": self.fs.hash,
        })
        metrics.update(last_losses or {})
        return TrainResult(metrics, self.best_evaluation, self.model, self.history)

    # --- resuming ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue this run exactly where it stopped (weights_only-loadable)."""
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "loss_scaling": self.loss_scaling.state_dict() if self.loss_scaling is not None else None,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "grad_scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "sampler": self.sampler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "best_value": float(self.best_value),
            "best_step": self.best_step,
            "best_state": self.best_state,
            "best_metrics": {k: float(v) for k, v in self.best_metrics.items()},
            "history": [{k: float(v) for k, v in h.items()} for h in self.history],
            "train_seconds": self.train_seconds,
        }

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
        self.model.load_state_dict(state["model"])
        if self.loss_scaling is not None and state.get("loss_scaling") is not None:
            self.loss_scaling.load_state_dict(state["loss_scaling"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("grad_scaler") is not None:
            self.scaler.load_state_dict(state["grad_scaler"])
        self.sampler.load_state_dict(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        self.best_value, self.best_step = float(state["best_value"]), int(state["best_step"])
        self.best_state = state["best_state"]
        self.best_metrics = dict(state["best_metrics"])
        self.history = [dict(h) for h in state["history"]]
        self.train_seconds = float(state["train_seconds"])
        # The selected model's frame scores are recomputed on demand (`evaluate_selected`).
        self.best_evaluation = None

    def evaluate_selected(self):
        """Re-score the test split with the selected weights (after a resume dropped the cache)."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        _, self.best_evaluation = evaluate_videos(self.model, self.fs, self.test_idx, self.options.protocol,
                                                  self.options.device)
        return self.best_evaluation

    def config_dict(self) -> dict:
        return dataclasses.asdict(self.config)


def carve_one_class_validation(fs: FeatureSet, fraction: float, split_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(normal training indices, validation indices) for a one-class method.

    The set's own `val` split is used as-is. Otherwise `fraction` of the *normal* training videos
    is held out, drawn exactly as splits.carve_validation draws its normal share for the same split
    seed, so one-class and weakly-supervised runs on one set hold out the same normal videos.
    Object-level sets (one video per track) hold out whole source videos, as carve_validation does.
    Anomalous training videos are never used.
    """
    train = fs.select("train")
    normal = train[fs.labels[train] == 0]
    own_val = fs.select("val")
    if own_val.size:
        return normal, own_val
    if fraction <= 0:
        return normal, np.zeros(0, np.int64)
    if not 0 < fraction < 1:
        raise ConfigError(f"--val-fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(split_seed)
    tracks = getattr(fs, "tracks", None)
    # the units that go to one side whole: videos, or the source videos of tracks
    units = tracks.source_video_ids[normal] if tracks is not None else normal
    members = np.unique(units)
    if members.size < 2:
        what = "source videos with normal tracks" if tracks is not None else "normal training video(s)"
        raise ConfigError(f"cannot carve a validation split: only {members.size} {what}; "
                          "use --select-on test or last, or --val-fraction 0")
    n = min(max(1, int(round(fraction * members.size))), members.size - 1)
    in_val = np.isin(units, rng.choice(members, size=n, replace=False))
    return normal[~in_val], normal[in_val]


def train(fs: FeatureSet, method: str, overrides: dict | None = None, options: TrainOptions | None = None,
          callback=None) -> TrainResult:
    return Trainer(fs, method, overrides, options).fit(callback)
