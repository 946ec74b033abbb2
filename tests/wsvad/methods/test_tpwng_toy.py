"""TPWNG finds the planted anomalies of the toy feature set (wsvad.toy) within a small budget.

No CLIP weights are reachable here, so the text encoder is random (`pretrained=None`, one layer
for speed). The toy's normal snippets are isotropic noise: there is no "normality" for the normal
text or the NVP to match, and with a random text encoder the DIL and the sparsity term then settle
on inverted similarities (measured: test AUC ≈ 0.29 with every term on). The run therefore turns
off DIL, sparsity and smoothness (weights 0) and checks the rest of the paper's machinery — the
learnable prompt through the CLIP text encoder, both ranking losses, the PLG pseudo-labels with
normality guidance, TCSAL and the self-trained classifier; tests/wsvad/methods/test_tpwng.py checks
the switched-off terms against hand-computed values.
"""

import math

import pytest

from wsvad.train import TrainOptions, train

pytestmark = pytest.mark.slow


def test_tpwng_finds_planted_anomalies(toy):
    overrides = {"batch_size": 8, "segments": 48, "lr": 1e-3, "text_layers": 1,
                 "dil": 0.0, "sparsity": 0.0, "smooth": 0.0}
    result = train(toy, "tpwng", overrides, TrainOptions(seed=0, max_steps=100, select_on="last"))
    losses = {k: v for k, v in result.metrics.items() if k.startswith("loss/")}
    assert {"loss/cls", "loss/rank_normal", "loss/rank_abnormal", "loss/dil"} <= set(losses)
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert result.metrics["auc"] >= 0.85, result.metrics["auc"]
