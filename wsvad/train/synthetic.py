"""GV-VAD's synthetic sample loss scaling (SSLS): how much a batch's generated videos weigh.

Cai, Wang, Cai, Peng, GV-VAD: Exploring Video Generation for Weakly-Supervised Video Anomaly
Detection, 2025 (github.com/Sumutan/GV-VAD, train_tcc_difLR.py `train`, option_difLR.py `--VLR`,
`--Learnable_VLR`; model_tcc_triplet_v2_oral.py holds the learnable `VLR`). The batch loss is
split by the share of real and synthetic videos, and the synthetic share is scaled by VLR:

    loss' = loss · (frac_real + frac_synthetic · VLR)        frac_* = share of the batch's videos

VLR is fixed (swept over VLR_GRID = 0.1, 0.25, 0.5, 1) or learnable. VLR = 1 leaves the loss
unchanged; VLR = 0 ignores the synthetic videos' share (the official baselines run `--VLR 0`).

Deliberate differences from the official code:
- a learnable VLR is kept positive: it is exp(raw) with raw = log(vlr) at construction (so the
  starting factor equals the official one), where the official `nn.Parameter(VLR)` is unconstrained
  and can cross zero. Note that either way the gradient of the scaled loss w.r.t. VLR is
  loss · frac_synthetic ≥ 0, so a learnable VLR only ever shrinks (here towards 0, never below);
- the fractions are over the videos passed in. train_tcc_difLR.py reads `sources` from both
  loaders into one variable, so its masks end up covering only the abnormal half (the normal
  loader's `sources` is overwritten); pass `batch.synthetic[batch.n_normal:]` to mimic that,
  `batch.synthetic` for the whole batch (what the paper describes);
- the official `VLR_Strategy` warm-up multiplier (off by default) is not reproduced.
"""

from __future__ import annotations

import math

import torch
from torch import nn

VLR_GRID = (0.1, 0.25, 0.5, 1.0)  # the values runGV.sh sweeps (with and without --Learnable_VLR)


class SyntheticLossScaling(nn.Module):
    """`factor = frac_real + frac_synthetic · VLR`; multiply the batch loss by it."""

    def __init__(self, vlr: float = 1.0, learnable: bool = False):
        super().__init__()
        vlr = float(vlr)
        if not math.isfinite(vlr) or vlr < 0:
            raise ValueError(f"VLR must be a finite number >= 0, got {vlr}")
        self.learnable = bool(learnable)
        if self.learnable:
            if vlr == 0:
                raise ValueError("a learnable VLR is exp(raw) > 0: start it above 0")
            self.raw_vlr = nn.Parameter(torch.tensor(math.log(vlr)))   # VLR = exp(raw_vlr) > 0
        else:
            self.register_buffer("fixed_vlr", torch.tensor(vlr))

    @property
    def vlr(self) -> torch.Tensor:
        """The current VLR as a 0-d tensor (differentiable when learnable)."""
        return self.raw_vlr.exp() if self.learnable else self.fixed_vlr

    def forward(self, synthetic: torch.Tensor) -> torch.Tensor:
        """synthetic (B,) bool → the scalar loss factor (1 for an empty batch)."""
        vlr = self.vlr
        synthetic = synthetic.reshape(-1).to(device=vlr.device)
        if synthetic.numel() == 0:
            return torch.ones((), device=vlr.device, dtype=vlr.dtype)
        frac_synthetic = synthetic.to(vlr.dtype).mean()                # (,)
        return (1 - frac_synthetic) + frac_synthetic * vlr

    def extra_repr(self) -> str:
        return f"vlr={float(self.vlr.detach()):.4g}, learnable={self.learnable}"
