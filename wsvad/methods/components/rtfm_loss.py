"""RTFM's training loss (tianyu0207/RTFM train.py), shared by RTFM, CLIP-TSA and S3R whose
official train.py files reuse it unchanged:

    cls       = BCE(mean of the top-k scores, video label)                   top-k by magnitude
    magnitude = α · mean((|m − ||mean_k f_abn||| + ||mean_k f_nor||)²)       crop-major pairs
    sparsity  = λ_sparse · ||s_abn||₂          smooth = λ_smooth · Σ (s_abn[t+1] − s_abn[t])²
                (s_abn flattened across videos, as train.py does)

`cfg` needs k, margin, alpha, sparsity and smooth; `drop_out` is the model's dropout module,
whose mask on a ones tensor perturbs the top-k choice as officially (abnormal drawn first).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsvad.methods.base import Batch, Output
from wsvad.methods.components.magnitude_top_k import gather_crop_major, select_top_k


def rtfm_loss_terms(output: Output, batch: Batch, cfg, drop_out: nn.Module, name: str) -> dict[str, torch.Tensor]:
    n = batch.n_normal
    if batch.n_abnormal != n:
        raise ValueError(f"{name}'s magnitude loss pairs normal and abnormal videos: use equal batch halves")
    scores, feats, mags = output.scores, output.extras["features"], output.extras["magnitudes"]
    idx_abn = select_top_k(mags[n:], cfg.k, drop_out)   # official order of the two dropout draws
    idx_nor = select_top_k(mags[:n], cfg.k, drop_out)
    score_abn = scores[n:].gather(1, idx_abn).mean(1)                          # (n,)
    score_nor = scores[:n].gather(1, idx_nor).mean(1)
    label = torch.cat((torch.zeros_like(score_nor), torch.ones_like(score_abn)))
    cls = F.binary_cross_entropy(torch.cat((score_nor, score_abn)), label)
    feat_abn = gather_crop_major(feats[n:], idx_abn)                           # (C·n, k, D)
    feat_nor = gather_crop_major(feats[:n], idx_nor)
    loss_abn = (cfg.margin - feat_abn.mean(1).norm(p=2, dim=1)).abs()
    loss_nor = feat_nor.mean(1).norm(p=2, dim=1)
    abn_scores = scores[n:].reshape(-1)
    return {
        "cls": cls,
        "magnitude": cfg.alpha * ((loss_abn + loss_nor) ** 2).mean(),
        "sparsity": cfg.sparsity * abn_scores.norm(dim=0),
        "smooth": cfg.smooth * ((abn_scores[1:] - abn_scores[:-1]) ** 2).sum(),
    }
