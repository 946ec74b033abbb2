"""UR-DMU: Dual Memory Units with Uncertainty Regulation (Zhou, Yu, Yang, AAAI 2023).

Official code: github.com/henrryzh1/UR-DMU (MIT; model.py `WSAD`, memory.py `Memory_Unit`,
translayer.py `Transformer`, train.py `AD_Loss`/`train`, ucf_test.py `test`, ucf_main.py for the
schedule). Module names follow model.py, so an official `state_dict` loads unchanged.

    h        = GL-Transformer(ReLU(Conv1d_k3(x)))                      (N, T, 512)   dim 512, 2 layers, 4 heads
    memory   att_M = σ(h Mᵀ / √512) (N, T, K);  aug_M = att_M M;  s_M(t) = mean top-(K//16+1)_k att_M(t, k)
    test     score = σ-MLP([h ∥ μ(aug_A) + μ(aug_N)])                   (μ = encoder_mu; mean over crops)
    train    normal videos use z = μ(aug_N) + ε·exp(½·logvar(aug_N)), ε ~ N(0, I), in place of μ(aug_N)
             (logvar = encoder_var);  abnormal videos as at test time.
    top-k    k = T//16 + 1 snippets by a memory score
    loss     BCE(mean top-k score, y)                                                    "cls"
           + 0.1·[BCE(top-k s_A(abn), 1) + BCE(top-k (1 − s_N(abn)), 1)
                  + BCE(s_N(nor), 1) + BCE(s_A(nor), 0)]          "abn_in_amem", "abn_in_nmem", "nor_in_nmem", "nor_in_amem"
           + 0.1·Triplet_m=1(n̂_anchor, n̂_pos, n̂_neg)      anchor: normal h at top-k s_N; positive: abnormal h
                  at top-k s_N(abn); negative: abnormal h at top-k s_A (each L2-normalised)       "triplet"
           + 1e-3·KL = mean_{n,d} −½ Σ_t (1 + logvar − μ² − e^logvar)    (sum over t, as model.py) "kl"
           + 1e-4·mean max(0, 100 − ||μ(aug_A)_neg|| + ||z_anchor||)                          "distance"
    optimiser Adam(1e-4, wd 5e-5), 64 + 64 crops of 200 segments per step, 3000 steps (ucf_main.py)

Training feeds every crop as its own sample (UCF_Train.list lists each crop file), test runs
one forward per crop and averages (ucf_test.py), ×16 to frames. The official run evaluates on the
test set every 10 steps and keeps the best AUC (ucf_main.py); our trainer's selection is set by
TrainOptions.

Deliberate differences from the official code (numerically identical otherwise; see
tests/wsvad/methods/test_urdmu_golden.py):
- normal and abnormal halves come from the `Batch` (`n_normal`), not `b // 2`; the triplet and
  distance terms pair the i-th normal with the i-th abnormal video, so the halves must be equal;
- `forward` does not know the labels, so it returns the test-time scores for every video
  (Output.scores); `loss` replaces the normal half by the reparameterised scores (the official
  train-mode "frame", `reparameterised_scores`). The Gaussian noise ε is therefore drawn in `loss`,
  still after every dropout of the forward (the official order); `extras["noise"]` injects ε;
- both memories read the whole batch in one call each (officially four calls on the two halves);
- the input feature dimension D comes from the feature set (I3D 1024 officially); only the
  embedding conv depends on it;
- `score` runs the crops as one batch of separate samples (equal to the official per-crop loop,
  since nothing mixes samples at test time); no `.cuda()` calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.components.gl_transformer import Transformer
from wsvad.methods.components.temporal import Temporal
from wsvad.methods.registry import register


class ADCLSHead(nn.Module):
    """model.py `ADCLS_head`: [h ∥ memory read-out] (1024) → 128 → 1, sigmoid."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, 128), nn.ReLU(), nn.Linear(128, out_dim), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class MemoryUnit(nn.Module):
    """memory.py `Memory_Unit`: K learnable slots; per-snippet slot attention and the read-out."""

    def __init__(self, nums: int, dim: int):
        super().__init__()
        self.nums, self.dim = nums, dim
        self.memory_block = nn.Parameter(torch.empty(nums, dim))
        bound = 1.0 / math.sqrt(dim)
        nn.init.uniform_(self.memory_block, -bound, bound)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # h (N, T, d)
        att = torch.sigmoid(h @ self.memory_block.t() / self.dim ** 0.5)       # (N, T, K)
        temporal = att.topk(self.nums // 16 + 1, dim=-1).values.mean(-1)       # (N, T)
        return temporal, att @ self.memory_block                               # (N, T), (N, T, d)


@dataclass
class URDMUConfig(MethodConfig):
    lr: float = 1e-4
    weight_decay: float = 5e-5
    batch_size: int = 64            # crops per side (each crop is a sample)
    segments: int = 200
    max_steps: int = 3000
    a_nums: int = 60                # anomaly memory slots
    n_nums: int = 60                # normal memory slots
    dropout: float = 0.5            # inside the transformer
    memory_weight: float = 0.1      # each of the four memory BCEs
    triplet_weight: float = 0.1
    triplet_margin: float = 1.0
    kl_weight: float = 1e-3
    distance_weight: float = 1e-4
    distance_margin: float = 100.0


@register
class URDMU(Method):
    name = "urdmu"
    paper = ("Zhou, Yu, Yang, Dual Memory Units with Uncertainty Regulation for Weakly Supervised "
             "Video Anomaly Detection, AAAI 2023")
    official_code = "https://github.com/henrryzh1/UR-DMU"
    Config = URDMUConfig
    inputs = InputSpec(pooling="linspace_mean", train_crops="each", test_crops="per_crop", official_dim=1024)
    search_space = {
        "lr": {"type": "loguniform", "low": 3e-5, "high": 1e-3},
        "weight_decay": {"type": "loguniform", "low": 1e-6, "high": 1e-3},
        "dropout": {"type": "uniform", "low": 0.1, "high": 0.7},
        "a_nums": {"type": "int", "low": 10, "high": 120},
        "n_nums": {"type": "int", "low": 10, "high": 120},
        "memory_weight": {"type": "loguniform", "low": 1e-2, "high": 1.0},
        "triplet_weight": {"type": "loguniform", "low": 1e-2, "high": 1.0},
        "kl_weight": {"type": "loguniform", "low": 1e-4, "high": 1e-2},
        "distance_weight": {"type": "loguniform", "low": 1e-5, "high": 1e-3},
    }

    def __init__(self, config: URDMUConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        self.embedding = Temporal(feature_dim, 512)
        self.cls_head = ADCLSHead(1024, 1)
        self.Amemory = MemoryUnit(config.a_nums, 512)
        self.Nmemory = MemoryUnit(config.n_nums, 512)
        self.selfatt = Transformer(512, 2, 4, 128, 512, dropout=config.dropout)
        self.encoder_mu = nn.Sequential(nn.Linear(512, 512))
        self.encoder_var = nn.Sequential(nn.Linear(512, 512))

    def forward(self, x: torch.Tensor) -> Output:
        b, c, t, d = x.shape
        h = self.selfatt(self.embedding(x.reshape(b * c, t, d)))     # (B·C, T, 512)
        a_att, a_aug = self.Amemory(h)                               # (B·C, T), (B·C, T, 512)
        n_att, n_aug = self.Nmemory(h)
        a_mu, n_mu = self.encoder_mu(a_aug), self.encoder_mu(n_aug)
        scores = self.cls_head(torch.cat([h, a_mu + n_mu], dim=-1)).view(b, c, t).mean(1)   # (B, T)
        extras = {"h": h, "a_att": a_att, "n_att": n_att, "n_aug": n_aug, "a_mu": a_mu, "n_mu": n_mu}
        return Output(scores, extras)

    @torch.no_grad()
    def score(self, video: torch.Tensor) -> torch.Tensor:
        return self(video[:, None]).scores.mean(0)  # every crop its own sample, then the crop mean

    def reparameterised_scores(self, output: Output, n_normal: int):
        """The official train-mode scores ("frame", (B, T)): normal videos read z ~ N(μ, e^logvar).

        Returns (scores, z, mu, logvar) with z, mu, logvar (n·C, T, 512) of the normal half.
        """
        e, (b, t) = output.extras, output.scores.shape
        c = e["h"].shape[0] // b
        nc = n_normal * c
        mu, logvar = e["n_mu"][:nc], self.encoder_var(e["n_aug"][:nc])
        noise = e.get("noise")
        eps = torch.randn_like(logvar) if noise is None else noise
        z = mu + eps * torch.exp(logvar).sqrt()
        normal = self.cls_head(torch.cat([e["h"][:nc], z + e["a_mu"][:nc]], dim=-1))    # (n·C, T, 1)
        scores = torch.cat([normal.view(n_normal, c, t).mean(1), output.scores[n_normal:]])
        return scores, z, mu, logvar

    def loss(self, output: Output, batch: Batch):
        cfg, n = self.config, batch.n_normal
        if batch.n_abnormal != n:
            raise ValueError("UR-DMU's triplet and distance terms pair normal and abnormal videos: use equal halves")
        e, (b, t) = output.extras, output.scores.shape
        c = e["h"].shape[0] // b
        nc, k = n * c, t // 16 + 1
        scores, z, mu, logvar = self.reparameterised_scores(output, n)

        def crop_mean(s):  # (V·C, T) → (V, T)
            return s.view(-1, c, t).mean(1)

        def top_k_mean(s):  # (V, T) → (V,)
            return s.topk(k, dim=-1).values.mean(-1)

        a_att_abn, n_att_abn = crop_mean(e["a_att"][nc:]), crop_mean(e["n_att"][nc:])
        a_att_nor, n_att_nor = crop_mean(e["a_att"][:nc]), crop_mean(e["n_att"][:nc])
        ones, w = torch.ones_like(batch.labels[n:]), cfg.memory_weight
        parts = {
            "cls": F.binary_cross_entropy(top_k_mean(scores), batch.labels),
            "abn_in_amem": w * F.binary_cross_entropy(top_k_mean(a_att_abn), ones),
            "abn_in_nmem": w * F.binary_cross_entropy(top_k_mean(1 - n_att_abn), ones),
            "nor_in_nmem": w * F.binary_cross_entropy(n_att_nor, torch.ones_like(n_att_nor)),
            "nor_in_amem": w * F.binary_cross_entropy(a_att_nor, torch.zeros_like(a_att_nor)),
        }

        def gather_mean(feats, att):  # feats (V·C, T, d) at the top-k snippets of att (V·C, T) → (V, d)
            idx = att.topk(k, dim=-1).indices                                           # (V·C, k)
            picked = feats.gather(1, idx[..., None].expand(-1, -1, feats.shape[-1]))    # (V·C, k, d)
            return picked.mean(1).view(-1, c, feats.shape[-1]).mean(1)

        h_nor, h_abn = e["h"][:nc], e["h"][nc:]
        anchor = gather_mean(h_nor, e["n_att"][:nc])        # normal snippets the normal memory recognises
        positive = gather_mean(h_abn, e["n_att"][nc:])      # abnormal-video snippets the normal memory recognises
        negative = gather_mean(h_abn, e["a_att"][nc:])      # abnormal-video snippets the anomaly memory recognises
        def unit(v):  # train.py `norm`: v / ||v||₂
            return v / v.norm(p=2, dim=-1, keepdim=True)

        parts["triplet"] = cfg.triplet_weight * F.triplet_margin_loss(
            unit(anchor), unit(positive), unit(negative), margin=cfg.triplet_margin)
        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)).mean()   # sum over T, as model.py
        parts["kl"] = cfg.kl_weight * kl
        anchor_z = gather_mean(z, e["n_att"][:nc])
        negative_mu = gather_mean(e["a_mu"][nc:], e["a_att"][nc:])
        distance = F.relu(cfg.distance_margin - negative_mu.norm(p=2, dim=-1) + anchor_z.norm(p=2, dim=-1)).mean()
        parts["distance"] = cfg.distance_weight * distance
        return sum(parts.values()), parts
