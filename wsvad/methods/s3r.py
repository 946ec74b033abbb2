"""S3R: Self-Supervised Sparse Representation for video anomaly detection (Wu et al., ECCV 2022).

Official code: github.com/louisYen/S3R (MIT), commit 6835331:
anomaly/models/detectors/detector.py (`S3R`, `Aggregate`, `NonLocalBlock1D`),
anomaly/models/modules/memory_module.py (`enNormal`), residual_attention.py (`deNormal`,
`GlobalStatistics`), anomaly/engine/trainer.py (`RTFM_loss`, `MacroLoss`, `do_train`),
anomaly/losses/*, anomaly/engine/inference.py (the test path), anomaly/datasets/video_dataset.py
(32 snippets by `cv2.resize` INTER_LINEAR = our `linear_resize` pooling) and the
dictionary-learning scripts (components/task_dictionary.py).

    dictionary  M (S, D): the task-aware dictionary of the normal training videos (a buffer here)
    en-Normal   x̂ = softmax(W_q x · (W_k M)ᵀ) · W_v M          reconstruction of each snippet from M
    embeddings  v = Dropout(Aggregate_v(x)),  u = Dropout(Aggregate_u(x̂))   (RTFM's MTN, GroupNorm)
    de-Normal   g = σ(MLP(mean_t v − mean_t u));   v ← v ⊙ g,  u ← u ⊙ (1 − g)     (channel gate)
    scores      s = video_classifier(v) (D → D/4 → D/16 → 1, sigmoid)  mean over crops
    macro       q = σ(MLP(mean_t u))                                     mean over crops
    top-k       RTFM's: top-k snippets by ||v_t||₂ (crop mean) × Dropout(1)   (k = 3)
    loss        BCE(mean top-k score, y) + α·mean((|m − ||mean_k v_abn||| + ||mean_k v_nor||)²)
              + 8e-3·||s_abn||₂ + 8e-4·Σ (s_abn[t+1] − s_abn[t])² (flattened across videos)
              + BCE(q, 0)                                         (every video's macro target is 0)
    (α 1e-4, m 100; Adam 1e-3, wd 5e-3, 32 + 32 videos, 15k steps)

Module names follow detector.py except where a rename in `convert_official` keeps the code
small: `en_normal.en_normal_module.*` → `en_normal.*`, `de_normal.channel_attention.channel_gate.mlp.*`
→ `de_normal.mlp.*`, `macro_classifier.mlp.*` → `macro_classifier.*`. The official
`video_projection` / `macro_projection` are built but never used by `forward`: they are left out
(`official_ignored_keys`). Official checkpoints carry no dictionary (it is a separate `.npy`):
`load_official(state_dict, dictionary=...)` takes it.

The dictionary lives in the `dictionary` buffer, so it is saved in and restored from our
checkpoints (any S: loading resizes the buffer). To train from scratch the trainer calls
`prepare_training(bags)`, which learns it from the normal training bags as the official
dictionary-learning script does (components/task_dictionary.py); `set_dictionary(M)` sets one
directly (e.g. the released `ucf-crime_dictionaries.taskaware.omp.100iters.50pct.npy`). Until one is
set the buffer is empty (0, D) and en-Normal reconstructs every snippet as 0 (a warning says so).

Deliberate differences from the official code (numerically identical otherwise; see
tests/wsvad/methods/test_s3r_golden.py):
- the dictionary is one (S, D) buffer shared by the batch instead of a (B, S, D) input repeated
  per video by the loader; en-Normal attends per snippet (the same numbers as the official
  per-video `b (n t) c` product), and its shrinkage (`shrink_thres`, 0 in `enNormal`) is omitted;
- normal and abnormal counts come from the `Batch`, not the constructor's `batch_size`; crops
  follow the input; the per-crop top-k gather loops are one batched `gather`;
- any feature dimension D: the MTN's inner width is D // 4 and `conv_5` reads 4·(D // 4) channels
  (officially `dim`, the same when 4 | D), GroupNorm uses gcd(8, channels) groups (8 when
  divisible, as officially), and the classifier widths are max(1, D // 4), max(1, D // 16);
- the macro and top-k averages of `avg_pool1d` are `mean`s; no `.cuda()` calls; the test path skips
  the (unused) top-k selection, so videos with T < 3 score.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsvad.errors import CheckpointError
from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.components.rtfm_loss import rtfm_loss_terms
from wsvad.methods.components.task_dictionary import learn_task_dictionary
from wsvad.methods.registry import register


def xavier_init(module: nn.Module) -> None:
    """detector.py `weight_init`: Xavier-uniform weights and zero bias on every Conv and Linear."""
    name = module.__class__.__name__
    if "Conv" in name or "Linear" in name:
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            module.bias.data.fill_(0)


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=math.gcd(8, channels), num_channels=channels, eps=1e-05)


class NonLocalBlock1D(nn.Module):
    """Dot-product non-local block (/T), `sub_sample=False`, BN on the output conv (`alter`)."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.inter_channels = max(in_channels // 2, 1)
        self.value = nn.Conv1d(in_channels, self.inter_channels, kernel_size=1)
        self.alter = nn.Sequential(nn.Conv1d(self.inter_channels, in_channels, kernel_size=1),
                                   nn.BatchNorm1d(in_channels))
        nn.init.constant_(self.alter[1].weight, 0)  # the block starts as the identity
        nn.init.constant_(self.alter[1].bias, 0)
        self.query = nn.Conv1d(in_channels, self.inter_channels, kernel_size=1)
        self.key = nn.Conv1d(in_channels, self.inter_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, C, T)
        value = self.value(x).transpose(1, 2)          # (N, T, C')
        query = self.query(x).transpose(1, 2)          # (N, T, C')
        attn = (query @ self.key(x)) / x.shape[2]      # (N, T, T)
        out = (attn @ value).transpose(1, 2)           # (N, C', T)
        return self.alter(out.contiguous()) + x


