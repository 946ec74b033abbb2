"""Data once: a feature set put in Ray's object store is read by tasks without a copy."""

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_trials_read_the_feature_set_zero_copy(small_toy):
    import ray

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        ref = ray.put(small_toy)

        @ray.remote
        def inspect(refs):
            fs = ray.get(refs[0])  # as sweeps/trainable.py does
            return (fs.features.flags.writeable, fs.features.flags.owndata, fs.hash, float(fs.features.sum()))

        writeable, owndata, digest, total = ray.get(inspect.remote([ref]))
        # A read-only view onto the object store's shared memory: no per-trial copy of the set.
        assert not writeable and not owndata
        assert digest == small_toy.hash
        assert total == pytest.approx(float(np.asarray(small_toy.features, np.float64).sum()), rel=1e-5)
    finally:
        ray.shutdown()
