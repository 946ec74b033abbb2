"""RTFM: Robust Temporal Feature Magnitude learning (Tian et al., ICCV 2021).

Official code: github.com/tianyu0207/RTFM (model.py `Model`/`Aggregate`, train.py `RTFM_loss`,
`sparsity`, `smooth`). Module and parameter names follow model.py, so an official
`state_dict` loads unchanged (only a DataParallel `module.` prefix is stripped).

    features  = Dropout(Aggregate(x))                       # MTN: dilated convs + non-local, residual
    scores    = sigmoid(fc3(drop(relu(fc2(drop(relu(fc1(features))))))))   mean over crops
    magnitude = ||features_t||_2                            mean over crops
    top-k     = top-k snippets by magnitude × Dropout(1)    (k = 3)
    loss      = BCE(mean top-k score, video label)
              + α · mean((|m − ||mean_k f_abn||| + ||mean_k f_nor||)²)     (α 1e-4, m 100)
              + λ_sparse · ||s_abn||₂ + λ_smooth · Σ (s_abn[t+1] − s_abn[t])²    (8e-3, 8e-4)

Deliberate differences from the official code (numerically identical otherwise; see
tests/wsvad/methods/test_rtfm_golden.py):
- normal and abnormal counts come from the `Batch`, not the constructor's `batch_size`, and the
  official hard-coded 10 crops (`features[0:batch_size*10]`) follow the input's crop count;
- the per-crop Python loop that gathers top-k features is one batched `gather`
  (components/magnitude_top_k.py); the loss (components/rtfm_loss.py) pairs (crop, video) of the
  two halves in the margin term as the official crop-major concatenation does;
- the feature dimension D is taken from the feature set: `conv_4` reads D channels and `conv_5`
  writes D channels (officially both hard-coded to 2048 = I3D); with D = 2048 it is the same net;
- no `.cuda()` calls; the test path skips the (unused) top-k selection, so videos with T < 3 score.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from wsvad.methods.base import Batch, InputSpec, Method, MethodConfig, Output
from wsvad.methods.components.rtfm_loss import rtfm_loss_terms
from wsvad.methods.registry import register


def xavier_init(module: nn.Module) -> None:
    """model.py `weight_init`: Xavier-uniform weights and zero bias on every Conv and Linear."""
    name = module.__class__.__name__
    if "Conv" in name or "Linear" in name:
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            module.bias.data.fill_(0)


class NonLocalBlock1D(nn.Module):
    """Embedded-Gaussian-free non-local block (dot product / N), `sub_sample=False`, with BN on W."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.inter_channels = max(in_channels // 2, 1)
        self.g = nn.Conv1d(in_channels, self.inter_channels, kernel_size=1)
        self.W = nn.Sequential(nn.Conv1d(self.inter_channels, in_channels, kernel_size=1), nn.BatchNorm1d(in_channels))
        nn.init.constant_(self.W[1].weight, 0)  # the block starts as the identity
        nn.init.constant_(self.W[1].bias, 0)
        self.theta = nn.Conv1d(in_channels, self.inter_channels, kernel_size=1)
        self.phi = nn.Conv1d(in_channels, self.inter_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, C, T)
        g_x = self.g(x).transpose(1, 2)            # (N, T, C')
        theta_x = self.theta(x).transpose(1, 2)    # (N, T, C')
        phi_x = self.phi(x)                        # (N, C', T)
        f = theta_x @ phi_x                        # (N, T, T)
        y = (f / f.size(-1)) @ g_x                 # (N, T, C')
        return self.W(y.transpose(1, 2).contiguous()) + x


