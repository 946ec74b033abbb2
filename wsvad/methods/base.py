"""The method contract every WSVAD method follows (DESIGN.md "Method contract").

A method is a `torch.nn.Module` subclass that declares, as class attributes:
- `name`, `paper`, `official_code`: what it is and where its reference lives;
- `Config`: a dataclass whose defaults ARE the official hyperparameters (lr, batch sizes,
  schedule, loss weights, ...), type-checked when overridden (`--set key=value`);
- `inputs`: an `InputSpec` — how training bags are pooled to `segments`, how crops are fed at
  train and test time, the official feature dimension;
- `search_space`: the ranges a researcher would sweep (sweeps/spaces/<name>.yaml starts from it).

and implements:
- `forward(x (B, C, T, D)) -> Output` with per-snippet `scores` (B, T) in the train layout;
- `loss(output, batch) -> (total, parts)` where `parts` names every loss term (logged);
- `score(video (C, T, D)) -> (T,)` the official test-time path for one whole video;
- `convert_official(state_dict)` mapping an official checkpoint's keys onto ours.

Normal and abnormal samples are explicit in `Batch` (normal first, counts given), never
inferred from `B // 2`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from wsvad.errors import CheckpointError

POOLINGS = ("linspace_mean", "linear_resize", "pad_sample")
TRAIN_CROPS = ("all", "random", "each")  # each: every crop becomes its own sample
TEST_CROPS = ("forward", "per_crop", "first")


@dataclass(frozen=True)
class InputSpec:
    pooling: str = "linspace_mean"   # how a training video's T snippets become `segments`
    train_crops: str = "all"         # all crops in one forward / one random crop / each crop a sample
    test_crops: str = "forward"      # crops inside one forward / one forward per crop, mean / crop 0
    official_dim: int | None = None  # the feature dimension of the official features (informational)
    shuffle: bool = True             # official loaders shuffle bags each epoch (MGFN's do not)

    def __post_init__(self):
        assert self.pooling in POOLINGS, self.pooling
        assert self.train_crops in TRAIN_CROPS, self.train_crops
        assert self.test_crops in TEST_CROPS, self.test_crops


@dataclass
class MethodConfig:
    """Fields every method's Config has; subclasses change the defaults to the official ones."""

    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 32       # per side: `batch_size` normal + `batch_size` abnormal videos per step
    segments: int = 32         # T of a training bag after pooling
    max_steps: int = 1000      # optimisation steps (0: use max_epochs)
    max_epochs: int = 0        # epochs of min(#normal, #abnormal) // batch_size steps (0: use max_steps)
    grad_clip: float = 0.0     # max global grad norm, 0 = off


@dataclass
class Batch:
    features: torch.Tensor      # (B, C, T, D): n_normal normal videos, then n_abnormal anomalous
    labels: torch.Tensor        # (B,) float 0/1
    n_normal: int
    n_abnormal: int
    class_ids: torch.Tensor     # (B,) long, 0 = Normal, 1.. = anomaly classes (sorted names)
    synthetic: torch.Tensor     # (B,) bool: generated videos (GV-VAD)
    lengths: torch.Tensor       # (B,) long: valid snippets before padding (== T unless padded)


@dataclass
class Output:
    scores: torch.Tensor                         # (B, T) snippet anomaly scores, crops averaged
    extras: dict = field(default_factory=dict)   # method-specific tensors its loss needs


class Method(nn.Module):
    name: ClassVar[str]
    paper: ClassVar[str] = ""
    official_code: ClassVar[str] = ""
    Config: ClassVar[type] = MethodConfig
    inputs: ClassVar[InputSpec] = InputSpec()
    search_space: ClassVar[dict] = {}
    # Official checkpoint keys this method's test path does not use (ignored by the converter).
    official_ignored_keys: ClassVar[tuple[str, ...]] = ()
    # One-class methods learn from normal training videos only (windows of `segments` snippets,
    # wsvad.train.bags.WindowSampler; batches with n_abnormal = 0) and select the model without
    # anomaly labels (wsvad/train/trainer.py). False: weak supervision, normal + abnormal bags.
    one_class: ClassVar[bool] = False

    def __init__(self, config, feature_dim: int, class_names: list[str] | None = None):
        super().__init__()
        self.config = config
        self.feature_dim = int(feature_dim)
        # "Normal" first, then the anomaly classes (sorted): index = Batch.class_ids.
        # Methods with class prompts or class experts (VadCLIP, TPWNG, GS-MoE) read it.
        self.class_names = list(class_names) if class_names else ["Normal", "Anomaly"]

    def forward(self, x: torch.Tensor) -> Output:  # pragma: no cover - abstract
        raise NotImplementedError

    def loss(self, output: Output, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError  # pragma: no cover - abstract

    @torch.no_grad()
    def score(self, video: torch.Tensor) -> torch.Tensor:
        """Snippet scores (T,) of one whole video (C, T, D) by the method's official test path."""
        mode = self.inputs.test_crops
        if mode == "first":
            return self(video[:1][None]).scores[0]
        if mode == "per_crop":
            return torch.stack([self(video[c: c + 1][None]).scores[0] for c in range(video.shape[0])]).mean(0)
        return self(video[None]).scores[0]

    def prepare_training(self, bags) -> None:
        """Called once by the trainer before the first step with the pooled training bags
        (wsvad.train.bags.Bags: .pooled (N, C, S, D), .labels (N,)); e.g. S3R learns its
        dictionary here. Default: nothing."""

    def configure_optimizer(self):
        """The official optimiser (Adam by default); returns (optimizer, lr_scheduler or None)."""
        opt = torch.optim.Adam(self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        return opt, None

    @classmethod
    def convert_official(cls, state_dict: dict) -> dict:
        """Official state_dict → ours. Default: same names, `module.` prefix (DataParallel) stripped."""
        return {k.removeprefix("module."): v for k, v in state_dict.items()}

    def load_official(self, state_dict: dict) -> None:
        """Load an official checkpoint, naming missing or unexpected keys in one line."""
        converted = self.convert_official(state_dict)
        converted = {k: v for k, v in converted.items()
                     if not any(k == p or k.startswith(p + ".") for p in self.official_ignored_keys)}
        ours = self.state_dict()
        missing = sorted(set(ours) - set(converted))
        unexpected = sorted(set(converted) - set(ours))
        if missing or unexpected:
            raise CheckpointError(
                f"{self.name}: official checkpoint does not match: missing keys {missing[:8]}"
                f"{'...' if len(missing) > 8 else ''}, unexpected keys {unexpected[:8]}{'...' if len(unexpected) > 8 else ''}"
            )
        shapes = [k for k in ours if tuple(ours[k].shape) != tuple(converted[k].shape)]
        if shapes:
            k = shapes[0]
            raise CheckpointError(
                f"{self.name}: official checkpoint key {k!r} has shape {tuple(converted[k].shape)}, "
                f"expected {tuple(ours[k].shape)} (feature dimension or config differs?)"
            )
        self.load_state_dict(converted)


def config_fields(config_cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(config_cls)}
