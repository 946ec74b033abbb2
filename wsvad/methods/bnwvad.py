"""BN-WVAD: BatchNorm-based Weakly Supervised Video Anomaly Detection (Zhou et al., arXiv 2311.15367, 2023).

Official code: github.com/cool-xuan/BN-WVAD, XD-Violence only (models/model.py `WSAD`,
models/normal_head.py `NormalHead`, models/translayer.py, losses/{normal_loss, mpp_loss,
loss_computer}.py, train.py, test.py, options.py for the hyperparameters). Module names follow
the official ones, so an official `state_dict` loads unchanged.

    h        = GL-Transformer(ReLU(Conv1d_k3(x)))                    (N, T, 512), UR-DMU's, dropout 0
    head     f₁ = conv1(h)  (512/16 ch);  f₂ = conv2(ReLU(BN₁(f₁)))  (512/32 ch);  s = σ(conv3(ReLU(BN₂(f₂))))
    DFM      d_l(t) = sqrt( Σ_c (f_l(c, t) − μ_l(c))² / σ²_l(c) )      μ_l, σ²_l = BN_l running mean / var, no eps
    score    per crop Σ_l d_l(t) · s(t), then the mean over crops     (unbounded, ×16 to frames)
    train    BN on batch statistics updates μ, σ² first; d_l is then computed with the updated stats.
             Abnormal snippets: per-video top-⌊0.2·T⌋ ∪ batch top-⌊0.4·n_abn·T⌋ by d_l (crop mean);
             as many normal snippets, the top-(⌊#sel/n⌋+1) of each normal video by d_l, rank-major.
    loss     1 · mean_n ||s_n||₂ over normal videos                                       "normal"
           + Σ_l w_l · mean max(0, 1 + D_l(μ_l, f⁺) − D_l(μ_l, f⁻)),  w = (5, 20)        "mpp_1", "mpp_2"
             (D_l the same Mahalanobis distance; f⁺ selected normal, f⁻ selected abnormal features)
    optimiser Adam(1e-4, wd 5e-5), grad-norm clip 1.0, 64 + 64 crops of 200 segments, 1000 steps

Each crop is its own training sample (XD_Train.list lists each crop file); the test loader gives
the 5 crops of a video as one batch of separate samples and averages their scores (test.py).
The official run selects its checkpoint by AP on the test set every 5 steps (main.py; AP there is
the trapezoidal PR area `auc(recall, precision)`, our metric `pr_auc_trapz`); our trainer's
selection is set by TrainOptions (validation by default; `select_metric="pr_auc_trapz"` mimics it).
Scores are unbounded, so thresholded metrics (false-alarm rate at 0.5) mean little for this method.

Deliberate differences from the official code (numerically identical otherwise; see
tests/wsvad/methods/test_bnwvad_golden.py):
- normal and abnormal halves come from the `Batch` (`n_normal`), not `bs // 2`: the batch-level
  quota counts abnormal videos, the per-video normal quota divides by the normal videos (equal
  halves give the official numbers);
- `forward` returns per-snippet scores in train mode too (with the just-updated running stats);
  the official train forward returns only what the loss needs;
- training with several crops in one sample averages features and distances over crops before
  selecting (the official `pos_neg_select` only runs with one crop per sample); k_nor is capped
  at T, and an empty selection (n_abn·T < 3) gives a zero MPP term instead of NaN;
- the input feature dimension D comes from the feature set (I3D 1024 officially); only the
  embedding conv depends on it;
- `score` runs the crops as one batch of separate samples, as test.py does; no `.cuda()` calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wsvad.errors import ConfigError
from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.components.gl_transformer import Transformer
from wsvad.methods.components.temporal import Temporal
from wsvad.methods.registry import register


class NormalHead(nn.Module):
    """normal_head.py: two conv+BN stages whose pre-BN outputs carry the DFM, then a sigmoid score."""

    def __init__(self, in_channel: int = 512, ratios=(16, 32), kernel_sizes=(1, 1, 1)):
        super().__init__()
        c1, c2 = in_channel // ratios[0], in_channel // ratios[1]
        k1, k2, k3 = kernel_sizes
        self.conv1 = nn.Conv1d(in_channel, c1, k1, 1, k1 // 2)
        self.bn1 = nn.BatchNorm1d(c1)
        self.conv2 = nn.Conv1d(c1, c2, k2, 1, k2 // 2)
        self.bn2 = nn.BatchNorm1d(c2)
        self.conv3 = nn.Conv1d(c2, 1, k3, 1, k3 // 2)

    def forward(self, x: torch.Tensor):  # x (N, C, T)
        f1 = self.conv1(x)                                            # (N, C/16, T), before BN₁
        f2 = self.conv2(F.relu(self.bn1(f1)))                          # (N, C/32, T), before BN₂
        s = torch.sigmoid(self.conv3(F.relu(self.bn2(f2)))).squeeze(1)  # (N, T)
        return (f1, f2), s


def mahalanobis(f: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, dim: int) -> torch.Tensor:
    """sqrt(Σ (f − mean)² / var) over `dim` (the channels), no eps, as model.py / mpp_loss.py."""
    shape = [1] * f.dim()
    shape[dim] = -1
    return torch.sqrt(torch.sum((f - mean.view(shape)) ** 2 / var.view(shape), dim=dim))


@dataclass
class BNWVADConfig(MethodConfig):
    lr: float = 1e-4
    weight_decay: float = 5e-5
    batch_size: int = 64                          # crops per side (each crop is a sample)
    segments: int = 200
    max_steps: int = 1000
    grad_clip: float = 1.0                        # clip_grad_norm_(…, 1.) in train.py
    ratio_sample: float = 0.2                     # per-video share of abnormal snippets selected
    ratio_batch: float = 0.4                      # batch-level share of abnormal snippets selected
    ratios: tuple[int, ...] = (16, 32)            # channel reductions of the two BN stages
    kernel_sizes: tuple[int, ...] = (1, 1, 1)     # conv1..conv3 of the normal head
    normal_weight: float = 1.0                    # w_normal in loss_computer.py
    mpp_weight_1: float = 5.0                     # w_triplet of the BN₁ stage in mpp_loss.py (× w_mpp = 1)
    mpp_weight_2: float = 20.0                    # w_triplet of the BN₂ stage
    margin: float = 1.0
    dropout: float = 0.0                          # inside the transformer (0 officially)

    def validate(self) -> None:
        if len(self.ratios) != 2:
            raise ConfigError("bnwvad: ratios takes one channel reduction per BN stage (two)")
        if len(self.kernel_sizes) != 3 or any(k < 1 or k % 2 == 0 for k in self.kernel_sizes):
            raise ConfigError("bnwvad: kernel_sizes takes three odd sizes (conv1, conv2, conv3)")
        if any(512 // r < 1 for r in self.ratios):
            raise ConfigError("bnwvad: ratios must leave at least one channel of 512")


@register
class BNWVAD(Method):
    name = "bnwvad"
    paper = "Zhou, Yu, Yang, BatchNorm-based Weakly Supervised Video Anomaly Detection, arXiv 2311.15367, 2023"
    official_code = "https://github.com/cool-xuan/BN-WVAD"
    Config = BNWVADConfig
    inputs = InputSpec(pooling="linspace_mean", train_crops="each", test_crops="per_crop", official_dim=1024)
    search_space = {
        "lr": {"type": "loguniform", "low": 3e-5, "high": 1e-3},
        "weight_decay": {"type": "loguniform", "low": 1e-6, "high": 1e-3},
        "ratio_sample": {"type": "uniform", "low": 0.05, "high": 0.5},
        "ratio_batch": {"type": "uniform", "low": 0.1, "high": 0.7},
        "normal_weight": {"type": "loguniform", "low": 0.1, "high": 10.0},
        "mpp_weight_1": {"type": "loguniform", "low": 0.5, "high": 50.0},
        "mpp_weight_2": {"type": "loguniform", "low": 2.0, "high": 200.0},
        "margin": {"type": "choice", "values": [0.5, 1.0, 2.0]},
    }

    def __init__(self, config: BNWVADConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        self.normal_head = NormalHead(512, config.ratios, config.kernel_sizes)
        self.embedding = Temporal(feature_dim, 512)
        self.selfatt = Transformer(512, 2, 4, 128, 512, dropout=config.dropout)

    @property
    def bns(self) -> tuple[nn.BatchNorm1d, nn.BatchNorm1d]:
        return self.normal_head.bn1, self.normal_head.bn2

    def forward(self, x: torch.Tensor) -> Output:
        b, c, t, d = x.shape
        h = self.selfatt(self.embedding(x.reshape(b * c, t, d)))            # (B·C, T, 512)
        feats, s = self.normal_head(h.transpose(1, 2))                       # BN stats updated first in train mode
        dists = [mahalanobis(f, bn.running_mean, bn.running_var, dim=1) for f, bn in zip(feats, self.bns)]  # (B·C, T)
        scores = (sum(dists) * s).view(b, c, t).mean(1)                      # per crop, then the crop mean
        extras = {"features": feats,                                         # per stage (B·C, C_l, T)
                  "distances": [dl.view(b, c, t).mean(1) for dl in dists],   # per stage (B, T), crop mean
                  "normal_scores": s.view(b, c, t).mean(1)}                  # (B, T)
        return Output(scores, extras)

    @torch.no_grad()
    def score(self, video: torch.Tensor) -> torch.Tensor:
        return self(video[:, None]).scores.mean(0)  # every crop its own sample, then the crop mean

    def select_snippets(self, feats: torch.Tensor, dist: torch.Tensor, n: int):
        """model.py `pos_neg_select`: selected normal and abnormal features, (M, C_l) each, paired by row.

        feats (B·C, C_l, T) of one stage, dist (B, T) its crop-mean distance; normal videos first.
        """
        b, t = dist.shape
        ch = feats.shape[1]
        feats = feats.view(b, -1, ch, t).mean(1).transpose(1, 2)            # (B, T, C_l) crop mean
        nor_f, abn_f, nor_d, abn_d = feats[:n], feats[n:], dist[:n], dist[n:]
        a = b - n
        with torch.no_grad():
            per_video = torch.zeros_like(abn_d, dtype=torch.bool)
            per_video.scatter_(1, abn_d.topk(int(t * self.config.ratio_sample), dim=-1).indices, True)
            in_batch = torch.zeros(a * t, dtype=torch.bool, device=dist.device)
            in_batch.scatter_(0, abn_d.reshape(-1).topk(int(a * t * self.config.ratio_batch)).indices, True)
            mask = per_video.reshape(-1) | in_batch                         # (a·T,)
            count = int(mask.sum())
            k_nor = min(count // n + 1, t)
            nor_idx = nor_d.topk(k_nor, dim=-1).indices                     # (n, k_nor)
        neg = abn_f.reshape(-1, ch)[mask]                                   # (count, C_l), video-major
        pos = nor_f.gather(1, nor_idx[..., None].expand(-1, -1, ch))        # (n, k_nor, C_l)
        pos = pos.transpose(0, 1).reshape(-1, ch)[:count]                   # rank-major, as official
        return pos, neg[: pos.shape[0]]

    def loss(self, output: Output, batch: Batch):
        cfg, n = self.config, batch.n_normal
        e = output.extras
        parts = {"normal": cfg.normal_weight * e["normal_scores"][:n].norm(p=2, dim=1).mean()}
        weights = (cfg.mpp_weight_1, cfg.mpp_weight_2)
        for i, (f, dist, bn, w) in enumerate(zip(e["features"], e["distances"], self.bns, weights), 1):
            pos, neg = self.select_snippets(f, dist, n)
            if pos.shape[0] == 0:
                parts[f"mpp_{i}"] = f.sum() * 0.0
                continue
            d_pos = mahalanobis(pos, bn.running_mean, bn.running_var, dim=1)   # (M,)
            d_neg = mahalanobis(neg, bn.running_mean, bn.running_var, dim=1)
            parts[f"mpp_{i}"] = w * torch.clamp_min(cfg.margin + d_pos - d_neg, 0).mean()
        return sum(parts.values()), parts
