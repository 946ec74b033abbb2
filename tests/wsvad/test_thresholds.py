"""Threshold calibration: EVT on known Weibull (and Pareto) samples, percentile, fixed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from wsvad.errors import ConfigError
from wsvad.thresholds import calibrate, false_alarm_rate, fit_tail

N = 1_000_000


def weibull_sample(shape: float, scale: float, n: int = N, seed: int = 20250) -> np.ndarray:
    return stats.weibull_min.rvs(
        shape, scale=scale, size=n, random_state=np.random.default_rng(seed)
    )


@pytest.mark.parametrize("shape, scale", [(1.5, 2.0), (0.8, 1.0), (3.0, 5.0)])
def test_evt_on_a_known_weibull_sample(shape: float, scale: float) -> None:
    scores = weibull_sample(shape, scale)
    result = calibrate(scores, "evt", far=1e-3, tail_quantile=0.9)
    fit = result.fit
    assert fit is not None and fit.tail == "weibull" and fit.origin == 0.0
    # Only the top 10% enter the fit (100k scores); the truncated MLE recovers the truth.
    assert fit.n_tail == pytest.approx(N / 10, rel=1e-3)
    assert fit.shape == pytest.approx(shape, rel=0.03)
    assert fit.scale == pytest.approx(scale, rel=0.05)
    # The threshold is the analytic 1 - 1e-3 quantile of the true distribution, within 1%.
    analytic = stats.weibull_min.isf(1e-3, shape, scale=scale)
    assert result.threshold == pytest.approx(analytic, rel=0.01)
    assert result.far_expected == pytest.approx(1e-3, rel=1e-9)  # the model at its own threshold
    # ~1000 of 1e6 normal scores above it (binomial sd ~32).
    assert result.far_observed == pytest.approx(1e-3, rel=0.15)
    assert result.n_normal == N


def test_exceedance_form_agrees_with_scipy_and_is_exact_for_exponential_tails() -> None:
    scores = weibull_sample(1.5, 2.0, n=200_000)
    fit = fit_tail(scores, origin=None)  # Weibull on x - u, the textbook POT form
    exceedances = scores[scores > fit.u] - fit.u
    shape, _, scale = stats.weibull_min.fit(exceedances, floc=0)
    assert fit.origin == fit.u
    assert fit.shape == pytest.approx(shape, rel=1e-4)
    assert fit.scale == pytest.approx(scale, rel=1e-4)
    # An exponential is memoryless: its exceedances are the same exponential (Weibull shape 1).
    exponential = weibull_sample(1.0, 2.0, n=200_000)
    memoryless = fit_tail(exponential, origin=None)
    assert memoryless.shape == pytest.approx(1.0, rel=0.03)
    assert memoryless.scale == pytest.approx(2.0, rel=0.03)


def test_generalised_pareto_tail_on_a_known_pareto_sample() -> None:
    xi, sigma = 0.2, 1.0
    rng = np.random.default_rng(7)
    scores = stats.genpareto.rvs(xi, scale=sigma, size=N, random_state=rng)
    result = calibrate(scores, "evt", far=1e-4, tail="genpareto", tail_quantile=0.9)
    # Above u the excess of a GPD is a GPD with the same xi and scale sigma + xi * u.
    assert result.fit.shape == pytest.approx(xi, abs=0.03)
    assert result.fit.scale == pytest.approx(sigma + xi * result.fit.u, rel=0.05)
    analytic = stats.genpareto.isf(1e-4, xi, scale=sigma)
    assert result.threshold == pytest.approx(analytic, rel=0.03)
    assert result.far_expected == pytest.approx(1e-4, rel=1e-9)


def test_percentile_and_fixed_report_their_false_alarm_rates() -> None:
    scores = np.arange(1.0, 1001.0)  # 1, 2, ..., 1000
    result = calibrate(scores, "percentile", far=0.01)
    # np.quantile(q=0.99) = 990.01; scores >= it are 991..1000: 10 of 1000.
    assert result.threshold == pytest.approx(990.01)
    assert result.far_observed == pytest.approx(0.01)
    assert result.far_expected == 0.01 and result.fit is None
    fixed = calibrate([1.0, 2.0, 3.0, 4.0], "fixed", threshold=3.0)
    assert fixed.threshold == 3.0
    assert fixed.far_observed == 0.5  # 3 and 4 are >= 3
    assert math.isnan(fixed.far_expected)
    assert false_alarm_rate([1.0, 2.0, 3.0, 4.0], 3.5) == 0.25


def test_evt_refusals_are_one_line_config_errors() -> None:
    scores = weibull_sample(1.5, 2.0, n=10_000)
    with pytest.raises(ConfigError, match="not in the fitted tail"):
        calibrate(scores, "evt", far=0.2, tail_quantile=0.9)
    with pytest.raises(ConfigError, match="at least 10"):
        calibrate(scores[:50], "evt", tail_quantile=0.9)
    with pytest.raises(ConfigError, match="below the Weibull origin"):
        calibrate(scores - 100.0, "evt")
    # The same shifted scores are fine with the exceedance form.
    assert calibrate(scores - 100.0, "evt", far=1e-2, origin=None).threshold > -100.0
    with pytest.raises(ConfigError, match="NaN or infinite"):
        calibrate(np.array([1.0, np.nan]), "percentile")
    with pytest.raises(ConfigError, match="method"):
        calibrate(scores, "gaussian")
    with pytest.raises(ConfigError, match="finite threshold"):
        calibrate(scores, "fixed")
    with pytest.raises(ConfigError, match=r"in \(0, 1\)"):
        calibrate(scores, "percentile", far=1.5)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.6, 3.0), st.floats(0.5, 5.0), st.integers(0, 2**32 - 1))
def test_evt_threshold_falls_as_the_allowed_false_alarm_rate_rises(shape, scale, seed) -> None:
    scores = weibull_sample(shape, scale, n=5_000, seed=seed)
    thresholds = [calibrate(scores, "evt", far=far).threshold for far in (1e-4, 1e-3, 1e-2)]
    assert thresholds[0] > thresholds[1] > thresholds[2] > np.quantile(scores, 0.9)
    fit = fit_tail(scores)
    np.testing.assert_allclose(fit.survival(np.array(thresholds)), [1e-4, 1e-3, 1e-2], rtol=1e-9)
