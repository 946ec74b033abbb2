"""GS-MoE: Gaussian Splatting-guided Mixture of Experts (D'Amicantonio, Majhi et al., ICCV 2025).

Paper: "Mixture of Experts Guided by Gaussian Splatters Matters: A new Approach to Weakly-Supervised
Video Anomaly Detection", arXiv 2508.06318. Official repo github.com/snehashismajhi/GS-MoE has
released NO code, so this is a port from the paper's description (no golden fixture is
possible); docs/methods/gsmoe.md lists what the paper says and every assumption made here.

    task encoder   h = GL-Transformer(ReLU(Conv1d_k3(x)))   (N, T, 512)   UR-DMU's encoder: the
                   "task-aware features"; coarse scores c = σ(MLP(h))
    class experts  s_e = σ(MLP_e(Block_e(h)))   e = 1..E, one per anomaly class (E = #classes − 1)
    gate           (a) refine: r = Linear_E→512(expert logits)
                   (b) bi-directional cross-attention with skips:
                       [r + softmax(q_h k_hᵀ) v_r ; h + softmax(q_r k_rᵀ) v_h]       (N, T, 1024)
                   (c) Block(1024) → MLP → s = σ(·)                       the final snippet score
    top-k MIL      BCE(mean top-k s, y),  k = ⌊T/16⌋ + 1                      (UR-DMU's k)
    TGS            on an abnormal curve c: peaks p = local maxima with prominence ≥ δ (δ = 0.2);
                   each becomes a Gaussian, μ_p = p, σ_p = FWHM_p / (2√(2 ln 2)) where FWHM_p is the
                   width of the run around p above half its prominence; the splatted pseudo-label
                   ŷ(t) = min(1, Σ_p exp(−(t − p)² / 2σ_p²)) supervises BCE(s(t), ŷ(t))
    class experts  expert e: top-k MIL on the normal videos ∪ the abnormal videos of class e,
                   plus the TGS BCE on its own class's abnormal videos
    loss           mil + tgs + expert_mil + expert_tgs + coarse   (all weights 1, per the paper's
                   "L = L_MIL + L_TGS"; the expert and coarse terms replace the separate stages)

Deliberate differences (the paper builds on a trained UR-DMU and trains the experts and the gate on
its features; the schedule is not given):
- one joint training run: the task encoder (UR-DMU's conv + GL-Transformer, without its dual
  memory units, uncertainty regulation and their losses) learns with its own top-k MIL BCE
  (`coarse`) next to the experts and the gate; TGS pseudo-labels come from its detached scores;
- the dimensions follow UR-DMU (512) and halve down the MLPs (512→256→128→64→32→1 per expert,
  1024→512→…→1 in the gate); the paper gives per-expert transformer + MLP, not these numbers;
- the experts are one grouped module (batched weights, no Python loop over experts);
- `gate="soft"` offers the paper's Soft-MoE ablation: per-snippet softmax weights over the experts
  (they sum to 1), s = Σ_e w_e s_e, with a class-routing cross-entropy (`route`) on abnormal videos;
- D comes from the feature set (I3D 1024 in the paper): only the input conv depends on it;
- `task_dim` (512) is a Config field so tests can shrink the model; `tgs_source="self"` takes the
  peaks of each curve's own detached scores instead of the task encoder's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from wsvad.errors import ConfigError
from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.components.gl_transformer import Transformer
from wsvad.methods.registry import register

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))   # a Gaussian's full width at half maximum is 2.3548 σ


# --- Temporal Gaussian Splatting ---------------------------------------------------------------

def find_peaks(s: torch.Tensor, prominence: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Peaks of score curves s (N, T): (is_peak (N, T) bool, prominence (N, T), width (N, T)).

    A candidate is a local maximum (s_t > s_{t−1}, s_t ≥ s_{t+1}; outside the video counts as −∞,
    so a plateau yields its first snippet). Its prominence is scipy's topographic one: on each side,
    the lowest score before a higher snippet (or the video's end); the reference is the higher of
    the two sides' lows, where a side with no snippets imposes nothing (so an event at the very
    start or end can be a peak). Width: the number of snippets of the contiguous run around t that
    stay at or above s_t − prominence/2 (the full width at half prominence). All (N, T, T) masks.
    """
    n, t = s.shape
    i = torch.arange(t, device=s.device)[None, :, None]        # the candidate
    j = torch.arange(t, device=s.device)[None, None, :]        # every other snippet
    inf = torch.full_like(s[:, :1], float("inf"))
    left, right = torch.cat((-inf, s[:, :-1]), 1), torch.cat((s[:, 1:], -inf), 1)
    candidate = (s > left) & (s >= right)                      # (N, T)

    sj = s[:, None, :].expand(n, t, t)                         # (N, T_i, T_j) = s_j
    higher = sj > s[:, :, None]                                # s_j > s_i
    left_block = torch.where(higher & (j < i), j, -1).amax(-1, keepdim=True)    # nearest higher on the left
    right_block = torch.where(higher & (j > i), j, t).amin(-1, keepdim=True)    # ... and on the right
    left_low = torch.where((j > left_block) & (j < i), sj, float("inf")).amin(-1)
    right_low = torch.where((j < right_block) & (j > i), sj, float("inf")).amin(-1)
    left_low = torch.where(torch.isinf(left_low), float("-inf"), left_low)      # empty side: no constraint
    right_low = torch.where(torch.isinf(right_low), float("-inf"), right_low)
    reference = torch.maximum(left_low, right_low)
    prom = torch.where(torch.isinf(reference), torch.zeros_like(s), s - reference)
    is_peak = candidate & (prom >= prominence)

    half = (s - prom / 2)[:, :, None]                          # (N, T, 1)
    below = sj < half
    left_cross = torch.where(below & (j < i), j, -1).amax(-1)
    right_cross = torch.where(below & (j > i), j, t).amin(-1)
    width = (right_cross - left_cross - 1).to(s.dtype)         # ≥ 1 (the snippet itself)
    return is_peak, prom, width


