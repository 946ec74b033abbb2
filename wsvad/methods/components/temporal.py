"""UR-DMU's snippet embedding (model.py `Temporal`), reused by BN-WVAD: Conv1d(k=3, pad 1) + ReLU along time.

The module name `conv_1` follows the official code, so `embedding.conv_1.0.*` keys load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class Temporal(nn.Module):
    def __init__(self, input_size: int, out_size: int):
        super().__init__()
        self.conv_1 = nn.Sequential(nn.Conv1d(input_size, out_size, kernel_size=3, stride=1, padding=1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (N, T, D)
        return self.conv_1(x.transpose(1, 2)).transpose(1, 2)  # (N, T, out)
