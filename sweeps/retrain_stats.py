"""Mean ± std over seeds: what a retrain logs on its parent run."""

from __future__ import annotations

import math
import statistics


def mean_std(per_seed: list[dict]) -> dict[str, float]:
    """`mean/<k>` and `std/<k>` of every metric that each seed reports as a finite number.

    The std is the sample standard deviation (n − 1): the seeds are a sample of what the
    configuration does. With one seed there is no std, so none is logged (never a made-up 0).
    """
    if not per_seed:
        return {}
    keys = set.intersection(*(set(values) for values in per_seed))
    out = {}
    for key in sorted(keys):
        values = [values[key] for values in per_seed]
        if not all(_finite(v) for v in values):
            continue
        values = [float(v) for v in values]
        out[f"mean/{key}"] = statistics.fmean(values)
        if len(values) > 1:
            out[f"std/{key}"] = statistics.stdev(values)
    return out


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
