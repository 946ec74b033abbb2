"""MGFN: Magnitude-Contrastive Glance-and-Focus Network (Chen et al., AAAI 2023).

Official code: github.com/carolchenyx/MGFN. (trailing dot in the name), commit 98e9389:
models/mgfn.py (`mgfn`, `Backbone`, `MSNSD`), utils/utils.py (`LayerNorm`, `FeedForward`,
`GLANCE`, `FOCUS`), train.py (`mgfn_loss`, `ContrastiveLoss`, `sparsity`, `smooth`),
datasets/dataset.py (the magnitude channel), test.py (the test path). Module and parameter names
follow the official ones, so an official `state_dict` loads unchanged (a DataParallel `module.`
prefix is stripped, as test.py does).

    m_t   = ||x_t||₂                                        feature magnitude of each crop's snippet
    h     = Conv₃(x) + mag_ratio · Conv₃(m)                  to_tokens, to_mag (mag_ratio 0.1)
    stage s ∈ {1, 2, 3} (dims 64, 128, 1024; depths 3, 3, 2; Glance, Focus, Focus), per block:
          h ← h + SCC(h)                                     3-tap conv
          h ← h + GLANCE(h)  = to_out(softmax(q kᵀ/√d) v),    q, k, v = to_qkv(LN(h)), heads dim/64
           or h + FOCUS(h)   = to_out(DWConv₅(to_v(BN(h))))  depthwise over heads (channel % heads)
          h ← h + FF(h)      = Conv₁(GELU(Conv₁(LN(h))))      ×4 expansion
          then LN + Conv₁ to the next stage's width
    f     = LayerNorm(h)                                     (B·C, T, 1024): the magnitude features
    s     = sigmoid(fc(f))                                   mean over crops
    top-k = top-k snippets by ||f_t||₂ (crop mean) × Dropout(1)   (k = 3, p = 0.7)
    loss  = BCE(mean top-k score, y)
          + λ (λ_sep·MC(A, N; 1) + MC(A₂, A₁; 0) + MC(N₂, N₁; 0))          (λ = λ_sep = 1e-3)
          + 8e-3 · ||s_normal||₂ + 8e-4 · Σ_videos Σ_t (s[t+1] − s[t])²
    MC(a, b; y) = mean((1 − y) d² + y · max(0, m − d)²),  d = ||‖a‖₁ − ‖b‖₁||₂ per row   (m = 200)
    where A, N are the top-k features of the abnormal / normal videos, crop-major (C·n, k, F),
    ‖·‖₁ is over channels, and X₁, X₂ are the first and second halves of those rows.

The sparsity term reads the *normal* half's scores and the smoothness term *every* video's
scores (train.py `sparsity(scores[:batch_size])`, `smooth(scores)`), unlike RTFM.

Deliberate differences from the official code (numerically identical otherwise; see
tests/wsvad/methods/test_mgfn_golden.py):
- the magnitude channel is computed here from the plain (C, T, D) features (float32 L2 norm over
  channels, per crop and snippet) instead of being appended by the data loader, so users feed
  plain features; the official loader computes it from the raw test features and from the
  32-segment-pooled training features, which is what `forward` sees in both cases;
- normal and abnormal counts come from the `Batch`, not `args.batch_size`, and the hard-coded
  10 crops (`features[0:batch_size * 10]`) follow the input's crop count;
- the per-crop loops gathering top-k features are one batched `gather` (components/magnitude_top_k);
- the feature dimension D is taken from the feature set: `to_tokens` reads D channels (officially
  `x[:, :2048]`); the widths, depths and block types are Config options (defaults official);
- the same-class contrastive terms split the (C·n) top-k rows into halves of ⌊C·n/2⌋ rows; for
  an odd count the last row is left out (officially the halves then differ in length and
  `pairwise_distance` fails or broadcasts), and with a single row the terms are 0;
- the FeedForward's `nn.Dropout(0.)` (a no-op, `mgfn(dropout=0.)`) is an `nn.Identity` placeholder;
- no `.cuda()` calls; the test path skips the (unused) top-k selection, so videos with T < 3 score.
The official loaders are not shuffled (main.py `shuffle=False`); neither are ours (`InputSpec(shuffle=False)`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wsvad.errors import ConfigError
from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.components.magnitude_top_k import gather_crop_major, select_top_k
from wsvad.methods.registry import register


class LayerNorm(nn.Module):
    """utils.LayerNorm: over the channels of (N, C, T), std (biased) plus eps, outside the sqrt."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1, dim, 1))
        self.b = nn.Parameter(torch.zeros(1, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, C, T)
        std = torch.var(x, dim=1, unbiased=False, keepdim=True).sqrt()
        mean = torch.mean(x, dim=1, keepdim=True)
        return (x - mean) / (std + self.eps) * self.g + self.b


def FeedForward(dim: int, repe: int = 4) -> nn.Sequential:
    """LN → 1×1 conv (×repe) → GELU → (Dropout(0): no-op) → 1×1 conv; indices as the official."""
    return nn.Sequential(LayerNorm(dim), nn.Conv1d(dim, dim * repe, 1), nn.GELU(), nn.Identity(),
                         nn.Conv1d(dim * repe, dim, 1))


class GLANCE(nn.Module):
    """Global multi-head self-attention over snippets (the Glance block)."""

    def __init__(self, dim: int, heads: int, dim_head: int = 64):
        super().__init__()
        self.heads = heads
        self.scale = dim_head ** -0.5
        inner_dim = dim_head * heads
        self.norm = LayerNorm(dim)
        self.to_qkv = nn.Conv1d(dim, inner_dim * 3, 1, bias=False)
        self.to_out = nn.Conv1d(inner_dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, C, T)
        n, _, t = x.shape
        q, k, v = self.to_qkv(self.norm(x)).chunk(3, dim=1)                  # 3 × (N, h·d, T)
        q, k, v = (z.reshape(n, self.heads, -1, t).transpose(2, 3) for z in (q, k, v))  # (N, h, T, d)
        attn = ((q * self.scale) @ k.transpose(2, 3)).softmax(dim=-1)        # (N, h, T, T)
        out = (attn @ v).transpose(2, 3).reshape(n, -1, t)                   # (N, h·d, T)
        return self.to_out(out)


class FOCUS(nn.Module):
    """Local depthwise temporal conv on the value heads (the Focus block)."""

    def __init__(self, dim: int, heads: int, dim_head: int = 64, local_aggr_kernel: int = 5):
        super().__init__()
        self.heads = heads
        inner_dim = dim_head * heads
        self.norm = nn.BatchNorm1d(dim)
        self.to_v = nn.Conv1d(dim, inner_dim, 1, bias=False)
        self.rel_pos = nn.Conv1d(heads, heads, local_aggr_kernel, padding=local_aggr_kernel // 2, groups=heads)
        self.to_out = nn.Conv1d(inner_dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, C, T)
        n, _, t = x.shape
        v = self.to_v(self.norm(x))                                          # (N, d·h, T)
        # official rearrange 'b (c h) t -> (b c) h t': the head is the fast channel index
        out = self.rel_pos(v.reshape(-1, self.heads, t))                     # (N·d, h, T)
        return self.to_out(out.reshape(n, -1, t))                            # (N, C, T)


class Backbone(nn.Module):
    """`depth` residual blocks [SCC conv, Glance or Focus, FeedForward] at one width."""

    def __init__(self, dim: int, depth: int, heads: int, mgfn_type: str, kernel: int = 5,
                 dim_headnumber: int = 64, ff_repe: int = 4):
        super().__init__()

        def attention() -> nn.Module:
            if mgfn_type == "fb":
                return FOCUS(dim, heads=heads, dim_head=dim_headnumber, local_aggr_kernel=kernel)
            return GLANCE(dim, heads=heads, dim_head=dim_headnumber)

        self.layers = nn.ModuleList(
            nn.ModuleList([nn.Conv1d(dim, dim, 3, padding=1), attention(), FeedForward(dim, repe=ff_repe)])
            for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, C, T)
        for scc, attention, ff in self.layers:
            x = scc(x) + x
            x = attention(x) + x
            x = ff(x) + x
        return x


@dataclass
class MGFNConfig(MethodConfig):
    lr: float = 1e-3
    weight_decay: float = 5e-4
    batch_size: int = 16
    segments: int = 32
    max_steps: int = 0
    max_epochs: int = 1000           # main.py: --max-epoch 1000 passes over the (unshuffled) loaders
    k: int = 3                       # hard-coded in mgfn.forward
    dropout: float = 0.7             # --dropout_rate: the top-k selection mask only
    mag_ratio: float = 0.1           # --mag_ratio: weight of the magnitude channel's tokens
    margin: float = 200.0            # ContrastiveLoss(margin=200)
    contrastive: float = 1e-3        # λ: weight of the three magnitude-contrastive terms
    separate: float = 1e-3           # λ_sep: extra weight of the abnormal-vs-normal term
    sparsity: float = 8e-3           # on the normal half's scores
    smooth: float = 8e-4             # on every video's scores
    dims: tuple[int, ...] = (64, 128, 1024)
    depths: tuple[int, ...] = (3, 3, 2)
    mgfn_types: tuple[str, ...] = ("gb", "fb", "fb")   # gb = Glance, fb = Focus
    dim_head: int = 64
    ff_repe: int = 4
    lokernel: int = 5

    def validate(self) -> None:
        if not (len(self.dims) == len(self.depths) == len(self.mgfn_types)) or not self.dims:
            raise ConfigError(f"mgfn: dims {self.dims}, depths {self.depths} and mgfn_types {self.mgfn_types} "
                              f"must have the same (non-zero) length")
        if any(d < self.dim_head for d in self.dims):
            raise ConfigError(f"mgfn: every stage width in dims {self.dims} must be >= dim_head {self.dim_head} "
                              f"(heads = width // dim_head)")
        bad = [t for t in self.mgfn_types if t not in ("gb", "fb")]
        if bad:
            raise ConfigError(f"mgfn: mgfn_types must be 'gb' (Glance) or 'fb' (Focus), got {bad}")


@register
class MGFN(Method):
    name = "mgfn"
    paper = ("Chen, Liu, Zhang, Fok, Qi, Wu, MGFN: Magnitude-Contrastive Glance-and-Focus Network for "
             "Weakly-Supervised Video Anomaly Detection, AAAI 2023")
    official_code = "https://github.com/carolchenyx/MGFN."
    Config = MGFNConfig
    inputs = InputSpec(pooling="linspace_mean", train_crops="all", test_crops="forward", official_dim=2048,
                       shuffle=False)
    search_space = {
        "lr": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
        "weight_decay": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
        "dropout": {"type": "uniform", "low": 0.3, "high": 0.8},
        "k": {"type": "int", "low": 1, "high": 8},
        "mag_ratio": {"type": "loguniform", "low": 1e-2, "high": 1.0},
        "margin": {"type": "choice", "values": [50.0, 100.0, 200.0, 400.0]},
        "contrastive": {"type": "loguniform", "low": 1e-4, "high": 1e-2},
        "sparsity": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
        "smooth": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
    }

    def __init__(self, config: MGFNConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        config.validate()
        dims = config.dims
        self.to_tokens = nn.Conv1d(feature_dim, dims[0], kernel_size=3, stride=1, padding=1)
        self.to_mag = nn.Conv1d(1, dims[0], kernel_size=3, stride=1, padding=1)
        self.stages = nn.ModuleList()
        for i, (dim, depth, kind) in enumerate(zip(dims, config.depths, config.mgfn_types)):
            backbone = Backbone(dim, depth, heads=dim // config.dim_head, mgfn_type=kind, kernel=config.lokernel,
                                dim_headnumber=config.dim_head, ff_repe=config.ff_repe)
            to_next = nn.Sequential(LayerNorm(dim), nn.Conv1d(dim, dims[i + 1], 1)) if i + 1 < len(dims) else None
            self.stages.append(nn.ModuleList([backbone, to_next]))
        self.to_logits = nn.Sequential(nn.LayerNorm(dims[-1]))
        self.fc = nn.Linear(dims[-1], 1)
        self.drop_out = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> Output:
        b, c, t, d = x.shape
        x = x.reshape(b * c, t, d)
        magnitude = x.norm(p=2, dim=2, keepdim=True)                             # (B·C, T, 1): the loader's channel
        h = self.to_tokens(x.transpose(1, 2))                                     # (B·C, 64, T)
        h = h + self.config.mag_ratio * self.to_mag(magnitude.transpose(1, 2))
        for backbone, to_next in self.stages:
            h = backbone(h)
            if to_next is not None:
                h = to_next(h)
        features = self.to_logits(h.transpose(1, 2))                              # (B·C, T, F)
        scores = torch.sigmoid(self.fc(features)).view(b, c, t).mean(1)          # (B, T)
        magnitudes = features.norm(p=2, dim=2).view(b, c, t).mean(1)             # (B, T)
        return Output(scores, {"features": features.view(b, c, t, -1), "magnitudes": magnitudes})

    def select_top_k(self, magnitudes: torch.Tensor) -> torch.Tensor:
        return select_top_k(magnitudes, self.config.k, self.drop_out)

    def loss(self, output: Output, batch: Batch):
        cfg, n = self.config, batch.n_normal
        if batch.n_abnormal != n:
            raise ValueError("MGFN's magnitude-contrastive loss pairs normal and abnormal videos: use equal batch halves")
        scores, feats, mags = output.scores, output.extras["features"], output.extras["magnitudes"]
        # Official order of the two dropout draws: abnormal selection first, then normal.
        idx_abn = self.select_top_k(mags[n:])
        idx_nor = self.select_top_k(mags[:n])
        score_abn = scores[n:].gather(1, idx_abn).mean(1)                       # (n,)
        score_nor = scores[:n].gather(1, idx_nor).mean(1)
        label = torch.cat((torch.zeros_like(score_nor), torch.ones_like(score_abn)))
        cls = F.binary_cross_entropy(torch.cat((score_nor, score_abn)), label)

        l1_abn = gather_crop_major(feats[n:], idx_abn).norm(p=1, dim=2)         # (C·n, k)
        l1_nor = gather_crop_major(feats[:n], idx_nor).norm(p=1, dim=2)
        half = l1_abn.shape[0] // 2

        def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return F.pairwise_distance(a, b, keepdim=True)                       # (rows, 1), eps 1e-6 as official

        separate = (torch.clamp(cfg.margin - distance(l1_abn, l1_nor), min=0.0) ** 2).mean()
        if half > 0:
            cluster_abn = (distance(l1_abn[half:2 * half], l1_abn[:half]) ** 2).mean()
            cluster_nor = (distance(l1_nor[half:2 * half], l1_nor[:half]) ** 2).mean()
        else:
            cluster_abn = cluster_nor = scores.new_zeros(())

        nor_scores = scores[:n].reshape(-1)
        parts = {
            "cls": cls,
            "contrastive_separate": cfg.contrastive * cfg.separate * separate,
            "contrastive_abnormal": cfg.contrastive * cluster_abn,
            "contrastive_normal": cfg.contrastive * cluster_nor,
            "sparsity": cfg.sparsity * nor_scores.norm(dim=0),
            "smooth": cfg.smooth * ((scores[:, 1:] - scores[:, :-1]) ** 2).sum(),
        }
        return sum(parts.values()), parts
