"""GS-MoE (paper-based port, no official code): its distinctive pieces against hand-computed values.

Temporal Gaussian Splatting: with σ_p = w_p / (2√(2 ln 2)) (w_p the width at half prominence),
    exp(−d² / 2σ_p²) = exp(−d² · 4 ln 2 / w_p²) = 2^(−4 d² / w_p²),
so a peak of width 1 splats 1, 2^-4 = 0.0625, 2^-16, ... and a peak of width 2 splats 1, 2^-1, 2^-4, 2^-9, ...
at distances 0, 1, 2, 3 — the numbers written in the comments below.
"""

import math

import pytest
import torch

from wsvad.methods import Batch, Output, create
from wsvad.methods.gsmoe import SoftGate, find_peaks, temporal_gaussian_splatting


def curve(*values):
    return torch.tensor([values], dtype=torch.float32)


def test_find_peaks_on_two_hand_made_peaks():
    s = curve(0.1, 0.2, 0.9, 0.3, 0.1, 0.1, 0.1, 0.6, 0.7, 0.2)
    is_peak, prom, width = find_peaks(s, prominence=0.2)
    # local maxima: t=2 (0.9 > 0.2, ≥ 0.3) and t=8 (0.7 > 0.6, ≥ 0.2)
    assert is_peak[0].nonzero().flatten().tolist() == [2, 8]
    # t=2: nothing higher anywhere → lows 0.1 (left: 0.1, 0.2) and 0.1 (right) → 0.9 − 0.1 = 0.8
    # t=8: left run stops at the higher 0.9 (t=2) → low 0.1 over t=3..7; right low 0.2 → 0.7 − max(0.1, 0.2) = 0.5
    assert prom[0, 2].item() == pytest.approx(0.8)
    assert prom[0, 8].item() == pytest.approx(0.5)
    # half-prominence levels: 0.9 − 0.4 = 0.5 → run {2} → width 1;  0.7 − 0.25 = 0.45 → run {7, 8} → width 2
    assert width[0, 2].item() == 1 and width[0, 8].item() == 2


def test_tgs_renders_the_hand_computed_pseudo_label():
    s = curve(0.1, 0.2, 0.9, 0.3, 0.1, 0.1, 0.1, 0.6, 0.7, 0.2)
    labels, has_peak = temporal_gaussian_splatting(s, prominence=0.2)
    assert has_peak.tolist() == [True]
    a, b = (lambda d: 2.0 ** (-4 * d * d)), (lambda d: 2.0 ** (-d * d))   # width 1 at t=2, width 2 at t=8
    expected = [
        a(2) + b(8),       # t=0: 2^-16
        a(1) + b(7),       # t=1: 0.0625
        1.0,               # t=2: the peak (1 + 2^-36, clipped to 1)
        a(1) + b(5),       # t=3: 0.0625 + 2^-25
        a(2) + b(4),       # t=4: 2^-16 + 2^-16
        a(3) + b(3),       # t=5: 2^-36 + 2^-9 = 0.00195
        a(4) + b(2),       # t=6: 0.0625
        a(5) + b(1),       # t=7: 0.5
        1.0,               # t=8: the second peak
        a(7) + b(1),       # t=9: 0.5
    ]
    torch.testing.assert_close(labels[0], torch.tensor(expected), atol=1e-6, rtol=0)


def test_tgs_needs_prominence_and_handles_edges_and_plateaus():
    # ripples of 0.05 are no peaks at prominence 0.2: no pseudo-label for this video
    labels, has_peak = temporal_gaussian_splatting(curve(0.30, 0.35, 0.30, 0.35, 0.30), prominence=0.2)
    assert not has_peak.any() and labels.abs().max() == 0
    # an event running at the start: t=0 has no left side, prominence 0.9 − 0.1 = 0.8;
    # half level 0.5 → run {0, 1} (0.5 is not below 0.5) → width 2 → 1, 2^-1, 2^-4, 2^-9
    labels, has_peak = temporal_gaussian_splatting(curve(0.9, 0.5, 0.1, 0.1), prominence=0.2)
    torch.testing.assert_close(labels[0], torch.tensor([1.0, 0.5, 0.0625, 2.0 ** -9]))
    # a flat-topped event: the first snippet of the plateau is the peak; half level 0.5 → run {1, 2, 3}
    # → width 3 → 2^(−4d²/9): 2^(-4/9) = 0.7349 at t=0 and t=2, 2^(-16/9) = 0.2916 at t=3, 2^-4 at t=4
    is_peak, _, width = find_peaks(curve(0.1, 0.9, 0.9, 0.9, 0.1), 0.2)
    assert is_peak[0].tolist() == [False, True, False, False, False] and width[0, 1].item() == 3
    labels, _ = temporal_gaussian_splatting(curve(0.1, 0.9, 0.9, 0.9, 0.1))
    torch.testing.assert_close(labels[0], torch.tensor([2 ** (-4 / 9), 1.0, 2 ** (-4 / 9), 2 ** (-16 / 9), 2 ** -4]))
    # σ scales with sigma_scale: width 1 with scale 2 → σ doubled → 2^(−d²) at distance d
    labels, _ = temporal_gaussian_splatting(curve(0.1, 0.1, 0.9, 0.1, 0.1), sigma_scale=2.0)
    torch.testing.assert_close(labels[0], torch.tensor([2.0 ** -4, 0.5, 1.0, 0.5, 2.0 ** -4]))