def temporal_gaussian_splatting(s: torch.Tensor, prominence: float = 0.2,
                                sigma_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense pseudo-labels (N, T) splatted from the peaks of s (N, T), and which rows had a peak (N,).

    ŷ(t) = min(1, Σ_p exp(−(t − p)² / (2 σ_p²))),  σ_p = sigma_scale · width_p / 2.3548.
    """
    s = s.detach()
    is_peak, _, width = find_peaks(s, prominence)
    t = s.shape[1]
    pos = torch.arange(t, device=s.device, dtype=s.dtype)
    sigma = sigma_scale * width / FWHM_PER_SIGMA                                 # (N, T_p)
    dist2 = (pos[None, None, :] - pos[None, :, None]) ** 2                        # (1, T_p, T)
    kernels = torch.exp(-dist2 / (2 * sigma[:, :, None] ** 2))                    # (N, T_p, T)
    labels = (kernels * is_peak[:, :, None]).sum(1).clamp(max=1.0)                # (N, T)
    return labels, is_peak.any(1)


# --- building blocks ---------------------------------------------------------------------------

def n_heads(dim: int, heads: int) -> int:
    return heads if dim % heads == 0 else 1


def mlp_widths(dim: int, steps: int) -> list[int]:
    """dim, dim/2, ..., halving `steps` times (at least 1), then 1: the paper's shrinking score MLPs."""
    return [dim] + [max(dim >> (i + 1), 1) for i in range(steps)] + [1]


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, dropout: float) -> torch.Tensor:
    """Multi-head softmax attention on (N, T, dim) projections → (N, T, dim)."""
    n, t, d = q.shape
    q, k, v = (z.reshape(n, t, heads, d // heads).transpose(1, 2) for z in (q, k, v))   # (N, H, T, d_h)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
    return out.transpose(1, 2).reshape(n, t, d)


class Block(nn.Module):
    """Pre-norm transformer block: x + MHSA(LN x), then x + FFN(LN x)."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = n_heads(dim, heads), dropout
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.ffn = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:       # x (N, T, dim)
        q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
        x = x + self.drop(self.proj(attend(q, k, v, self.heads, self.dropout if self.training else 0.0)))
        return x + self.drop(self.ffn(self.norm2(x)))


class GroupedLinear(nn.Module):
    """E independent linear layers applied to (N, E, T, in) in one einsum."""

    def __init__(self, groups: int, d_in: int, d_out: int):
        super().__init__()
        bound = 1 / math.sqrt(d_in)                                        # nn.Linear's default range
        self.weight = nn.Parameter(torch.empty(groups, d_in, d_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(groups, d_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:       # (N, E, T, in) → (N, E, T, out)
        return torch.einsum("neti,eio->neto", x, self.weight) + self.bias[None, :, None]


class GroupedLayerNorm(nn.Module):
    def __init__(self, groups: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(groups, dim))
        self.bias = nn.Parameter(torch.zeros(groups, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:       # (N, E, T, dim)
        x = F.layer_norm(x, x.shape[-1:])
        return x * self.weight[None, :, None] + self.bias[None, :, None]


class ClassExperts(nn.Module):
    """E class experts, each a pre-norm transformer block and a shrinking MLP, run as one batch."""

    def __init__(self, experts: int, dim: int, heads: int, dropout: float):
        super().__init__()
        self.experts, self.heads, self.dropout = experts, n_heads(dim, heads), dropout
        self.norm1, self.norm2 = GroupedLayerNorm(experts, dim), GroupedLayerNorm(experts, dim)
        self.qkv = GroupedLinear(experts, dim, 3 * dim)
        self.proj = GroupedLinear(experts, dim, dim)
        self.ffn1, self.ffn2 = GroupedLinear(experts, dim, dim), GroupedLinear(experts, dim, dim)
        widths = mlp_widths(dim, 4)                                          # 512 → 256 → 128 → 64 → 32 → 1
        self.mlp = nn.ModuleList([GroupedLinear(experts, a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:       # h (N, T, dim) → logits (N, E, T)
        n, t, d = h.shape
        x = h[:, None].expand(n, self.experts, t, d)                         # (N, E, T, dim)
        q, k, v = (z.reshape(n * self.experts, t, d) for z in self.qkv(self.norm1(x)).chunk(3, dim=-1))
        a = attend(q, k, v, self.heads, self.dropout if self.training else 0.0).view(n, self.experts, t, d)
        x = x + self.drop(self.proj(a))
        x = x + self.drop(self.ffn2(self.drop(F.gelu(self.ffn1(self.norm2(x))))))
        for i, layer in enumerate(self.mlp):
            x = layer(x)
            if i < len(self.mlp) - 1:
                x = F.gelu(x)
        return x.squeeze(-1)                                                  # (N, E, T)


class BiCrossAttention(nn.Module):
    """(b) of the gate: task features attend over refined expert scores and vice versa."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = n_heads(dim, heads), dropout
        self.qk_task, self.v_task = nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)
        self.qk_score, self.v_score = nn.Linear(dim, 2 * dim), nn.Linear(dim, dim)

    def forward(self, task: torch.Tensor, score: torch.Tensor) -> torch.Tensor:   # (N, T, dim) each
        p = self.dropout if self.training else 0.0
        a = attend(*self.qk_task(task).chunk(2, dim=-1), self.v_score(score), self.heads, p)   # Q, K task; V scores
        b = attend(*self.qk_score(score).chunk(2, dim=-1), self.v_task(task), self.heads, p)   # Q, K scores; V task
        return torch.cat((score + a, task + b), dim=-1)                          # (N, T, 2·dim), skip connections


class AttentionGate(nn.Module):
    """The paper's gate: refine expert logits, bi-directional cross-attention, block, MLP → logit."""

    def __init__(self, experts: int, dim: int, dropout: float):
        super().__init__()
        self.refine = nn.Linear(experts, dim)
        self.cross = BiCrossAttention(dim, 4, dropout)
        self.block = Block(2 * dim, 4, 2 * dim, dropout)
        widths = mlp_widths(2 * dim, 4)                                      # 1024 → 512 → ... → 64 → 1
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.GELU()]
        self.mlp = nn.Sequential(*layers[:-1])

    def forward(self, expert_logits: torch.Tensor, h: torch.Tensor) -> torch.Tensor:  # (N, E, T), (N, T, dim)
        r = self.refine(expert_logits.transpose(1, 2))                      # (N, T, dim)
        return self.mlp(self.block(self.cross(h, r))).squeeze(-1)           # (N, T) logits


