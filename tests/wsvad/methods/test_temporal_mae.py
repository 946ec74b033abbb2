"""Temporal MAE: masking, the masked-only MAE loss, temporal InfoNCE, windowed scoring and EWMA,
each checked against numbers worked out by hand (there is no paper and no golden fixture)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsvad.errors import ConfigError
from wsvad.methods import create
from wsvad.methods.base import Batch, Output
from wsvad.methods.components.temporal_infonce import adjacent_infonce
from wsvad.methods.components.window_scoring import ewma, window_index, window_starts, windows_to_snippets
from wsvad.methods.temporal_mae import strided_masks, window_similarity

TINY = {"d_model": 16, "depth": 1, "heads": 2, "proj_dim": 8, "segments": 8}


def tiny(**overrides):
    torch.manual_seed(0)
    return create("temporal_mae", 6, {**TINY, **overrides})


def batch_of(lengths, t=8, d=6):
    b = len(lengths)
    return Batch(torch.zeros(b, 1, t, d), torch.zeros(b), b, 0, torch.zeros(b, dtype=torch.long),
                 torch.zeros(b, dtype=torch.bool), torch.tensor(lengths))


def test_official_defaults_are_the_seed_configs():
    cfg = create("temporal_mae", 6).config
    assert (cfg.d_model, cfg.depth, cfg.heads, cfg.segments, cfg.mask_ratio) == (256, 6, 8, 16, 0.75)
    assert (cfg.lr, cfg.weight_decay, cfg.batch_size, cfg.max_epochs, cfg.warmup_epochs, cfg.min_lr) == (1e-4, 1e-4, 64, 50, 5, 1e-6)
    assert (cfg.lambda_mae, cfg.lambda_cl, cfg.forecast_steps, cfg.temperature) == (1.0, 0.3, 0, 0.07)
    assert (cfg.alpha, cfg.beta, cfg.grad_clip) == (0.5, 0.9, 1.0)
    assert create("temporal_mae", 6).one_class and not create("mil", 6).one_class


@pytest.mark.parametrize("ratio, t, visible", [(0.75, 16, 4), (0.75, 8, 2), (0.5, 7, 3), (0.9, 16, 1)])
def test_random_mask_keeps_floor_of_the_visible_share(ratio, t, visible):
    model = tiny(mask_ratio=ratio)
    torch.manual_seed(1)
    mask = model.random_mask(4000, t, "cpu")
    assert ((~mask).sum(1) == visible).all()                        # ⌊T·(1 − r)⌋ visible in every window
    # ... at random positions: every position is hidden about as often as the ratio says
    freq = mask.float().mean(0)
    assert torch.allclose(freq, torch.full((t,), 1 - visible / t), atol=0.03)


def test_forecasting_hides_the_forecast_target():
    model = tiny(forecast_steps=3)
    mask = model.random_mask(100, 8, "cpu")
    assert mask[:, -3:].all()
    out = model(torch.randn(2, 1, 8, 6))
    assert out.extras["forecast"].shape == (2, 3, 6)
    _, parts = model.loss(out, batch_of([8, 8]))
    assert set(parts) == {"mae", "contrastive", "forecast"}


def test_mae_loss_counts_masked_valid_positions_only():
    model = tiny(lambda_cl=0.0)
    target = torch.zeros(2, 4, 6)
    recon = torch.zeros(2, 4, 6)
    recon[0, 0] = 2.0      # masked, valid: squared error 4 per dim
    recon[0, 1] = 100.0    # visible: must not count
    recon[1, 2] = 1.0      # masked, valid: 1 per dim
    recon[1, 3] = 50.0     # masked but padding (length 3): must not count
    mask = torch.tensor([[True, False, True, False], [False, False, True, True]])
    z = F.normalize(torch.randn(2, 4, 8), dim=-1)
    out = Output(torch.zeros(2, 4), {"target": target, "recon": recon, "mask": mask, "z": z, "crops": 1})
    total, parts = model.loss(out, batch_of([4, 3], t=4))
    # masked ∧ valid: (0,0) error 4, (0,2) error 0, (1,2) error 1  → (4 + 0 + 1) / 3
    assert parts["mae"].item() == pytest.approx(5 / 3)
    assert total.item() == pytest.approx(5 / 3)            # λ_cl = 0


def test_infonce_by_hand():
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    z = torch.stack([torch.stack([e1, e1]), torch.stack([e2, e2])])          # (2 windows, T=2, P=2)
    valid = torch.ones(2, 2, dtype=torch.bool)
    # each anchor: positive similarity 1, one negative with similarity 0, τ = 1:
    #   −1 + log(e¹ + e⁰) = log(e + 1) − 1 = 0.31326
    assert adjacent_infonce(z, valid, 1.0).item() == pytest.approx(math.log(math.e + 1) - 1, abs=1e-6)
    # τ = 0.5: −2 + log(e² + 1) = 0.12693
    assert adjacent_infonce(z, valid, 0.5).item() == pytest.approx(math.log(math.e ** 2 + 1) - 2, abs=1e-6)
    # window 1 has only its first step: its pair is gone and it is no negative for window 0 any more
    valid[1, 1] = False
    assert adjacent_infonce(z, valid, 1.0).item() == pytest.approx(0.0, abs=1e-6)   # −1 + log e¹


def seed_infonce_loop(z, valid, tau):
    """The seed's InfoNCELoss.forward (losses.py), loop for loop."""
    total, pairs = 0.0, 0
    for t in range(z.shape[1] - 1):
        ok = valid[:, t] & valid[:, t + 1]
        if ok.sum() == 0:
            continue
        cur, nxt = z[ok, t], z[ok, t + 1]
        pos = (cur * nxt).sum(-1) / tau
        total += (-pos + torch.logsumexp(cur @ nxt.T / tau, dim=1)).sum()
        pairs += int(ok.sum())
    return total / pairs