def test_one_expert_per_anomaly_class_and_robust_to_one_class():
    assert create("gsmoe", 8, {"task_dim": 16}, class_names=["Normal", "A", "B", "C"]).num_experts == 3
    assert create("gsmoe", 8, {"task_dim": 16}, class_names=["Normal", "Anomaly"]).num_experts == 1
    assert create("gsmoe", 8, {"task_dim": 16}, class_names=["Normal"]).num_experts == 1
    assert create("gsmoe", 8, {"task_dim": 16}).num_experts == 1


@pytest.mark.parametrize("gate", ["attention", "soft"])
@pytest.mark.parametrize("classes", [["Normal", "A", "B"], ["Normal", "Anomaly"]])
def test_forward_shapes_and_probabilities(gate, classes):
    torch.manual_seed(0)
    model = create("gsmoe", 12, {"task_dim": 16, "gate": gate}, class_names=classes)
    out = model(torch.randn(3, 2, 7, 12))
    e = len(classes) - 1
    assert out.scores.shape == (3, 7) and out.extras["experts"].shape == (3, e, 7)
    assert out.extras["coarse"].shape == (3, 7)
    for z in (out.scores, out.extras["experts"], out.extras["coarse"]):
        assert ((z >= 0) & (z <= 1)).all()
    if gate == "soft":
        # the gate's weights over experts sum to 1 at every snippet
        torch.testing.assert_close(out.extras["weights"].sum(-1), torch.ones(3, 7))


def test_soft_gate_weights_sum_to_one_and_route_by_class():
    gate = SoftGate(experts=3, dim=3)
    with torch.no_grad():  # router logit_e = 10 · h_e: a feature on axis e routes to expert e
        gate.router.weight.copy_(10 * torch.eye(3))
        gate.router.bias.zero_()
    h = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0, 0, 0]]])     # (1, T=4, 3)
    weights, logits = gate(h)
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 4))
    assert weights[0, :3].argmax(-1).tolist() == [0, 1, 2]
    # softmax(10, 0, 0) = e^10 / (e^10 + 2) = 0.999909
    assert weights[0, 0, 0].item() == pytest.approx(math.exp(10) / (math.exp(10) + 2), rel=1e-6)
    torch.testing.assert_close(weights[0, 3], torch.full((3,), 1 / 3))            # no evidence: uniform
    # the mixture Σ_e w_e s_e follows the routed expert: expert scores (0.9, 0.1, 0.1) at snippet 0
    experts = torch.tensor([0.9, 0.1, 0.1])
    assert (weights[0, 0] * experts).sum().item() == pytest.approx(0.1 + 0.8 * weights[0, 0, 0].item(), rel=1e-6)