class SoftGate(nn.Module):
    """Soft-MoE ablation: per-snippet softmax weights over the experts from the task features."""

    def __init__(self, experts: int, dim: int):
        super().__init__()
        self.router = nn.Linear(dim, experts)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # h (N, T, dim)
        logits = self.router(h)                                                # (N, T, E)
        return logits.softmax(-1), logits


# --- the method --------------------------------------------------------------------------------

@dataclass
class GSMoEConfig(MethodConfig):
    lr: float = 1e-4               # not in the paper: UR-DMU's (its backbone)
    weight_decay: float = 5e-5     # idem, with AdamW as the paper says
    batch_size: int = 64           # 64 normal + 64 abnormal (paper)
    segments: int = 200            # T = 200 (paper, as UR-DMU)
    max_steps: int = 3000          # not in the paper: UR-DMU's
    task_dim: int = 512            # UR-DMU encoder width
    dropout: float = 0.1
    k_ratio: int = 16              # k = T // k_ratio + 1 snippets in the top-k MIL
    gate: Literal["attention", "soft"] = "attention"
    prominence: float = 0.2        # TGS: minimal peak prominence
    sigma_scale: float = 1.0       # TGS: multiplies σ_p = FWHM_p / 2.3548
    tgs_source: Literal["coarse", "self"] = "coarse"   # peaks of the task encoder's scores / each curve's own
    tgs: float = 1.0               # weight of the TGS BCE terms
    expert: float = 1.0            # weight of the class-expert terms
    coarse: float = 1.0            # weight of the task encoder's MIL BCE
    route: float = 1.0             # gate="soft": weight of the class-routing cross-entropy

    def validate(self):
        if self.task_dim < 16 or self.task_dim % 4:
            raise ConfigError(f"gsmoe.task_dim must be a multiple of 4 and >= 16, got {self.task_dim}")
        if self.k_ratio < 1:
            raise ConfigError(f"gsmoe.k_ratio must be >= 1, got {self.k_ratio}")