class Aggregate(nn.Module):
    """RTFM's multi-scale temporal network with GroupNorm: dilated convs ∥ non-local, fused, residual."""

    def __init__(self, dim: int, reduction: int = 4):
        super().__init__()
        inner = max(dim // reduction, 1)

        def dilated(d: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv1d(dim, inner, kernel_size=3, stride=1, dilation=d, padding=d),
                                 group_norm(inner), nn.ReLU())

        self.conv_1, self.conv_2, self.conv_3 = dilated(1), dilated(2), dilated(4)
        self.conv_4 = nn.Sequential(nn.Conv1d(dim, inner, kernel_size=1, stride=1, padding=0, bias=False), nn.ReLU())
        self.conv_5 = nn.Sequential(nn.Conv1d(4 * inner, dim, kernel_size=3, stride=1, padding=1, bias=False),
                                    group_norm(dim), nn.ReLU())
        self.non_local = NonLocalBlock1D(inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, T, D)
        out = x.transpose(1, 2)                                                       # (N, D, T)
        out_d = torch.cat((self.conv_1(out), self.conv_2(out), self.conv_3(out)), dim=1)  # (N, 3·D/4, T)
        fused = self.conv_5(torch.cat((out_d, self.non_local(self.conv_4(out))), dim=1))  # (N, D, T)
        return (fused + out).transpose(1, 2)                                          # (N, T, D)


class EnNormal(nn.Module):
    """Reconstruct each snippet from the dictionary by attention (memory_module.py enNormalModule)."""

    def __init__(self, dim: int):
        super().__init__()
        self.query_embedding = nn.Linear(dim, max(dim // 4, 1))
        self.cache_embedding = nn.Linear(dim, max(dim // 4, 1))
        self.value_embedding = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, dictionary: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x (N, T, D), dictionary (S, D)
        affinity = (self.query_embedding(x) @ self.cache_embedding(dictionary).T).softmax(dim=-1)  # (N, T, S)
        return affinity @ self.value_embedding(dictionary), affinity                               # (N, T, D)


class DeNormal(nn.Module):
    """Channel gate from the difference of the time-averaged video and dictionary embeddings."""

    def __init__(self, dim: int, reduction: int = 16):
        super().__init__()
        hidden = max(dim // reduction, 1)
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))

    def forward(self, video: torch.Tensor, macro: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # video, macro (N, T, D)
        gate = torch.sigmoid(self.mlp(video.mean(1) - macro.mean(1)))[:, None, :]   # (N, 1, D)
        return video * gate, macro * (1.0 - gate)


def classifier(dim: int, dropout: float) -> list[nn.Module]:
    """D → D/4 → D/16 → 1 with ReLU and dropout (detector.py video_classifier / macro_mlp)."""
    h1, h2 = max(dim // 4, 1), max(dim // 16, 1)
    return [nn.Linear(dim, h1), nn.ReLU(), nn.Dropout(dropout), nn.Linear(h1, h2), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(h2, 1)]


@dataclass
class S3RConfig(MethodConfig):
    lr: float = 1e-3
    weight_decay: float = 0.005
    batch_size: int = 32
    segments: int = 32               # --quantize_size
    max_steps: int = 15000           # --max_epoch (one batch per "epoch")
    k: int = 3                       # quantize_size // 10
    dropout: float = 0.7
    margin: float = 100.0
    alpha: float = 1e-4              # weight of the feature-magnitude term
    sparsity: float = 8e-3
    smooth: float = 8e-4
    macro: float = 1.0               # weight of the macro BCE (target 0)
    # task-aware dictionary learning (data/<dataset>/*_dictionary_learning.py)
    dictionary_ratio: float = 50.0   # slots = round(#normal videos · ratio / 100): UCF-Crime 50, ShanghaiTech 90
    dictionary_iters: int = 100      # mini-batch steps (MiniBatchDictionaryLearning n_iter)
    dictionary_batch: int = 32
    dictionary_nonzero: int = 2      # OMP non-zero coefficients per channel
    dictionary_seed: int = 42


@register
class S3R(Method):
    name = "s3r"
    paper = ("Wu, Hsieh, Chen, Fuh, Liu, Self-Supervised Sparse Representation for Video Anomaly Detection, "
             "ECCV 2022")
    official_code = "https://github.com/louisYen/S3R"
    Config = S3RConfig
    inputs = InputSpec(pooling="linear_resize", train_crops="all", test_crops="forward", official_dim=2048)
    search_space = {
        "lr": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
        "weight_decay": {"type": "loguniform", "low": 1e-4, "high": 5e-2},
        "dropout": {"type": "uniform", "low": 0.3, "high": 0.8},
        "k": {"type": "int", "low": 1, "high": 8},
        "alpha": {"type": "loguniform", "low": 1e-5, "high": 1e-3},
        "margin": {"type": "choice", "values": [10.0, 50.0, 100.0, 200.0]},
        "sparsity": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
        "smooth": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
        "macro": {"type": "loguniform", "low": 0.1, "high": 10.0},
        "dictionary_ratio": {"type": "choice", "values": [25.0, 50.0, 90.0]},
    }
    official_ignored_keys = ("video_projection", "macro_projection")

    def __init__(self, config: S3RConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        d = feature_dim
        self.register_buffer("dictionary", torch.zeros(0, d))   # (S, D), set by prepare_training / set_dictionary
        self.en_normal = EnNormal(d)
        self.video_embedding = nn.Sequential(Aggregate(d), nn.Dropout(config.dropout))
        self.macro_embedding = nn.Sequential(Aggregate(d), nn.Dropout(config.dropout))
        self.de_normal = DeNormal(d)
        self.video_classifier = nn.Sequential(*classifier(d, config.dropout), nn.Sigmoid())
        self.macro_classifier = nn.Sequential(*classifier(d, config.dropout))
        self.drop_out = nn.Dropout(config.dropout)
        self.apply(xavier_init)
        self._warned_empty = False

    # --- the task-aware dictionary --------------------------------------------------------
    def set_dictionary(self, dictionary) -> None:
        """Use `dictionary` (S, D) — a tensor or array, e.g. the official .npy — from now on."""
        m = torch.as_tensor(np.asarray(dictionary) if not isinstance(dictionary, torch.Tensor) else dictionary)
        if m.ndim != 2 or m.shape[1] != self.feature_dim:
            raise ValueError(f"s3r: the dictionary must be (S, {self.feature_dim}), got {tuple(m.shape)}")
        self.dictionary = m.detach().to(device=self.dictionary.device, dtype=torch.float32).contiguous()

    def prepare_training(self, bags) -> None:
        """Trainer hook before the first step: learn the dictionary from the normal training bags
        (`bags.pooled` (N, C, S, D), `bags.labels` (N,)) unless one is set already."""
        if self.dictionary.shape[0] > 0:
            return
        normal = np.asarray(bags.pooled)[np.asarray(bags.labels) == 0]
        cfg = self.config
        self.set_dictionary(learn_task_dictionary(
            normal, ratio=cfg.dictionary_ratio, n_iter=cfg.dictionary_iters, batch_size=cfg.dictionary_batch,
            n_nonzero_coefs=cfg.dictionary_nonzero, seed=cfg.dictionary_seed))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Our checkpoints carry dictionaries of any size S: resize the buffer before loading.
        key = prefix + "dictionary"
        if key in state_dict and tuple(state_dict[key].shape) != tuple(self.dictionary.shape):
            self.dictionary = torch.zeros_like(state_dict[key], device=self.dictionary.device, dtype=torch.float32)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # --- model ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> Output:
        b, c, t, d = x.shape
        video = x.reshape(b * c, t, d)                                            # (B·C, T, D)
        if self.dictionary.shape[0] == 0 and self.training and not self._warned_empty:
            warnings.warn("s3r: training without a task-aware dictionary (en-Normal reconstructs 0); "
                          "call prepare_training(bags) or set_dictionary(M) first")
            self._warned_empty = True
        macro, memory_attn = self.en_normal(video, self.dictionary)              # (B·C, T, D), (B·C, T, S)
        # Official order of the dropout draws: video, macro embeddings, video then macro classifier.
        x_video = self.video_embedding(video)                                     # (B·C, T, D)
        x_macro = self.macro_embedding(macro)
        x_video, x_macro = self.de_normal(x_video, x_macro)
        scores = self.video_classifier(x_video).view(b, c, t).mean(1)            # (B, T)
        macro_scores = torch.sigmoid(self.macro_classifier(x_macro.mean(1))).view(b, c).mean(1)  # (B,)
        magnitudes = x_video.norm(p=2, dim=2).view(b, c, t).mean(1)              # (B, T)
        return Output(scores, {"features": x_video.view(b, c, t, d), "magnitudes": magnitudes,
                               "macro_scores": macro_scores, "memory_attn": memory_attn})

    def loss(self, output: Output, batch: Batch):
        """RTFM's loss plus the macro BCE whose target is always 0 (normal)."""
        parts = rtfm_loss_terms(output, batch, self.config, self.drop_out, "S3R")
        macro_scores = output.extras["macro_scores"]
        parts["macro"] = self.config.macro * F.binary_cross_entropy(macro_scores, torch.zeros_like(macro_scores))
        return sum(parts.values()), parts

    # --- official checkpoints -------------------------------------------------------------
    @classmethod
    def convert_official(cls, state_dict: dict) -> dict:
        renames = (("en_normal.en_normal_module.", "en_normal."),
                   ("de_normal.channel_attention.channel_gate.mlp.", "de_normal.mlp."),
                   ("macro_classifier.mlp.", "macro_classifier."))
        out = {}
        for key, value in super().convert_official(state_dict).items():
            for old, new in renames:
                if key.startswith(old):
                    key = new + key[len(old):]
                    break
            out[key] = value
        return out

    def load_official(self, state_dict: dict, dictionary=None) -> None:
        """Load an official checkpoint; its dictionary (S, D) (a separate .npy officially) is required
        unless `state_dict` carries one or one is set already."""
        if dictionary is not None:
            self.set_dictionary(dictionary)
        state = self.convert_official(state_dict)
        if "dictionary" not in state:
            if self.dictionary.shape[0] == 0:
                raise CheckpointError("s3r: official checkpoint does not match: missing keys ['dictionary'] "
                                      "(official checkpoints carry no task-aware dictionary: pass dictionary=<the "
                                      "(S, D) .npy, e.g. ucf-crime_dictionaries.taskaware.omp.100iters.50pct.npy>)")
            state["dictionary"] = self.dictionary
        else:
            self.set_dictionary(state["dictionary"])
        super().load_official(state)
