"""Temporal MAE: a one-class masked autoencoder over windows of snippet features, with a temporal
InfoNCE head and an optional forecasting head, for video anomaly detection.

Seed: ../shared/seeds/temporal-mae-object-level.txt ("Temporal MAE for Object-Level Video Anomaly
Detection", a project summary). There is no paper. Its public code is github.com/medicalissue/TRAP
(models/temporal_mae.py, projection_heads.py, losses.py; configs/model.yaml, train.yaml, eval.yaml;
train.py, eval.py), which works on object tracks (YOLOv8 + ByteTrack + RoI pooling); here the
sequence is a video's snippet features and a time step is a snippet (16 frames), not a frame.
docs/methods/temporal_mae.md lists every assumption and every difference from that code.

    e_t  = Linear_D→d(x_t), or the learned mask token m where t is masked;  e += PE_sin(t); dropout
    h    = LN(Block^depth(e))          Block: x + MHSA(LN(x)), then x + MLP(LN(x)) (GELU, ×4, dropout)
    x̂_t = Linear(LN(GELU(Linear(h_t))))          reconstruction head, d → 2d → D
    z_t  = normalize(Linear(GELU(Linear(h_t))))   contrastive head, d → d → 128, unit sphere
    f    = MLP(h_{W−1}) → x̂_{W−s..W−1}           forecasting head (s = forecast_steps, 0 = off)

    loss = λ_mae · Σ_{masked ∧ valid t} ‖x̂_t − x_t‖²/D / #(masked ∧ valid)       (MSE, masked only)
         + λ_cl  · InfoNCE(z_t → z_{t+1}, negatives z_{j,t+1}; τ)    components/temporal_infonce.py
         + λ_f   · Σ_valid ‖f_t − x_t‖²/D / #valid over the last s snippets    (only when s > 0)

Training windows: W = `segments` = 16 consecutive snippets of the normal training videos
(Method.one_class; wsvad.train.bags.WindowSampler); ⌊W·(1 − r)⌋ random snippets stay visible,
the rest (r = 0.75) are replaced by the mask token; with forecasting the last s are always masked.

Test (`score`), one score per snippet of a whole video of any length T ≥ 1:
    windows   stride `test_stride` (1) over the video, a video shorter than W padded by repeating
              its last snippet (components/window_scoring.py)
    e_w       mean reconstruction error of the window's snippets, each reconstructed while masked:
              K = round(1/(1 − r)) strided masks (mask k hides every position p with p mod K ≠ k)
    sim_w     mean cosine similarity of the contrastive embeddings z of adjacent snippets of the
              window, averaged over the K masks (eval.py's temporal similarity, there of the inputs)
    score_w   = α · sigmoid(e_w) + (1 − α) · (1 − sim_w)      (losses.py compute_anomaly_score)
    snippet   = mean over the windows covering it, then EWMA along time (β), crops averaged

Deliberate differences from the seed's code (each also an option where the seed's choice is kept):
- a Linear D → d_model embeds the snippet features (the seed's tokens are d_model-dim RoI-pooled
  features made by its trainable pooling module), and the reconstruction target is the raw
  snippet feature (the seed reconstructs its own pooled input);
- a window shorter than W is padded by repeating its last snippet and the padded steps get no loss
  and no score (the seed zero-pads and masks attention: our `forward(x)` contract carries no lengths);
- test reconstruction error is taken under the strided masks, where the seed scores an unmasked
  forward whose reconstruction head was trained on masked steps only (`test_mask="none"` is the seed's);
- the similarity term compares the learned embeddings z, where the seed's eval.py compares the input
  features (`similarity="features"`): a new object in view makes adjacent inputs *more* alike, so
  that term ranks it as normal (toy frame AUC 0.23 alone, docs/methods/temporal_mae.md);
- snippet scores are the *mean* of the covering windows (the issue's choice; the seed's eval.yaml
  says `aggregation: max`, meant for several objects in one frame: `aggregate="max"`), no per-video
  min-max normalisation (the seed normalises each test video to [0, 1]; `video_minmax=True`);
- the forecasting head, declared but never trained in the seed (train.py passes no future target),
  forecasts the last s snippets of the window, which are always masked, from the last token;
- the cosine schedule steps once per epoch after `warmup_epochs` constant epochs (train.py) and
  stays at `min_lr` after `max_epochs` (CosineAnnealingLR would rise again).
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
from wsvad.methods.components.temporal_infonce import adjacent_infonce
from wsvad.methods.components.window_scoring import ewma, window_index, window_starts, windows_to_snippets
from wsvad.methods.registry import register

SCORE_CHUNK = 512  # windows per encoder call when scoring (× the K test masks)


@dataclass
class TemporalMAEConfig(MethodConfig):
    # configs/train.yaml: AdamW 1e-4 (wd 1e-4), batch 64, 50 epochs, cosine after 5 warm-up epochs
    # to 1e-6, gradient clipping 1.0 (train.py)
    lr: float = 1e-4
    weight_decay: float = 1e-4
    batch_size: int = 64           # windows per step (one-class: no normal/abnormal sides)
    segments: int = 16             # W, the window length in snippets (model.yaml seq_length)
    max_steps: int = 0
    max_epochs: int = 50           # an epoch is every stride-1 window of the normal training videos once
    grad_clip: float = 1.0
    warmup_epochs: int = 5
    min_lr: float = 1e-6
    # configs/model.yaml
    d_model: int = 256
    depth: int = 6
    heads: int = 8
    mlp_ratio: float = 4.0
    dropout: float = 0.1           # positional-encoding, attention and MLP dropout (both 0.1 there)
    mask_ratio: float = 0.75
    proj_dim: int = 128
    temperature: float = 0.07      # contrastive.temperature
    forecast_steps: int = 0        # heads.use_forecasting: false (forecasting_steps: 4 when on)
    # train.yaml losses
    lambda_mae: float = 1.0
    lambda_cl: float = 0.3
    lambda_forecast: float = 0.1
    # eval.yaml scoring
    alpha: float = 0.5
    beta: float = 0.9
    # ours where the seed's eval.py differs (docstring): "features", "none", "max", True are its choices
    similarity: Literal["features", "embeddings"] = "embeddings"
    test_mask: Literal["strided", "none"] = "strided"
    test_stride: int = 1
    aggregate: Literal["mean", "max"] = "mean"
    video_minmax: bool = False

    def validate(self) -> None:
        problems = []
        if self.d_model % self.heads:
            problems.append(f"d_model ({self.d_model}) must be a multiple of heads ({self.heads})")
        if not 0 < self.mask_ratio < 1:
            problems.append(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if self.segments < 2:
            problems.append(f"segments (the window) must be >= 2, got {self.segments}")
        if not 0 <= self.forecast_steps < self.segments:
            problems.append(f"forecast_steps must be in [0, segments), got {self.forecast_steps}")
        if not 0 <= self.alpha <= 1:
            problems.append(f"alpha must be in [0, 1], got {self.alpha}")
        if not 0 <= self.beta < 1:
            problems.append(f"beta must be in [0, 1), got {self.beta}")
        if self.temperature <= 0 or self.test_stride < 1 or self.depth < 1:
            problems.append("temperature must be > 0, test_stride and depth >= 1")
        if problems:
            raise ConfigError("temporal_mae: " + "; ".join(problems))


def sinusoidal_encoding(t: int, d: int, device=None) -> torch.Tensor:
    """(T, d): PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos(·), as PositionalEncoding."""
    position = torch.arange(t, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / d))
    pe = torch.zeros(t, d, device=device)
    pe[:, 0::2] = torch.sin(position * freq)
    pe[:, 1::2] = torch.cos(position * freq)[:, : d // 2]
    return pe


def strided_masks(window: int, mask_ratio: float, device=None) -> torch.Tensor:
    """(K, W) bool test masks, K = max(2, round(1/(1 − r))): mask k hides positions p mod K ≠ k, so
    about a fraction r of each window is hidden and every position is hidden by K − 1 of them."""
    k = max(2, round(1 / (1 - mask_ratio)))
    p = torch.arange(window, device=device)
    return (p[None] % k) != torch.arange(k, device=device)[:, None]


def adjacent_cosine(v: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine of adjacent steps (N, T−1) of v (N, T, E) and whether both steps are valid (N, T−1)."""
    return F.cosine_similarity(v[:, :-1], v[:, 1:], dim=-1), valid[:, :-1] & valid[:, 1:]