@register
class GSMoE(Method):
    name = "gsmoe"
    paper = ("D'Amicantonio, Majhi, Kong, Garattoni, Francesca, Bremond, Bondarev, Mixture of Experts Guided by "
             "Gaussian Splatters Matters: A new Approach to Weakly-Supervised Video Anomaly Detection, ICCV 2025")
    official_code = "https://github.com/snehashismajhi/GS-MoE (no code released: paper-based port)"
    Config = GSMoEConfig
    inputs = InputSpec(pooling="linspace_mean", train_crops="each", test_crops="per_crop", official_dim=1024)
    search_space = {
        "lr": {"type": "loguniform", "low": 3e-5, "high": 1e-3},
        "weight_decay": {"type": "loguniform", "low": 1e-6, "high": 1e-2},
        "dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
        "k_ratio": {"type": "choice", "values": [4, 8, 16, 32]},
        "prominence": {"type": "uniform", "low": 0.05, "high": 0.5},
        "sigma_scale": {"type": "loguniform", "low": 0.5, "high": 4.0},
        "tgs": {"type": "loguniform", "low": 0.1, "high": 4.0},
        "expert": {"type": "loguniform", "low": 0.1, "high": 4.0},
        "gate": {"type": "choice", "values": ["attention", "soft"]},
        "tgs_source": {"type": "choice", "values": ["coarse", "self"]},
    }

    def __init__(self, config: GSMoEConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        w = config.task_dim
        self.num_experts = max(len(self.class_names) - 1, 1)               # one per anomaly class
        self.embedding = nn.Sequential(nn.Conv1d(feature_dim, w, kernel_size=3, padding=1), nn.ReLU())
        self.encoder = Transformer(w, 2, 4, w // 4, w, dropout=config.dropout)   # UR-DMU: 512, 2 layers, 4 heads
        self.coarse_head = nn.Sequential(nn.Linear(w, w // 4), nn.ReLU(), nn.Linear(w // 4, 1))
        self.experts = ClassExperts(self.num_experts, w, 2, config.dropout)
        self.gate = (AttentionGate(self.num_experts, w, config.dropout) if config.gate == "attention"
                     else SoftGate(self.num_experts, w))

    def forward(self, x: torch.Tensor) -> Output:
        b, c, t, d = x.shape
        h = self.embedding(x.reshape(b * c, t, d).transpose(1, 2)).transpose(1, 2)   # (N, T, w)
        h = self.encoder(h)                                                       # task-aware features
        coarse = torch.sigmoid(self.coarse_head(h).squeeze(-1))                  # (N, T)
        expert_logits = self.experts(h)                                          # (N, E, T)
        experts = torch.sigmoid(expert_logits)
        extras = {}
        if self.config.gate == "attention":
            scores = torch.sigmoid(self.gate(expert_logits, h))                  # (N, T)
        else:
            weights, route = self.gate(h)                                         # (N, T, E) each
            scores = (weights * experts.transpose(1, 2)).sum(-1)                 # Σ_e w_e s_e
            extras["weights"] = weights.view(b, c, t, -1).mean(1)               # (B, T, E)
            extras["route_logits"] = route.mean(1).view(b, c, -1).mean(1)       # (B, E) video routing

        def crops(z):  # (N, ...) → (B, ...) crop mean
            return z.view(b, c, *z.shape[1:]).mean(1)

        extras.update(coarse=crops(coarse), experts=crops(experts))
        return Output(crops(scores), extras)

    def configure_optimizer(self):
        return torch.optim.AdamW(self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay), None

    def loss(self, output: Output, batch: Batch):
        cfg, n = self.config, batch.n_normal
        s, coarse, experts = output.scores, output.extras["coarse"], output.extras["experts"]   # (B,T) (B,T) (B,E,T)
        b, t = s.shape
        labels = batch.labels.to(s)
        abnormal = torch.arange(b, device=s.device) >= n                    # the Batch's normal-first order
        k = min(t // cfg.k_ratio + 1, t)

        def top_k(z):  # (..., T) → (...,) mean of the k largest
            return z.topk(k, dim=-1).values.mean(-1)

        def bce(p, y):
            return F.binary_cross_entropy(p, y, reduction="none")

        parts = {"mil": bce(top_k(s), labels).mean(),
                 "coarse": cfg.coarse * bce(top_k(coarse), labels).mean()}

        # Class experts: expert e learns the abnormal videos of class e+1 against every normal video.
        cls = batch.class_ids.to(s.device).long()
        cls = torch.where(abnormal & (cls >= 1) & (cls <= self.num_experts), cls, 0)   # unknown classes: none
        own = F.one_hot(cls, self.num_experts + 1)[:, 1:].bool()                        # (B, E)
        member = own | ~abnormal[:, None]
        per = bce(top_k(experts), own.to(s))                                            # (B, E)
        parts["expert_mil"] = cfg.expert * ((per * member).sum(0) / member.sum(0).clamp(min=1)).mean()

        # Temporal Gaussian Splatting on the abnormal videos (those whose source curve has a peak).
        idx = abnormal.nonzero().squeeze(1)
        source = coarse if cfg.tgs_source == "coarse" else s
        target, has_peak = temporal_gaussian_splatting(source[idx], cfg.prominence, cfg.sigma_scale)
        parts["tgs"] = cfg.tgs * masked_mean(bce(s[idx], target).mean(-1), has_peak, like=s)

        known = cls[idx] > 0
        own_curve = experts[idx, (cls[idx] - 1).clamp(min=0)]                           # (A, T) its class's expert
        if cfg.tgs_source == "self":
            target, has_peak = temporal_gaussian_splatting(own_curve, cfg.prominence, cfg.sigma_scale)
        parts["expert_tgs"] = cfg.expert * cfg.tgs * masked_mean(bce(own_curve, target).mean(-1),
                                                                  has_peak & known, like=s)
        if cfg.gate == "soft":
            route = output.extras["route_logits"][idx]                                  # (A, E)
            ce = F.cross_entropy(route, (cls[idx] - 1).clamp(min=0), reduction="none")
            parts["route"] = cfg.route * masked_mean(ce, known, like=s)
        return sum(parts.values()), parts


def masked_mean(values: torch.Tensor, mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Mean of `values` where `mask`; an empty mask gives a graph-connected zero."""
    if mask.any():
        return values[mask].mean()
    return like.sum() * 0.0
