"""The Ray Data pipeline of object-level extraction: video paths → tracked objects (actor pool) → rows.

::

    from_items([{path, key}], one block per video)
      → map_batches(TrackObjects,          actors: compute=ActorPoolStrategy(size=workers),
                    batch_size=1,            num_gpus=fraction; one whole video per call:
                    num_gpus=fraction)       decode → detect → track → RoIAlign → pool
      → iter_batches() in the driver       rows regrouped per video, one atomic part per video

Unlike the snippet pipeline (:mod:`extraction.pipeline`), decoding runs inside the actor: a
tracker must see one video's frames in order, in one place, so a video cannot be spread over
actors, and shipping its decoded frames from a separate task through the object store would
cost more than decoding them at the detector's input size where they are used. Give the actors
the CPUs decoding needs (``cpus_per_worker``; the decoder gets that many threads). Each call
yields a video's rows batch by batch, so memory holds a batch of frames, not a video.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import numpy as np

from extraction.objects.stages import TrackObjects, TrackSpec
from extraction.pipeline import quiet_ray_data
from extraction.plan import VideoEntry


@dataclasses.dataclass(frozen=True)
class ObjectPool:
    workers: int = 1
    cpus_per_worker: float = 1.0  # Ray CPUs per actor; torch and the decoder get ceil(cpus_per_worker) threads
    gpus_per_worker: float = 0.0
    precision: str = "fp32"

    @property
    def threads(self) -> int:
        return max(1, math.ceil(self.cpus_per_worker - 1e-9))


def build_dataset(entries: list[VideoEntry], info, spec: TrackSpec, pool: ObjectPool):
    import ray.data

    quiet_ray_data()
    items = [{"path": e.path, "key": e.key} for e in entries]
    ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    return ds.map_batches(
        TrackObjects,
        fn_constructor_kwargs={"info": dataclasses.asdict(info), "spec": spec, "precision": pool.precision,
                               "threads": pool.threads, "use_gpu": pool.gpus_per_worker > 0},
        compute=ray.data.ActorPoolStrategy(size=pool.workers),
        num_cpus=pool.cpus_per_worker,
        num_gpus=pool.gpus_per_worker or None,
        batch_size=1,
        batch_format="numpy",
    )


def observation_batches(entries: list[VideoEntry], info, spec: TrackSpec,
                        pool: ObjectPool) -> Iterator[dict[str, np.ndarray]]:
    """Observation and end rows, batch by batch, as the pipeline produces them."""
    ds = build_dataset(entries, info, spec, pool)
    yield from ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1)