def window_similarity(v: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean adjacent cosine similarity of each window (N,); 1 for a window with < 2 valid steps (eval.py)."""
    cos, ok = adjacent_cosine(v, valid)
    n = ok.sum(1)
    mean = (cos * ok).sum(1) / n.clamp(min=1)
    return torch.where(n > 0, mean, torch.ones_like(mean))


def step_similarity(v: torch.Tensor) -> torch.Tensor:
    """Per-step similarity (N, T): mean cosine with its neighbours (1 when T = 1)."""
    n, t = v.shape[:2]
    if t < 2:
        return torch.ones(n, t, dtype=v.dtype, device=v.device)
    cos = F.cosine_similarity(v[:, :-1], v[:, 1:], dim=-1)                 # (N, T−1)
    total = F.pad(cos, (1, 0)) + F.pad(cos, (0, 1))                        # (N, T)
    count = torch.full((t,), 2.0, dtype=v.dtype, device=v.device)
    count[0] = count[-1] = 1.0
    return total / count


class Block(nn.Module):
    """Pre-norm transformer encoder block (TransformerEncoderBlock in models/temporal_mae.py)."""

    def __init__(self, d: int, heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        hidden = int(d * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, d), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, T, d)
        h = self.norm1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


@register
class TemporalMAE(Method):
    name = "temporal_mae"
    paper = ("Temporal MAE for Object-Level Video Anomaly Detection (project summary, no paper; "
             "one-class: trained on normal videos only)")
    official_code = "https://github.com/medicalissue/TRAP (the seed's public code; no paper's official code)"
    Config = TemporalMAEConfig
    one_class = True
    # pooling is unused (one-class training reads windows, never pooled bags); one random crop per
    # training window; at test every crop is scored on its own and the snippet scores averaged
    inputs = InputSpec(pooling="linspace_mean", train_crops="random", test_crops="per_crop")
    search_space = {
        "lr": {"type": "loguniform", "low": 3e-5, "high": 1e-3},
        "weight_decay": {"type": "loguniform", "low": 1e-6, "high": 1e-2},
        "depth": {"type": "int", "low": 1, "high": 6},
        "heads": {"type": "choice", "values": [2, 4, 8]},
        "d_model": {"type": "choice", "values": [64, 128, 256]},
        "mask_ratio": {"type": "uniform", "low": 0.5, "high": 0.9},
        "lambda_cl": {"type": "loguniform", "low": 0.03, "high": 1.0},
        "temperature": {"type": "loguniform", "low": 0.03, "high": 0.3},
        "forecast_steps": {"type": "choice", "values": [0, 4]},
        "lambda_forecast": {"type": "loguniform", "low": 0.01, "high": 1.0},
        "alpha": {"type": "uniform", "low": 0.0, "high": 1.0},
        "beta": {"type": "uniform", "low": 0.0, "high": 0.95},
    }

    def __init__(self, config: TemporalMAEConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        d = config.d_model
        self.embed = nn.Linear(feature_dim, d)
        self.mask_token = nn.Parameter(torch.randn(d))
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(d, config.heads, config.mlp_ratio, config.dropout) for _ in range(config.depth)])
        self.norm = nn.LayerNorm(d)
        self.reconstruct = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.LayerNorm(2 * d), nn.Linear(2 * d, feature_dim))
        self.project = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, config.proj_dim))
        s = config.forecast_steps
        self.forecaster = (nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.LayerNorm(2 * d), nn.Linear(2 * d, feature_dim * s))
                           if s else None)

    # --- the encoder --------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (N, T, D), mask (N, T) bool (True = hidden) → h (N, T, d)."""
        e = self.embed(x)                                                       # (N, T, d)
        e = torch.where(mask[..., None], self.mask_token.to(e.dtype), e)
        e = self.drop(e + sinusoidal_encoding(x.shape[1], e.shape[-1], x.device))
        for block in self.blocks:
            e = block(e)
        return self.norm(e)

    def random_mask(self, n: int, t: int, device) -> torch.Tensor:
        """(N, T) bool: ⌊T·(1 − r)⌋ random steps of each window stay visible (random_masking)."""
        keep = int(t * (1 - self.config.mask_ratio))
        rank = torch.rand(n, t, device=device).argsort(1).argsort(1)           # a random permutation per row
        mask = rank >= keep
        if self.config.forecast_steps:
            mask[:, t - self.config.forecast_steps:] = True                    # the forecast target stays hidden
        return mask

    # --- training -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> Output:
        b, c, t, d = x.shape
        seq = x.reshape(b * c, t, d)                                            # every crop its own window
        mask = self.random_mask(b * c, t, x.device)                             # (N, T)
        h = self.encode(seq, mask)                                              # (N, T, d_model)
        recon = self.reconstruct(h)                                             # (N, T, D)
        z = F.normalize(self.project(h), dim=-1)                               # (N, T, P)
        extras = {"target": seq, "recon": recon, "mask": mask, "z": z, "crops": c}
        if self.forecaster is not None:
            extras["forecast"] = self.forecaster(h[:, -1]).view(b * c, self.config.forecast_steps, d)
        # the training view of the score, per snippet under this random mask (the test path is `score`)
        cfg = self.config
        err = ((recon - seq) ** 2).mean(-1)                                     # (N, T)
        sim = step_similarity(seq if cfg.similarity == "features" else z)      # (N, T)
        scores = cfg.alpha * torch.sigmoid(err) + (1 - cfg.alpha) * (1 - sim)
        return Output(scores.view(b, c, t).mean(1), extras)

    def loss(self, output: Output, batch: Batch):
        cfg, ex = self.config, output.extras
        target, recon, mask = ex["target"], ex["recon"], ex["mask"]
        n, t, _ = target.shape
        lengths = batch.lengths.to(target.device).repeat_interleave(ex["crops"])   # (N,)
        valid = torch.arange(t, device=target.device)[None] < lengths[:, None]     # (N, T): padding excluded
        hidden = mask & valid
        err = ((recon - target) ** 2).mean(-1)                                       # (N, T)
        parts = {
            "mae": cfg.lambda_mae * (err * hidden).sum() / hidden.sum().clamp(min=1),
            "contrastive": cfg.lambda_cl * adjacent_infonce(ex["z"], valid, cfg.temperature),
        }
        if "forecast" in ex:
            s = cfg.forecast_steps
            ok = valid[:, t - s:]
            f_err = ((ex["forecast"] - target[:, t - s:]) ** 2).mean(-1)           # (N, s)
            parts["forecast"] = cfg.lambda_forecast * (f_err * ok).sum() / ok.sum().clamp(min=1)
        return sum(parts.values()), parts

    def configure_optimizer(self):
        cfg = self.config
        opt = torch.optim.AdamW(self.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, self.lr_factor)

    def lr_factor(self, epoch: int) -> float:
        """lr multiplier after `epoch` finished epochs: 1 for the warm-up epochs, then a cosine to
        min_lr over the remaining max_epochs − warmup_epochs; constant without an epoch budget."""
        cfg = self.config
        if cfg.max_epochs <= 0:
            return 1.0
        t_max = max(1, cfg.max_epochs - cfg.warmup_epochs)
        e = min(max(0, epoch - cfg.warmup_epochs), t_max)
        floor = cfg.min_lr / cfg.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * e / t_max))

    # --- test -------------------------------------------------------------------------------
    @torch.no_grad()
    def window_scores(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Anomaly score (N,) of windows x (N, W, D) with valid steps (N, W)."""
        cfg = self.config
        n, w, d = x.shape
        if cfg.test_mask == "strided":
            masks = strided_masks(w, cfg.mask_ratio, x.device)                      # (K, W)
        else:
            masks = torch.zeros(1, w, dtype=torch.bool, device=x.device)
        k = masks.shape[0]
        xk = x[None].expand(k, n, w, d).reshape(k * n, w, d)
        h = self.encode(xk, masks[:, None].expand(k, n, w).reshape(k * n, w))    # (K·N, W, d_model)
        err = ((self.reconstruct(h) - xk) ** 2).mean(-1).view(k, n, w)
        counted = valid[None] & (masks[:, None] if cfg.test_mask == "strided" else True)   # (K, N, W)
        e = (err * counted).sum((0, 2)) / counted.sum((0, 2)).clamp(min=1)              # (N,)
        if cfg.similarity == "features":
            sim = window_similarity(x, valid)
        else:
            z = F.normalize(self.project(h), dim=-1)                                  # (K·N, W, P)
            sim = window_similarity(z, valid.repeat(k, 1)).view(k, n).mean(0)
        return cfg.alpha * torch.sigmoid(e) + (1 - cfg.alpha) * (1 - sim)

    @torch.no_grad()
    def score(self, video: torch.Tensor) -> torch.Tensor:
        """Snippet scores (T,) of one whole video (C, T, D): sliding windows, mean over the windows
        covering each snippet, mean over crops, EWMA along time."""
        cfg = self.config
        c, t, d = video.shape
        w = cfg.segments
        starts = window_starts(t, w, cfg.test_stride)                               # (n,)
        idx, valid = window_index(t, w, starts)                                     # (n, W)
        windows = video[:, idx.to(video.device)].reshape(-1, w, d)                  # (C·n, W, D)
        valid = valid.to(video.device).repeat(c, 1)                                 # (C·n, W)
        scores = torch.cat([self.window_scores(windows[i: i + SCORE_CHUNK], valid[i: i + SCORE_CHUNK])
                            for i in range(0, windows.shape[0], SCORE_CHUNK)])
        snippets = windows_to_snippets(scores.view(c, -1), starts, w, t, cfg.aggregate).mean(0)   # (T,)
        smoothed = ewma(snippets, cfg.beta)
        if cfg.video_minmax:
            lo, hi = smoothed.min(), smoothed.max()
            smoothed = (smoothed - lo) / (hi - lo) if hi > lo else torch.zeros_like(smoothed)
        return smoothed
