"""Every call into Ray's session API lives here (DESIGN.md: one wrapper module per API).

``ray_session`` joins a running session (a test's, a notebook's), connects to a cluster
(``address``: ``auto``, ``host:port`` or ``ray://host:10001``), or starts an embedded local Ray
that it shuts down again (always a new one: ``address="local"``, so a ``ray start`` cluster that
happens to run on the host is never borrowed silently). Cluster nodes need this package and its pinned stack installed
(cluster.yaml's setup commands), and any local checkpoint path visible on every node.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from extraction.errors import ExtractionError


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None, num_gpus: float | None = None,
                object_store_memory: int | None = None):
    import ray

    if ray.is_initialized():
        yield
        return
    common = dict(include_dashboard=False, logging_level=logging.WARNING)
    if address:
        ray.init(address=address, **common)
    else:  # "local": always a new embedded instance, never someone's `ray start` cluster found on the host
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, object_store_memory=object_store_memory,
                 **common)
    try:
        yield
    finally:
        ray.shutdown()


def check_resources(workers: int, cpus_per_worker: float, gpus_per_worker: float, decode_cpus: float) -> None:
    """Refuse an actor pool that cannot start or would leave no CPU to decode with."""
    import ray

    total = ray.cluster_resources()
    cpus, gpus = float(total.get("CPU", 0)), float(total.get("GPU", 0))
    if workers * gpus_per_worker > gpus + 1e-9:
        raise ExtractionError(f"--workers {workers} x --gpus-per-worker {gpus_per_worker:g} needs "
                              f"{workers * gpus_per_worker:g} GPUs; the Ray cluster has {gpus:g}")
    if workers * cpus_per_worker + decode_cpus > cpus + 1e-9:
        raise ExtractionError(f"--workers {workers} x --cpus-per-worker {cpus_per_worker:g} leaves "
                              f"{max(cpus - workers * cpus_per_worker, 0):g} of the cluster's {cpus:g} CPUs for "
                              f"decoding (needs --decode-cpus {decode_cpus:g}); use fewer workers, a smaller "
                              "--cpus-per-worker or --decode-cpus")