def bce(p, y):
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_loss_terms_on_a_tiny_hand_made_batch():
    model = create("gsmoe", 8, {"task_dim": 16, "segments": 4}, class_names=["Normal", "A", "B"])
    # T = 4 → k = 4 // 16 + 1 = 1: every top-k mean is the maximum
    scores = torch.tensor([[0.2, 0.1, 0.1, 0.1],     # normal
                           [0.1, 0.5, 0.1, 0.1],     # abnormal, class A (expert 0)
                           [0.1, 0.1, 0.1, 0.8]])    # abnormal, class B (expert 1)
    coarse = torch.tensor([[0.1, 0.1, 0.1, 0.1],
                           [0.1, 0.9, 0.1, 0.1],     # one peak at t=1, prominence 0.8, width 1
                           [0.1, 0.1, 0.1, 0.1]])    # flat: no peak, no TGS for this video
    experts = torch.tensor([[[0.3, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1]],
                            [[0.1, 0.6, 0.1, 0.1], [0.5, 0.5, 0.5, 0.5]],
                            [[0.5, 0.5, 0.5, 0.5], [0.7, 0.1, 0.1, 0.1]]])
    out = Output(scores, {"coarse": coarse, "experts": experts})
    batch = Batch(features=torch.zeros(3, 1, 4, 8), labels=torch.tensor([0.0, 1.0, 1.0]), n_normal=1, n_abnormal=2,
                  class_ids=torch.tensor([0, 1, 2]), synthetic=torch.zeros(3, dtype=torch.bool),
                  lengths=torch.full((3,), 4))
    total, parts = model.loss(out, batch)
    assert set(parts) == {"mil", "coarse", "expert_mil", "tgs", "expert_tgs"}
    # mil: BCE(0.2, 0), BCE(0.5, 1), BCE(0.8, 1) = 0.2231, 0.6931, 0.2231 → mean 0.3798
    assert parts["mil"].item() == pytest.approx((bce(0.2, 0) + bce(0.5, 1) + bce(0.8, 1)) / 3, rel=1e-5)
    # coarse: BCE(0.1, 0), BCE(0.9, 1), BCE(0.1, 1) = 0.1054, 0.1054, 2.3026 → 0.8378
    assert parts["coarse"].item() == pytest.approx((bce(0.1, 0) + bce(0.9, 1) + bce(0.1, 1)) / 3, rel=1e-5)
    # expert 0 sees {normal, A}: BCE(0.3, 0), BCE(0.6, 1) → 0.4337; expert 1 sees {normal, B}:
    # BCE(0.1, 0), BCE(0.7, 1) → 0.2310; mean 0.3324 (the 0.5 curves of foreign classes are ignored)
    e0 = (bce(0.3, 0) + bce(0.6, 1)) / 2
    e1 = (bce(0.1, 0) + bce(0.7, 1)) / 2
    assert parts["expert_mil"].item() == pytest.approx((e0 + e1) / 2, rel=1e-5)
    # TGS target of video A from its coarse peak at t=1 (width 1): (2^-4, 1, 2^-4, 2^-16)
    y = [2.0 ** -4, 1.0, 2.0 ** -4, 2.0 ** -16]
    tgs = sum(bce(p, q) for p, q in zip([0.1, 0.5, 0.1, 0.1], y)) / 4          # 0.3210
    assert parts["tgs"].item() == pytest.approx(tgs, rel=1e-5)
    # expert TGS: video A against its own expert 0 (0.1, 0.6, 0.1, 0.1); video B has no peak
    expert_tgs = sum(bce(p, q) for p, q in zip([0.1, 0.6, 0.1, 0.1], y)) / 4   # 0.2754
    assert parts["expert_tgs"].item() == pytest.approx(expert_tgs, rel=1e-5)
    assert total.item() == pytest.approx(sum(v.item() for v in parts.values()), rel=1e-6)


def test_soft_gate_routing_loss_prefers_the_true_class():
    model = create("gsmoe", 8, {"task_dim": 16, "segments": 4, "gate": "soft"}, class_names=["Normal", "A", "B"])
    base = {"coarse": torch.full((3, 4), 0.1), "experts": torch.full((3, 2, 4), 0.1)}
    batch = Batch(torch.zeros(3, 1, 4, 8), torch.tensor([0.0, 1.0, 1.0]), 1, 2, torch.tensor([0, 1, 2]),
                  torch.zeros(3, dtype=torch.bool), torch.full((3,), 4))
    right = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])     # abnormal videos routed to their class
    wrong = right.flip(-1)
    _, good = model.loss(Output(torch.full((3, 4), 0.5), {**base, "route_logits": right}), batch)
    _, bad = model.loss(Output(torch.full((3, 4), 0.5), {**base, "route_logits": wrong}), batch)
    # CE((2, 0), true 0) = log(1 + e^-2) = 0.1269;  CE((0, 2), true 0) = log(1 + e^2) = 2.1269
    assert good["route"].item() == pytest.approx(math.log(1 + math.exp(-2)), rel=1e-5)
    assert bad["route"].item() == pytest.approx(math.log(1 + math.exp(2)), rel=1e-5)


@pytest.mark.parametrize("source", ["coarse", "self"])
def test_gradients_reach_the_experts_gate_and_encoder(source):
    torch.manual_seed(0)
    model = create("gsmoe", 8, {"task_dim": 16, "segments": 6, "prominence": 0.0, "tgs_source": source},
                   class_names=["Normal", "A", "B"])
    x = torch.randn(4, 1, 6, 8)
    batch = Batch(x, torch.tensor([0.0, 0.0, 1.0, 1.0]), 2, 2, torch.tensor([0, 0, 1, 2]),
                  torch.zeros(4, dtype=torch.bool), torch.full((4,), 6))
    total, parts = model.loss(model(x), batch)
    total.backward()
    for name in ("embedding.0.weight", "experts.qkv.weight", "gate.refine.weight", "coarse_head.0.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    assert parts["tgs"].item() > 0 and parts["expert_tgs"].item() > 0


def test_optimizer_is_adamw_with_the_configured_values():
    model = create("gsmoe", 8, {"task_dim": 16, "lr": 2e-4, "weight_decay": 1e-3})
    opt, scheduler = model.configure_optimizer()
    assert isinstance(opt, torch.optim.AdamW) and scheduler is None
    assert opt.param_groups[0]["lr"] == 2e-4 and opt.param_groups[0]["weight_decay"] == 1e-3