def test_infonce_matches_the_seed_loop_with_padding():
    torch.manual_seed(3)
    z = F.normalize(torch.randn(5, 7, 4), dim=-1)
    valid = torch.arange(7)[None] < torch.tensor([7, 3, 5, 1, 7])[:, None]
    assert adjacent_infonce(z, valid, 0.07).item() == pytest.approx(seed_infonce_loop(z, valid, 0.07).item(), rel=1e-5)


def test_ewma_by_hand():
    # β = 0.5: y0 = 1; y1 = .5·1 + .5·0 = .5; y2 = .25; y3 = .125 + .5·2 = 1.125
    out = ewma(torch.tensor([1.0, 0.0, 0.0, 2.0]), 0.5)
    assert out.tolist() == pytest.approx([1.0, 0.5, 0.25, 1.125])
    # β = 0.9 on a step: y_t = 1 − 0.9^t after starting at 0
    step = ewma(torch.tensor([0.0, 1.0, 1.0, 1.0]), 0.9)
    assert step.tolist() == pytest.approx([0.0, 0.1, 0.19, 0.271])
    x = torch.rand(3, 10)
    assert torch.equal(ewma(x, 0.0), x) and torch.allclose(ewma(x, 0.7)[1], ewma(x[1], 0.7))


def test_windows_and_their_snippets_by_hand():
    assert window_starts(10, 4, 3).tolist() == [0, 3, 6]
    assert window_starts(11, 4, 3).tolist() == [0, 3, 6, 7]          # the tail is always covered
    assert window_starts(3, 8, 1).tolist() == [0]                     # shorter than a window
    idx, valid = window_index(3, 5, torch.tensor([0]))
    assert idx.tolist() == [[0, 1, 2, 2, 2]] and valid.tolist() == [[True, True, True, False, False]]
    # windows [0, 3) and [2, 5) with scores 1 and 3: snippet 2 is covered by both
    starts = torch.tensor([0, 2])
    assert windows_to_snippets(torch.tensor([1.0, 3.0]), starts, 3, 5).tolist() == [1, 1, 2, 3, 3]
    assert windows_to_snippets(torch.tensor([1.0, 3.0]), starts, 3, 5, "max").tolist() == [1, 1, 3, 3, 3]
    # padded positions cover nothing: T = 2, one window of 4
    assert windows_to_snippets(torch.tensor([[5.0], [7.0]]), torch.tensor([0]), 4, 2).tolist() == [[5, 5], [7, 7]]


def test_strided_test_masks():
    masks = strided_masks(16, 0.75)
    assert masks.shape == (4, 16)
    assert (masks.sum(1) == 12).all()                 # 75 % hidden in each mask
    assert (masks.sum(0) == 3).all()                  # every position hidden by 3 of the 4
    assert strided_masks(6, 0.5).tolist() == [[False, True] * 3, [True, False] * 3]


def test_window_similarity_and_its_default():
    v = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])                 # cosines 1, 0
    assert window_similarity(v, torch.ones(1, 3, dtype=torch.bool)).tolist() == [0.5]
    assert window_similarity(v, torch.tensor([[True, True, False]])).tolist() == [1.0]
    assert window_similarity(v, torch.tensor([[True, False, False]])).tolist() == [1.0]   # no pair: 1 (eval.py)