class Aggregate(nn.Module):
    """The Multi-scale Temporal Network: three dilated convs ∥ non-local branch, fused, residual."""

    def __init__(self, len_feature: int):
        super().__init__()
        self.len_feature = len_feature

        def dilated(d: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv1d(len_feature, 512, kernel_size=3, stride=1, dilation=d, padding=d),
                                 nn.ReLU(), nn.BatchNorm1d(512))

        self.conv_1, self.conv_2, self.conv_3 = dilated(1), dilated(2), dilated(4)
        self.conv_4 = nn.Sequential(nn.Conv1d(len_feature, 512, kernel_size=1, stride=1, padding=0, bias=False), nn.ReLU())
        self.conv_5 = nn.Sequential(nn.Conv1d(2048, len_feature, kernel_size=3, stride=1, padding=1, bias=False),
                                    nn.ReLU(), nn.BatchNorm1d(len_feature))
        self.non_local = NonLocalBlock1D(512)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, T, D)
        out = x.permute(0, 2, 1)                                                    # (N, D, T)
        residual = out
        out_d = torch.cat((self.conv_1(out), self.conv_2(out), self.conv_3(out)), dim=1)  # (N, 1536, T)
        out = self.non_local(self.conv_4(out))                                       # (N, 512, T)
        out = self.conv_5(torch.cat((out_d, out), dim=1))                            # (N, D, T)
        return (out + residual).permute(0, 2, 1)                                     # (N, T, D)


@dataclass
class RTFMConfig(MethodConfig):
    lr: float = 1e-3
    weight_decay: float = 0.005
    batch_size: int = 32
    segments: int = 32
    max_steps: int = 15000
    k: int = 3                   # num_segments // 10 in model.py
    dropout: float = 0.7
    margin: float = 100.0
    alpha: float = 1e-4          # weight of the feature-magnitude term
    sparsity: float = 8e-3       # lamda2 in train.py
    smooth: float = 8e-4         # lamda1 in train.py


@register
class RTFM(Method):
    name = "rtfm"
    paper = "Tian et al., Weakly-supervised Video Anomaly Detection with Robust Temporal Feature Magnitude Learning, ICCV 2021"
    official_code = "https://github.com/tianyu0207/RTFM"
    Config = RTFMConfig
    inputs = InputSpec(pooling="linspace_mean", train_crops="all", test_crops="forward", official_dim=2048)
    search_space = {
        "lr": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
        "weight_decay": {"type": "loguniform", "low": 1e-4, "high": 5e-2},
        "dropout": {"type": "uniform", "low": 0.3, "high": 0.8},
        "k": {"type": "int", "low": 1, "high": 8},
        "alpha": {"type": "loguniform", "low": 1e-5, "high": 1e-3},
        "margin": {"type": "choice", "values": [10.0, 50.0, 100.0, 200.0]},
        "sparsity": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
        "smooth": {"type": "loguniform", "low": 1e-5, "high": 1e-2},
    }

    def __init__(self, config: RTFMConfig, feature_dim: int, class_names: list[str] | None = None):
        super().__init__(config, feature_dim, class_names)
        self.Aggregate = Aggregate(feature_dim)
        self.fc1 = nn.Linear(feature_dim, 512)
        self.fc2 = nn.Linear(512, 128)
        self.fc3 = nn.Linear(128, 1)
        self.drop_out = nn.Dropout(config.dropout)
        self.apply(xavier_init)

    def forward(self, x: torch.Tensor) -> Output:
        b, c, t, d = x.shape
        features = self.drop_out(self.Aggregate(x.reshape(b * c, t, d)))     # (B·C, T, D)
        h = self.drop_out(F.relu(self.fc1(features)))
        h = self.drop_out(F.relu(self.fc2(h)))
        scores = torch.sigmoid(self.fc3(h)).view(b, c, t).mean(1)           # (B, T)
        magnitudes = features.norm(p=2, dim=2).view(b, c, t).mean(1)        # (B, T)
        return Output(scores, {"features": features.view(b, c, t, d), "magnitudes": magnitudes})

    def loss(self, output: Output, batch: Batch):
        parts = rtfm_loss_terms(output, batch, self.config, self.drop_out, "RTFM")
        return sum(parts.values()), parts
