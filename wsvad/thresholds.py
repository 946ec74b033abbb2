"""Threshold calibration on normal scores, each threshold with the false-alarm rate it implies.

One-class detectors (trained on normal videos only) output unbounded scores, so an operating
threshold must come from the scores of held-out *normal* data. :func:`calibrate` offers three
ways, and always reports the false-alarm rate (FAR) of the threshold on those normal scores:
the fraction of them scored ``>= threshold`` (a score ``>= threshold`` is an alarm, as in
:mod:`wsvad.protocol`).

``method="evt"`` -- extreme value theory, peaks over threshold
    Take the tail of the normal scores above their ``tail_quantile`` (default 0.9), ``u``. Model
    it as a Weibull distribution ``weibull_min(c, loc=origin, scale=lambda)`` *truncated to x > u*
    and fit ``c`` and ``lambda`` by maximum likelihood on the tail scores alone (the bulk below
    ``u`` never enters the fit). The tail probability of a score ``t >= u`` is then::

        P(X >= t) = zeta_u * S(t) / S(u),   S(x) = exp(-((x - origin) / lambda) ** c)

    with ``zeta_u`` the observed fraction of normal scores above ``u``; the threshold is the
    ``t`` where this equals the target ``far`` (default 1e-3), and ``far_expected`` is that
    model value.

    Why this form. The issue (and the Temporal MAE seed) ask for a Weibull fit on the tail, as
    in the open-set/EVT line (OpenMax, libMR). ``origin`` says where the Weibull's support starts:
    ``0.0`` (default) suits non-negative anomaly scores (reconstruction errors, distances) and
    makes the fit *consistent*: on a Weibull sample it recovers the true shape and scale from the
    tail alone. ``origin=None`` puts it at ``u``, which is the textbook POT form -- a Weibull fit to
    the exceedances ``x - u`` (no truncation then, since S(u) = 1). The asymptotically justified
    POT model is the generalised Pareto distribution (Pickands-Balkema-de Haan); ``tail=
    "genpareto"`` fits it to the exceedances (``scipy.stats.genpareto.fit``, ``loc=0``) for
    comparison. A Weibull of shape 1 on the exceedances is the GPD of shape 0 (exponential tail).
    Fits use the profile likelihood: for a fixed shape the scale has a closed form, and the
    shape is found by a bounded 1-D search over ``log c`` in ``[log 0.01, log 100]``.

``method="percentile"``
    ``threshold = np.quantile(scores, 1 - far)`` (linear interpolation); ``far_expected = far``.

``method="fixed"``
    The given ``threshold``; ``far_expected`` is NaN (no model), ``far_observed`` says what it does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

from wsvad.errors import ConfigError

METHODS = ("evt", "percentile", "fixed")
TAILS = ("weibull", "genpareto")
MIN_TAIL = 10  # fewer exceedances than this cannot pin down two parameters
_LOG_SHAPE_BOUNDS = (math.log(0.01), math.log(100.0))


@dataclass(frozen=True)
class TailFit:
    """The fitted tail model of an EVT calibration."""

    tail: str  # "weibull" or "genpareto"
    shape: float  # Weibull c, or GPD xi
    scale: float
    origin: float  # Weibull loc; for the GPD, u (it models x - u)
    u: float  # the tail starts above this score
    zeta_u: float  # observed fraction of normal scores > u
    n_tail: int

    def survival(self, threshold: float | np.ndarray) -> np.ndarray:
        """Model probability that a normal score is >= ``threshold`` (for thresholds >= u)."""
        t = np.asarray(threshold, dtype=np.float64)
        if self.tail == "genpareto":
            return self.zeta_u * stats.genpareto.sf(t - self.u, self.shape, scale=self.scale)
        z_u = (self.u - self.origin) / self.scale
        z_t = (t - self.origin) / self.scale
        return self.zeta_u * np.exp(-(z_t**self.shape - z_u**self.shape))


@dataclass(frozen=True)
class Calibration:
    """A threshold and the false-alarm rate it implies on the normal scores it came from."""

    method: str
    threshold: float
    far_observed: float  # fraction of the normal scores >= threshold
    far_expected: float  # by the method's model: the EVT tail, the nominal percentile; NaN if fixed
    n_normal: int
    fit: TailFit | None = None


def false_alarm_rate(normal_scores: ArrayLike, threshold: float) -> float:
    """Fraction of ``normal_scores`` that are ``>= threshold``."""
    scores = _scores(normal_scores)
    return float(np.mean(scores >= threshold))


def calibrate(
    normal_scores: ArrayLike,
    method: str = "evt",
    *,
    far: float = 1e-3,
    threshold: float | None = None,
    tail_quantile: float = 0.9,
    tail: str = "weibull",
    origin: float | None = 0.0,
) -> Calibration:
    """A threshold from ``normal_scores`` by ``method``; see the module docstring."""
    scores = _scores(normal_scores)
    if method not in METHODS:
        raise ConfigError(f"threshold method must be one of {METHODS}, got {method!r}")
    if method == "fixed":
        if threshold is None or not math.isfinite(threshold):
            raise ConfigError(f'method="fixed" needs a finite threshold, got {threshold!r}')
        value = float(threshold)
        return Calibration(method, value, float(np.mean(scores >= value)), math.nan, scores.size)
    if not 0.0 < far < 1.0:
        raise ConfigError(f"target false-alarm rate must be in (0, 1), got {far!r}")
    if method == "percentile":
        value = float(np.quantile(scores, 1.0 - far))
        return Calibration(method, value, float(np.mean(scores >= value)), far, scores.size)

    fit = fit_tail(scores, tail_quantile=tail_quantile, tail=tail, origin=origin)
    if far >= fit.zeta_u:
        raise ConfigError(
            f"target false-alarm rate {far} is not in the fitted tail (only {fit.zeta_u:.4g} of "
            f"the normal scores lie above the {tail_quantile} quantile); lower tail_quantile"
        )
    value = _tail_threshold(fit, far)
    return Calibration(
        method,
        value,
        float(np.mean(scores >= value)),
        float(fit.survival(value)),
        scores.size,
        fit,
    )


def fit_tail(
    normal_scores: ArrayLike,
    *,
    tail_quantile: float = 0.9,
    tail: str = "weibull",
    origin: float | None = 0.0,
) -> TailFit:
    """Fit the tail model of ``method="evt"`` to the scores above their ``tail_quantile``."""
    scores = _scores(normal_scores)
    if not 0.0 <= tail_quantile < 1.0:
        raise ConfigError(f"tail_quantile must be in [0, 1), got {tail_quantile!r}")
    if tail not in TAILS:
        raise ConfigError(f"tail must be one of {TAILS}, got {tail!r}")
    u = float(np.quantile(scores, tail_quantile))
    exceedances = scores[scores > u]
    if exceedances.size < MIN_TAIL:
        raise ConfigError(
            f"only {exceedances.size} normal score(s) above the {tail_quantile} quantile; "
            f"the tail fit needs at least {MIN_TAIL}"
        )
    zeta_u = exceedances.size / scores.size
    if tail == "genpareto":
        shape, _, scale = stats.genpareto.fit(exceedances - u, floc=0.0)
        return TailFit("genpareto", float(shape), float(scale), u, u, zeta_u, exceedances.size)
    start = u if origin is None else float(origin)
    if u < start:
        raise ConfigError(
            f"the tail starts at {u:.6g}, below the Weibull origin {start}; scores there are "
            "outside its support (pass origin= at or below the smallest tail score, or None)"
        )
    shape, scale = _truncated_weibull_mle(exceedances - start, u - start)
    return TailFit("weibull", shape, scale, start, u, zeta_u, exceedances.size)


def _scores(normal_scores: ArrayLike) -> np.ndarray:
    scores = np.asarray(normal_scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ConfigError(f"normal scores must be a non-empty 1-D array, got shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise ConfigError(
            "normal scores hold NaN or infinite values; no threshold can be calibrated"
        )
    return scores


def _truncated_weibull_mle(z: np.ndarray, z_u: float) -> tuple[float, float]:
    """MLE of (c, lambda) of a Weibull (loc 0) truncated to z > z_u, from samples ``z > z_u``.

    Log-likelihood: sum log c - c log lambda + (c - 1) log z_i - (z_i / lambda)^c
    + (z_u / lambda)^c.
    For fixed c the scale solves lambda^c = A(c) / n with A(c) = sum (z_i^c - z_u^c); putting it
    back leaves the profile n log c - n log(A(c) / n) + (c - 1) sum log z_i - n, maximised over c.
    """
    n = z.size
    s = float(z.max())  # work in units of the largest score: z / s <= 1, no overflow in z^c
    log_z = np.log(z / s)
    log_ratio = np.log(z_u / s) - log_z if z_u > 0 else np.full(n, -np.inf)  # log(z_u / z_i) < 0
    sum_log_z = float(log_z.sum())

    def log_a(c: float) -> float:
        # log sum (z_i^c - z_u^c) = logsumexp(c log z_i + log(1 - (z_u / z_i)^c)): stable even
        # as z_u -> z_i.
        return float(special.logsumexp(c * log_z + np.log(-np.expm1(c * log_ratio))))

    def negative_profile(log_c: float) -> float:
        c = math.exp(log_c)
        return -(n * log_c - n * (log_a(c) - math.log(n)) + (c - 1.0) * sum_log_z)

    result = optimize.minimize_scalar(
        negative_profile, bounds=_LOG_SHAPE_BOUNDS, method="bounded", options={"xatol": 1e-10}
    )
    c = math.exp(float(result.x))
    scale = s * math.exp((log_a(c) - math.log(n)) / c)
    return c, scale


def _tail_threshold(fit: TailFit, far: float) -> float:
    """The score t >= u at which the fitted tail probability equals ``far`` (< zeta_u)."""
    log_ratio = math.log(fit.zeta_u / far)  # > 0
    if fit.tail == "genpareto":
        return fit.u + float(stats.genpareto.isf(far / fit.zeta_u, fit.shape, scale=fit.scale))
    z_u = (fit.u - fit.origin) / fit.scale
    return fit.origin + fit.scale * (z_u**fit.shape + log_ratio) ** (1.0 / fit.shape)
