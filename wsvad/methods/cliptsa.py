"""CLIP-TSA: CLIP-assisted Temporal Self-Attention (Joo, Kim, Yoon, Le, Saha; ICIP 2023).

Official code: github.com/joos2010kj/CLIP-TSA, commit a58353c: model.py (`Model`, `Aggregate`,
`MLP`), utils/hard_attention.py (`HardAttention`, `MLP`, `PerturbedTopKFunction`), train.py (the
RTFM loss, copied from tianyu0207/RTFM), test_10crop.py (the test path), main.py and runner.sh
(`ucf`: k 0.95, batch 16, 4000 iterations of Adam 1e-3, wd 0.005, seed 2). Module and parameter
names follow the official ones, so an official `state_dict` loads unchanged.

    x        CLIP ViT features (T, D), D = 512 (one crop)
    s_t      = σ(fc2(relu(fc1(x_t))))                               hard_attention.scorer, 512 → 256 → 1
    p_t      = (1/n) Σ_i 1[t ∈ top-k(s + σ z_i)],  z_i ~ N(0, I)    perturbed top-k (Berthet et al. 2020)
               k = int(0.95 T) clipped to [1, T] (≤ 1000 at test), n = 100 samples, σ = 0.05
    x̃_t      = p_t · x_t                                            the hard attention
    ∂L/∂s_d  = 1/(nσ) Σ_i 1[d ∈ top-k_i] ⟨z_i, ∂L/∂p⟩                  PerturbedTopKFunction.backward
    f        = Dropout(Aggregate(x̃))                                RTFM's MTN at width D (D/4 inside)
    score_t  = σ(fc3(drop(relu(fc2(drop(relu(fc1(f_t))))))))       D → D/4 → D/16 → 1, mean over crops
    loss     = BCE(mean top-3 score by ||f_t||, y) + 1e-4 · RTFM magnitude margin (m = 100)
               + 8e-3 · ||s_abn||₂ + 8e-4 · Σ (s_abn[t+1] − s_abn[t])²        (as rtfm.py)

Test-time: the official eval draws the perturbation noise too (HardAttention runs its
"test" branch whenever the batch holds one video, and still samples z), so official scores are
not reproducible. Our default `score` is the noise-free limit σ → 0 of that path: p_t = 1 for the
top-k snippets of s (ties as `torch.topk`), 0 elsewhere, with k = int(0.95 T) clipped to [1, T] and
capped at 1000; then Aggregate → fc1–fc3 → sigmoid. `eval_noise=True` gives the official stochastic
eval (draws z from torch's generator exactly as the official code, so equal seeds give equal scores).

Deliberate differences from the official code (numerically identical otherwise; see
tests/wsvad/methods/test_cliptsa_golden.py):
- the default eval is the noise-free limit of the official stochastic eval (above);
- the k ≤ 1000 cap applies whenever the model is in eval mode (officially: whenever the hard
  attention sees a batch of one, which is how the official single-crop test is detected);
- widths follow the feature dimension D (officially `division = 2048 // D`, valid for D | 2048 only):
  Aggregate channels D/4, conv_5 4·(D/4) → D, fc1 D → D/4, fc2 → D/16 (at least 1 each); with D = 512
  these are the official 128, 512, 128, 32. For D > 512 the features first go through the official
  `mlp` (D → 1024 → 512, sigmoid), the official I3D/C3D path, and everything after is at 512; for
  D ≤ 512 that `mlp` is unused officially and not built here (its keys are ignored when loading);
- the perturbed top-k keeps per-sample membership masks (N, n, T) instead of one-hot tensors
  (N, n, k, T), so long test videos fit in memory; its gradient is the official one, written as
  1/(nσ) · membershipᵀ(noise · ∂L/∂p) (float rounding differs at ~1e-7);
- normal/abnormal counts come from the `Batch` (officially `args.batch_size` and a hard-coded 32
  segments in train.py); the per-crop top-k gather loops are one batched `gather`;
- no `.cuda()`; the test path skips the (unused) top-k selection, so videos with T < 3 score.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wsvad.errors import ConfigError
from wsvad.methods.base import Batch, InputSpec, Method, Output
from wsvad.methods.components.rtfm_loss import rtfm_loss_terms
from wsvad.methods.registry import register
from wsvad.methods.rtfm import NonLocalBlock1D, RTFMConfig, xavier_init

PROJECTED_WIDTH = 512   # model.py: features wider than 512 are projected to 512 (I3D/C3D path)


class PerturbedTopK(torch.autograd.Function):
    """p_t = mean over noise samples of 1[t ∈ top-k(s + σ z)], with the official score-function gradient."""

    @staticmethod
    def forward(ctx, s: torch.Tensor, k: int, noise: torch.Tensor, sigma: float) -> torch.Tensor:
        perturbed = s[:, None, :] + noise * sigma                                 # (N, n, T)
        idx = torch.topk(perturbed, k, dim=-1).indices                             # (N, n, k)
        member = torch.zeros_like(perturbed).scatter_(-1, idx, 1.0)                # (N, n, T) 0/1
        ctx.save_for_backward(member, noise)
        ctx.sigma = sigma
        return member.mean(1)                                                     # (N, T)

    @staticmethod
    def backward(ctx, grad_p: torch.Tensor):
        member, noise = ctx.saved_tensors
        along_noise = torch.einsum("bnt,bt->bn", noise, grad_p)                   # ⟨z_i, ∂L/∂p⟩ (N, n)
        grad_s = torch.einsum("bnt,bn->bt", member, along_noise)                  # (N, T)
        return grad_s / (noise.shape[1] * ctx.sigma), None, None, None


class Scorer(nn.Module):
    """utils/hard_attention.py `MLP`: the snippet scores the hard attention ranks."""

    def __init__(self, dim: int, hidden: int = 256):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:                          # (N, T, D)
        return torch.sigmoid(self.fc2(F.relu(self.fc1(x)))).squeeze(-1)           # (N, T)


class HardAttention(nn.Module):
    """Keep the top-k snippets of the scorer: x̃_t = p_t · x_t (perturbed, or its noise-free limit)."""

    def __init__(self, dim: int, ratio: float, num_samples: int, sigma: float):
        super().__init__()
        self.scorer = Scorer(dim)
        self.ratio, self.num_samples, self.sigma = ratio, num_samples, sigma

    def k_of(self, t: int, cap: int | None) -> int:
        k = min(max(int(t * self.ratio), 1), t)
        return min(k, cap) if cap else k

    def forward(self, x: torch.Tensor, noisy: bool, cap: int | None = None):     # x (N, T, D)
        s = self.scorer(x)                                                        # (N, T)
        n, t = s.shape
        k = self.k_of(t, cap)
        if noisy:
            noise = torch.normal(mean=0.0, std=1.0, size=(n, self.num_samples, t), device=x.device)
            p = PerturbedTopK.apply(s, k, noise, self.sigma)                      # (N, T)
        else:
            p = torch.zeros_like(s).scatter(1, torch.topk(s, k, dim=1).indices, 1.0)
        return x * p[..., None], s, p


class Projection(nn.Module):
    """model.py `MLP`: D → 1024 → 512 with a sigmoid, applied to features wider than 512."""

    def __init__(self, dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, 1024)
        self.fc2 = nn.Linear(1024, PROJECTED_WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc2(F.relu(self.fc1(x))))


class Aggregate(nn.Module):
    """RTFM's multi-scale temporal network at width D (model.py `Aggregate` with division 2048 // D)."""

    def __init__(self, width: int):
        super().__init__()
        inner = max(width // 4, 1)

        def dilated(d: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv1d(width, inner, kernel_size=3, stride=1, dilation=d, padding=d),
                                 nn.ReLU(), nn.BatchNorm1d(inner))

        self.conv_1, self.conv_2, self.conv_3 = dilated(1), dilated(2), dilated(4)
        self.conv_4 = nn.Sequential(nn.Conv1d(width, inner, kernel_size=1, stride=1, padding=0, bias=False), nn.ReLU())
        self.conv_5 = nn.Sequential(nn.Conv1d(4 * inner, width, kernel_size=3, stride=1, padding=1, bias=False),
                                    nn.ReLU(), nn.BatchNorm1d(width))
        self.non_local = NonLocalBlock1D(inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:                          # x (N, T, D)
        out = x.permute(0, 2, 1)                                                  # (N, D, T)
        residual = out
        out_d = torch.cat((self.conv_1(out), self.conv_2(out), self.conv_3(out)), dim=1)   # (N, 3D/4, T)
        out = self.non_local(self.conv_4(out))                                    # (N, D/4, T)
        out = self.conv_5(torch.cat((out_d, out), dim=1))                         # (N, D, T)
        return (out + residual).permute(0, 2, 1)                                  # (N, T, D)


@dataclass
class CLIPTSAConfig(RTFMConfig):
    lr: float = 1e-3
    weight_decay: float = 0.005
    batch_size: int = 16
    segments: int = 32           # hard-coded in train.py (scores.view(batch_size * 32 * 2))
    max_steps: int = 4000
    k: int = 3                   # num_segments // 10: top-k snippets by feature magnitude
    dropout: float = 0.7
    margin: float = 100.0
    alpha: float = 1e-4
    sparsity: float = 8e-3
    smooth: float = 8e-4
    topk_ratio: float = 0.95     # --k: the hard attention keeps int(ratio · T) snippets
    num_samples: int = 100       # --num_samples: noise samples of the perturbed top-k
    sigma: float = 0.05          # PerturbedTopK default
    eval_max_k: int = 1000       # the official test-time cap on k
    eval_noise: bool = False     # True: the official stochastic eval (noise drawn at test time too)

    def validate(self) -> None:
        if not 0.0 < self.topk_ratio <= 1.0:
            raise ConfigError(f"cliptsa.topk_ratio must be in (0, 1], got {self.topk_ratio}")
        if self.num_samples < 1 or self.sigma <= 0:
            raise ConfigError("cliptsa needs num_samples >= 1 and sigma > 0 (the perturbed top-k trains the scorer)")


@register
class CLIPTSA(Method):
    name = "cliptsa"
    paper = ("Joo et al., CLIP-TSA: CLIP-Assisted Temporal Self-Attention for Weakly-Supervised "
             "Video Anomaly Detection, ICIP 2023")
    official_code = "https://github.com/joos2010kj/CLIP-TSA"
    Config = CLIPTSAConfig
    inputs = InputSpec(pooling="linspace_mean", train_crops="all", test_crops="forward", official_dim=512)
    search_space = {
        "lr": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
        "weight_decay": {"type": "loguniform", "low": 1e-4, "high": 5e-2},
        "dropout": {"type": "uniform", "low": 0.3, "high": 0.8},
        "topk_ratio": {"type": "uniform", "low": 0.5, "high": 1.0},
        "sigma": {"type": "loguniform", "low": 0.01, "high": 0.2},
        "k": {"type": "int", "low": 1, "high": 8},
        "alpha": {"type": "loguniform", "low": 1e-5, "high": 1e-3},
        "margin": {"type": "choice", "values": [10.0, 50.0, 100.0, 200.0]},
        "sparsity": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
        "smooth": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
    }

    def __init__(self, config: CLIPTSAConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        width = PROJECTED_WIDTH if feature_dim > PROJECTED_WIDTH else feature_dim
        self.hard_attention = HardAttention(width, config.topk_ratio, config.num_samples, config.sigma)
        self.Aggregate = Aggregate(width)
        self.fc1 = nn.Linear(width, max(width // 4, 1))
        self.fc2 = nn.Linear(max(width // 4, 1), max(width // 16, 1))
        self.fc3 = nn.Linear(max(width // 16, 1), 1)
        self.drop_out = nn.Dropout(config.dropout)
        self.apply(xavier_init)   # before `mlp` exists, as model.py (which builds it after `apply`)
        self.mlp = Projection(feature_dim) if feature_dim > PROJECTED_WIDTH else None

    def forward(self, x: torch.Tensor) -> Output:
        b, c, t, d = x.shape
        h = x.reshape(b * c, t, d)                                               # (B·C, T, D)
        if self.mlp is not None:
            h = self.mlp(h)                                                       # (B·C, T, 512)
        noisy = self.training or self.config.eval_noise
        h, s, p = self.hard_attention(h, noisy, cap=None if self.training else self.config.eval_max_k)
        features = self.drop_out(self.Aggregate(h))                               # (B·C, T, W)
        z = self.drop_out(F.relu(self.fc1(features)))
        z = self.drop_out(F.relu(self.fc2(z)))
        scores = torch.sigmoid(self.fc3(z)).view(b, c, t).mean(1)                 # (B, T)
        magnitudes = features.norm(p=2, dim=2).view(b, c, t).mean(1)              # (B, T)
        extras = {"features": features.view(b, c, t, -1), "magnitudes": magnitudes,
                  "attention_scores": s.view(b, c, t), "attention": p.view(b, c, t)}
        return Output(scores, extras)

    def loss(self, output: Output, batch: Batch):
        """RTFM's loss (CLIP-TSA train.py is RTFM's train.py)."""
        parts = rtfm_loss_terms(output, batch, self.config, self.drop_out, "CLIP-TSA")
        return sum(parts.values()), parts

    def load_official(self, state_dict: dict) -> None:
        """As the base, but an official checkpoint's unused `mlp.*` (D ≤ 512) is set aside."""
        if self.mlp is None:
            state_dict = {k: v for k, v in state_dict.items() if not k.removeprefix("module.").startswith("mlp.")}
        super().load_official(state_dict)
