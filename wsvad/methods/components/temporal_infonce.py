"""InfoNCE between adjacent time steps (temporal contrastive learning), as the Temporal MAE seed's
`InfoNCELoss` (medicalissue/TRAP models/losses.py), vectorised over time:

    for every step t and every window i with valid steps t and t+1:
        anchor  z[i, t],  positive z[i, t+1],  negatives z[j, t+1] for the other windows j valid at t, t+1
        ℓ(i, t) = −z[i,t]·z[i,t+1]/τ + log Σ_j exp(z[i,t]·z[j,t+1]/τ)
    loss = mean of ℓ over all valid (i, t)          (0 when there is no valid pair)

z are unit vectors, so z·z' is the cosine similarity.
"""

from __future__ import annotations

import torch


def adjacent_infonce(z: torch.Tensor, valid: torch.Tensor, temperature: float) -> torch.Tensor:
    """z (N, T, P) unit vectors, valid (N, T) bool → scalar loss."""
    if z.shape[1] < 2:
        return z.sum() * 0.0
    anchors = z[:, :-1].transpose(0, 1)                                 # (T−1, N, P)
    keys = z[:, 1:].transpose(0, 1)                                     # (T−1, N, P)
    pair = (valid[:, :-1] & valid[:, 1:]).T                             # (T−1, N): window i has steps t, t+1
    logits = anchors @ keys.transpose(1, 2) / temperature              # (T−1, N, N)
    logits = logits.masked_fill(~pair[:, None, :], float("-inf"))      # only valid windows are negatives
    logits = torch.where(pair[:, :, None], logits, torch.zeros_like(logits))   # invalid rows: finite, dropped below
    positive = logits.diagonal(dim1=1, dim2=2)                          # (T−1, N)
    per_pair = torch.logsumexp(logits, dim=2) - positive                # (T−1, N)
    if not pair.any():
        return z.sum() * 0.0
    return per_pair[pair].mean()
