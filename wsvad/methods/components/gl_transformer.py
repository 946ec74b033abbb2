"""UR-DMU's temporal transformer with global and local multi-head self-attention (GL-MHSA).

Zhou, Yu, Yang, Dual Memory Units with Uncertainty Regulation for Weakly Supervised Video
Anomaly Detection, AAAI 2023 (official translayer.py of henrryzh1/UR-DMU; BN-WVAD,
cool-xuan/BN-WVAD models/translayer.py, reuses it with dropout 0). Pre-norm blocks:

    x ← x + to_out([ softmax(q kᵀ / √d_h) v  ∥  A u ])      per head; q, k, v, u = to_qkv(LN(x))
    x ← x + FF(LN(x))                                        FF = Linear → GELU → Linear

The local half uses a fixed, parameter-free kernel over snippet distance,
    K[i, j] = exp(−|i − j| / e),   A[i, j] = K[i, j] / Σ_j' K[j, j'],
i.e. column j is divided by the sum of row j (translayer.py divides by `sum(-1)` broadcast along
the last axis); K is symmetric, so every column of A sums to 1. Kept exactly as official.

Module names follow translayer.py (`layers.{i}.0.norm`, `.fn.to_qkv`, `.fn.to_out.0`,
`layers.{i}.1.fn.net.0/.3`), so official state_dicts load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden_dim), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden_dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def local_kernel(t: int, device=None) -> torch.Tensor:
    """The fixed local attention A (T, T) described in the module docstring (fp32, as official)."""
    pos = torch.arange(1, t + 1, dtype=torch.float32, device=device)             # 1..T, exact
    dist = (pos[None, :] - pos[:, None]).abs()                                   # (T, T) |j − i|
    k = torch.exp(-dist / torch.exp(torch.ones((), device=device)))              # e in fp32, as official
    return k / k.sum(dim=1)[None, :]                                             # column j ÷ row-sum j


class Attention(nn.Module):
    """Global softmax attention on (q, k, v) and the fixed local kernel on u, concatenated per head."""

    def __init__(self, dim: int, heads: int = 8, dim_head: int = 64, dropout: float = 0.0):
        super().__init__()
        inner = dim_head * heads
        self.heads, self.dim_head = heads, dim_head
        self.scale = dim_head ** -0.5
        self.to_qkv = nn.Linear(dim, inner * 4, bias=False)
        # translayer.py projects unless heads == 1 and dim_head == dim (then Identity, no parameters)
        project = not (heads == 1 and dim_head == dim)
        self.to_out = nn.Sequential(nn.Linear(2 * inner, dim), nn.Dropout(dropout)) if project else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, T, dim)
        n, t, _ = x.shape
        q, k, v, u = (z.view(n, t, self.heads, self.dim_head).transpose(1, 2)
                      for z in self.to_qkv(x).chunk(4, dim=-1))                # 4 × (N, H, T, d_h)
        attn = torch.softmax((q @ k.transpose(-1, -2)) * self.scale, dim=-1)  # (N, H, T, T)
        out = torch.cat([attn @ v, local_kernel(t, x.device) @ u], dim=-1)     # (N, H, T, 2·d_h)
        return self.to_out(out.transpose(1, 2).reshape(n, t, -1))              # (N, T, dim)


class Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.ModuleList([PreNorm(dim, Attention(dim, heads, dim_head, dropout)),
                           PreNorm(dim, FeedForward(dim, mlp_dim, dropout))])
            for _ in range(depth)
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, T, dim)
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        return x
