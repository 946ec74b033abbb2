"""GV-VAD's synthetic sample loss scaling, checked against factors computed by hand."""

import math

import pytest
import torch

from wsvad.train.synthetic import VLR_GRID, SyntheticLossScaling


def flags(*values):
    return torch.tensor(values, dtype=torch.bool)


def test_the_sweep_grid_is_the_official_one():
    assert VLR_GRID == (0.1, 0.25, 0.5, 1.0)


@pytest.mark.parametrize("learnable", [False, True])
@pytest.mark.parametrize("synthetic, vlr, expected", [
    # 3 real + 1 synthetic at VLR 0.25: 3/4 + 1/4 · 0.25 = 0.75 + 0.0625 = 0.8125
    ((False, False, False, True), 0.25, 0.8125),
    # 2 real + 2 synthetic at VLR 0.1: 0.5 + 0.5 · 0.1 = 0.55
    ((False, True, False, True), 0.1, 0.55),
    # all synthetic at VLR 0.5: 0 + 1 · 0.5 = 0.5
    ((True, True), 0.5, 0.5),
    # all real: the factor is 1 whatever VLR is (1 + 0 · 0.25)
    ((False, False, False), 0.25, 1.0),
    # VLR 1 leaves any mix unchanged: 0.6 + 0.4 · 1 = 1
    ((True, False, True, False, False), 1.0, 1.0),
])
def test_factor_is_frac_real_plus_frac_synthetic_times_vlr(synthetic, vlr, expected, learnable):
    scaling = SyntheticLossScaling(vlr=vlr, learnable=learnable)
    factor = scaling(flags(*synthetic))
    assert factor.shape == ()
    assert float(factor.detach()) == pytest.approx(expected, abs=1e-6)


def test_fixed_vlr_zero_ignores_the_synthetic_share():
    # 1 real + 3 synthetic at VLR 0: 0.25 + 0.75 · 0 = 0.25 (the official `--VLR 0` baselines)
    assert float(SyntheticLossScaling(vlr=0.0)(flags(False, True, True, True))) == pytest.approx(0.25)


def test_fixed_vlr_has_no_parameters_and_no_gradient():
    scaling = SyntheticLossScaling(vlr=0.5)
    assert list(scaling.parameters()) == []
    assert not scaling(flags(True, False)).requires_grad


def test_learnable_vlr_gets_the_gradient_of_the_scaled_loss():
    scaling = SyntheticLossScaling(vlr=0.25, learnable=True)
    (raw,) = list(scaling.parameters())
    assert float(raw.detach()) == pytest.approx(math.log(0.25))
    loss = torch.tensor(2.0)
    scaled = loss * scaling(flags(False, False, False, True))
    # scaled = 2 · (0.75 + 0.25 · e^raw) = 2 · 0.8125 = 1.625
    assert float(scaled.detach()) == pytest.approx(1.625)
    scaled.backward()
    # d scaled / d raw = 2 · 0.25 · e^raw = 2 · 0.25 · 0.25 = 0.125
    assert float(raw.grad) == pytest.approx(0.125, abs=1e-6)


def test_learnable_vlr_stays_positive_under_large_steps():
    scaling = SyntheticLossScaling(vlr=0.1, learnable=True)
    opt = torch.optim.SGD(scaling.parameters(), lr=100.0)
    for _ in range(5):  # the scaled loss always pushes VLR down; exp keeps it above 0
        opt.zero_grad()
        (10.0 * scaling(flags(True, True, False, False))).backward()
        opt.step()
    assert 0 < float(scaling.vlr.detach()) < 0.1


def test_rejects_negative_vlr_and_a_learnable_zero():
    with pytest.raises(ValueError):
        SyntheticLossScaling(vlr=-0.1)
    with pytest.raises(ValueError):
        SyntheticLossScaling(vlr=0.0, learnable=True)


def test_state_dict_round_trip_and_empty_batch():
    a = SyntheticLossScaling(vlr=0.5, learnable=True)
    with torch.no_grad():
        a.raw_vlr.fill_(math.log(0.3))
    b = SyntheticLossScaling(vlr=0.5, learnable=True)
    b.load_state_dict(a.state_dict())
    assert float(b.vlr.detach()) == pytest.approx(0.3)
    assert float(b(torch.zeros(0, dtype=torch.bool)).detach()) == 1.0
