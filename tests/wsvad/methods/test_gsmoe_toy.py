"""GS-MoE finds the planted anomalies of the toy feature set (wsvad.toy) within a small budget."""

import math

import pytest

from wsvad.train import TrainOptions, train

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("gate", ["attention", "soft"])
def test_gsmoe_finds_planted_anomalies(toy, gate):
    # task_dim 64 (official 512) keeps the run small; everything else is the paper's default.
    result = train(toy, "gsmoe", {"batch_size": 8, "segments": 32, "task_dim": 64, "lr": 3e-4, "gate": gate},
                   TrainOptions(seed=0, max_steps=100, select_on="last"))
    losses = {k: v for k, v in result.metrics.items() if k.startswith("loss/")}
    assert {"loss/mil", "loss/tgs", "loss/expert_mil", "loss/expert_tgs", "loss/coarse"} <= set(losses)
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert result.metrics["auc"] >= 0.85, result.metrics["auc"]
