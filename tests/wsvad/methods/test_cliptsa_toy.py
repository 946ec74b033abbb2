"""CLIP-TSA finds planted anomalies on the toy feature set, and its hard attention behaves as described."""

import math

import pytest
import torch

from wsvad.methods import create
from wsvad.train import TrainOptions, train


@pytest.fixture
def one_thread():
    """Small nets on a shared machine: one intra-op thread is faster than oversubscribed cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_cliptsa_finds_planted_anomalies(toy, one_thread):
    # Official hyperparameters except the batch and dropout (0.7 slows a 150-step toy run down).
    result = train(toy, "cliptsa", {"batch_size": 8, "dropout": 0.3},
                   TrainOptions(seed=0, max_steps=150, select_on="last"))
    losses = {k: v for k, v in result.metrics.items() if k.startswith("loss/")}
    assert set(losses) == {"loss/cls", "loss/magnitude", "loss/sparsity", "loss/smooth", "loss/total"}
    assert all(math.isfinite(v) for v in losses.values()), losses
    assert result.metrics["auc"] >= 0.85, result.metrics


def test_noise_free_eval_keeps_the_top_k_snippets_of_the_scorer():
    model = create("cliptsa", 16).eval()
    x = torch.randn(1, 40, 16)
    with torch.no_grad():
        kept, s, p = model.hard_attention(x, noisy=False, cap=1000)
    k = int(40 * 0.95)                                                   # 38
    assert p.sum().item() == k
    assert set(p[0].nonzero().flatten().tolist()) == set(torch.topk(s[0], k).indices.tolist())
    torch.testing.assert_close(kept, x * p[..., None])
    assert model.hard_attention.k_of(1, 1000) == 1 and model.hard_attention.k_of(2000, 1000) == 1000


def test_perturbed_top_k_weights_are_membership_frequencies_and_train_the_scorer():
    model = create("cliptsa", 16).train()
    x = torch.randn(3, 20, 16)
    torch.manual_seed(0)
    kept, s, p = model.hard_attention(x, noisy=True)
    assert torch.all((p >= 0) & (p <= 1)) and torch.allclose(p.sum(1), torch.full((3,), 19.0))
    kept.sum().backward()
    assert model.hard_attention.scorer.fc1.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("dim", [16, 512, 1024])
def test_widths_follow_the_feature_dimension(dim):
    model = create("cliptsa", dim).eval()
    assert (model.mlp is None) == (dim <= 512)
    width = min(dim, 512)
    assert model.fc1.in_features == width and model.Aggregate.conv_5[0].out_channels == width
    with torch.no_grad():
        scores = model.score(torch.randn(1, 7, dim))
    assert scores.shape == (7,) and torch.isfinite(scores).all()