def reference_score(model, video):
    """Loops: every window (stride 1, padded), its score, the mean over covering windows, crops, EWMA."""
    cfg = model.config
    c, t, _ = video.shape
    w = cfg.segments
    per_crop = []
    for crop in video:
        sums, counts = torch.zeros(t), torch.zeros(t)
        for s in range(max(t - w, 0) + 1):
            pos = [min(s + i, t - 1) for i in range(w)]
            valid = torch.tensor([s + i < t for i in range(w)])
            score = model.window_scores(crop[pos][None], valid[None])[0]
            for i in range(w):
                if s + i < t:
                    sums[s + i] += score
                    counts[s + i] += 1
        per_crop.append(sums / counts)
    mean = torch.stack(per_crop).mean(0)
    out, y = [], mean[0].item()
    for x in mean.tolist():
        y = cfg.beta * y + (1 - cfg.beta) * x
        out.append(y)
    return torch.tensor(out)


@pytest.mark.parametrize("t", [1, 3, 8, 11])
def test_score_is_the_mean_of_covering_windows_then_ewma(t):
    model = tiny().eval()
    video = torch.randn(2, t, 6)
    torch.testing.assert_close(model.score(video), reference_score(model, video), rtol=1e-5, atol=1e-6)


def test_window_score_formula_by_hand():
    """α·sigmoid(e) + (1 − α)·(1 − sim): with a zero reconstruction head e = mean ‖x‖²/D over hidden steps."""
    model = tiny(alpha=0.25, similarity="features").eval()
    for p in model.reconstruct[-1].parameters():
        torch.nn.init.zeros_(p)
    x = torch.zeros(1, 8, 6)
    x[0, :, 0] = 1.0
    x[0, 4:, 1] = 1.0            # cos(step 3, step 4) = 1/√2, the other adjacent pairs 1
    valid = torch.ones(1, 8, dtype=torch.bool)
    e = (1 * 4 + 2 * 4) / 6 / 8   # every step hidden equally often: mean over steps of ‖x_t‖²/D
    sim = (6 + 1 / math.sqrt(2)) / 7
    expected = 0.25 / (1 + math.exp(-e)) + 0.75 * (1 - sim)
    assert model.window_scores(x, valid).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("t", [1, 5, 300])
@pytest.mark.parametrize("variant", [{}, {"test_mask": "none", "similarity": "features", "aggregate": "max"},
                                     {"video_minmax": True, "test_stride": 3}])
def test_one_finite_score_per_snippet_for_short_and_long_videos(t, variant):
    model = tiny(**variant).eval()
    scores = model.score(torch.randn(1, t, 6))
    assert scores.shape == (t,) and torch.isfinite(scores).all()
    if variant.get("video_minmax"):  # one window (T ≤ W) scores every snippet alike: all 0
        assert (scores.min(), scores.max()) == ((0, 1) if t > 8 else (0, 0))


def test_cosine_schedule_after_constant_warmup():
    model = tiny(lr=1e-4, min_lr=1e-6, max_epochs=50, warmup_epochs=5)
    floor = 1e-6 / 1e-4
    assert [model.lr_factor(e) for e in range(6)] == [1.0] * 6          # train.py steps only after warm-up
    assert model.lr_factor(5 + 45 // 2) == pytest.approx(floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * 22 / 45)))
    assert model.lr_factor(50) == pytest.approx(floor) and model.lr_factor(500) == pytest.approx(floor)
    assert tiny(max_epochs=0, max_steps=100).lr_factor(7) == 1.0         # no epoch budget: constant


@pytest.mark.parametrize("bad, match", [({"d_model": 30, "heads": 4}, "multiple of heads"),
                                        ({"mask_ratio": 1.0}, "mask_ratio"), ({"segments": 1}, "segments"),
                                        ({"forecast_steps": 8}, "forecast_steps"), ({"beta": 1.0}, "beta")])
def test_bad_configs_fail_in_one_line(bad, match):
    with pytest.raises(ConfigError, match=match):
        tiny(**bad)


def test_gradients_reach_encoder_and_both_heads():
    model = tiny(forecast_steps=2)
    out = model(torch.randn(4, 1, 8, 6))
    total, _ = model.loss(out, batch_of([8, 8, 5, 8]))
    total.backward()
    for name in ("embed.weight", "mask_token", "blocks.0.attn.in_proj_weight", "reconstruct.3.weight",
                 "project.2.weight", "forecaster.3.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert np.isfinite(total.item())
