"""Sultani MIL: Real-world Anomaly Detection in Surveillance Videos (Sultani et al., CVPR 2018).

Official code: github.com/WaqasSultani/AnomalyDetectionCVPR2018 (Keras 1.1 / Theano; it no
longer runs, so tests check our loss against the formulas below on hand-made inputs).

    network  4096 → 512 (ReLU) → 32 (linear, as TrainingAnomalyDetector_public.py) → 1 (sigmoid),
             dropout 0.6 after the first two layers, Glorot-normal init, L2 1e-3 on every kernel
    ranking  mean over normal bags n of Σ_abnormal a  max(0, 1 − max_t s_a(t) + max_t s_n(t))
             (custom_objective: the hinge is summed over abnormal bags for each normal bag,
             then averaged over normal bags)
    + 8e-5 · Σ_abnormal Σ_t s_a(t)                         (sparsity)
    + 8e-5 · Σ_abnormal Σ_t (s_a(t+1) − s_a(t))²           (temporal smoothness)
    + 1e-3 · Σ_layers ||W||²                               (Keras W_regularizer=l2(0.001))
    optimiser Adagrad(lr 0.01, eps 1e-8), 30 + 30 bags of 32 segments, 20k iterations.
    Test: the video's snippets are pooled into the same 32 segments and each segment's score is
    copied to its snippets (and so to its frames).

Options beyond the paper (off by default): the TimeSformer-MIL loss mix of
../shared/seeds/timesformer-mil.txt — ranking on the mean of the top-k scores with a margin,
plus a focal loss on the top-k video score, plus temporal smoothness (`loss="timesformer_mil"`),
and scoring snippets directly (`test_pooling="snippets"`).

Deliberate differences: the feature dimension follows the feature set (C3D 4096 officially); the
L2 kernel penalty is part of `loss` (named `l2`) rather than Keras regularisers, with the same value;
normal/abnormal halves come from the Batch, not from the label-sum trick of custom_objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.registry import register
from wsvad.segments import linspace_bounds


@dataclass
class MILConfig(MethodConfig):
    lr: float = 0.01
    weight_decay: float = 0.0
    batch_size: int = 30
    segments: int = 32
    max_steps: int = 20000
    dropout: float = 0.6
    l2: float = 1e-3
    sparsity: float = 8e-5
    smooth: float = 8e-5
    loss: Literal["sultani", "timesformer_mil"] = "sultani"
    top_k: int = 3               # timesformer_mil: video score = mean of the top-k snippet scores
    margin: float = 1.0          # timesformer_mil ranking margin
    focal_weight: float = 1.0
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    test_pooling: Literal["segments", "snippets"] = "segments"


def focal_loss(p: torch.Tensor, target: torch.Tensor, gamma: float, alpha: float) -> torch.Tensor:
    """Binary focal loss (Lin et al. 2017) on probabilities: −α_t (1 − p_t)^γ log p_t, mean."""
    p = p.clamp(1e-7, 1 - 1e-7)
    p_t = torch.where(target > 0.5, p, 1 - p)
    alpha_t = torch.where(target > 0.5, torch.full_like(p, alpha), torch.full_like(p, 1 - alpha))
    return (-alpha_t * (1 - p_t) ** gamma * p_t.log()).mean()


@register
class SultaniMIL(Method):
    name = "mil"
    paper = "Sultani, Chen, Shah, Real-world Anomaly Detection in Surveillance Videos, CVPR 2018"
    official_code = "https://github.com/WaqasSultani/AnomalyDetectionCVPR2018"
    Config = MILConfig
    inputs = InputSpec(pooling="linspace_mean", train_crops="random", test_crops="first", official_dim=4096)
    search_space = {
        "lr": {"type": "loguniform", "low": 1e-3, "high": 1e-1},
        "dropout": {"type": "uniform", "low": 0.2, "high": 0.8},
        "l2": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
        "sparsity": {"type": "loguniform", "low": 1e-6, "high": 1e-3},
        "smooth": {"type": "loguniform", "low": 1e-6, "high": 1e-3},
        "segments": {"type": "choice", "values": [32, 64]},
    }

    def __init__(self, config: MILConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        self.fc1 = nn.Linear(feature_dim, 512)
        self.fc2 = nn.Linear(512, 32)
        self.fc3 = nn.Linear(32, 1)
        self.dropout = nn.Dropout(config.dropout)
        for fc in (self.fc1, self.fc2, self.fc3):  # Keras 'glorot_normal', zero bias
            nn.init.xavier_normal_(fc.weight)
            nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> Output:
        b, c, t, d = x.shape
        h = self.dropout(F.relu(self.fc1(x)))
        h = self.dropout(self.fc2(h))                      # linear, as the official Keras model
        scores = torch.sigmoid(self.fc3(h)).squeeze(-1)    # (B, C, T)
        return Output(scores.mean(1))

    def loss(self, output: Output, batch: Batch):
        cfg, n = self.config, batch.n_normal
        s_nor, s_abn = output.scores[:n], output.scores[n:]          # (n, T), (a, T)
        smooth = cfg.smooth * ((s_abn[:, 1:] - s_abn[:, :-1]) ** 2).sum()
        l2 = cfg.l2 * sum((fc.weight ** 2).sum() for fc in (self.fc1, self.fc2, self.fc3))
        if cfg.loss == "sultani":
            hinge = F.relu(1 - s_abn.max(1).values[None, :] + s_nor.max(1).values[:, None])   # (n, a)
            ranking = hinge.sum(1).mean()
            sparsity = cfg.sparsity * s_abn.sum()
            parts = {"ranking": ranking, "sparsity": sparsity, "smooth": smooth, "l2": l2}
        else:
            k = min(cfg.top_k, output.scores.shape[1])
            video = output.scores.topk(k, dim=1).values.mean(1)       # (B,)
            ranking = F.relu(cfg.margin - (video[n:][None, :] - video[:n][:, None])).mean()
            focal = cfg.focal_weight * focal_loss(video, batch.labels, cfg.focal_gamma, cfg.focal_alpha)
            parts = {"ranking": ranking, "focal": focal, "smooth": smooth, "l2": l2}
        return sum(parts.values()), parts

    @torch.no_grad()
    def score(self, video: torch.Tensor) -> torch.Tensor:
        if self.config.test_pooling == "snippets":
            return super().score(video)
        # Pool the whole video into the training segments, score them, copy back to snippets.
        t = video.shape[1]
        segments = self.config.segments
        bounds = linspace_bounds(t, segments)                        # (S+1,)
        starts, ends = bounds[:-1], bounds[1:]
        x = video[:1]                                               # (1, T, D): test uses one crop
        csum = torch.cat((torch.zeros_like(x[:, :1]), x.cumsum(1)), dim=1)
        lengths = torch.as_tensor(ends - starts)
        empty = lengths == 0
        mean = (csum[:, ends] - csum[:, starts]) / lengths.clamp(min=1)[None, :, None]
        pooled = torch.where(empty[None, :, None], x[:, starts.clip(max=t - 1)], mean)
        seg_scores = self(pooled[None]).scores[0]                   # (S,)
        owner = torch.as_tensor(segment_of_snippet(bounds, t))
        return seg_scores[owner]

    def configure_optimizer(self):
        return torch.optim.Adagrad(self.parameters(), lr=self.config.lr, eps=1e-8), None


def segment_of_snippet(bounds: np.ndarray, t: int) -> np.ndarray:
    """For each snippet j, the segment i with bounds[i] <= j < bounds[i+1] (empty segments own none)."""
    return np.searchsorted(bounds[1:], np.arange(t), side="right").clip(max=len(bounds) - 2)
