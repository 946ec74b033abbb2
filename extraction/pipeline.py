"""The Ray Data pipeline: video paths → decode+sample (tasks) → backbone (actor pool) → rows.

::

    from_items([{path, key}], one block per video)
      → map_batches(decode_batch)          tasks: decode one video, yield chunks of snippet rows
      → map_batches(EmbedSnippets,         actors: compute=ActorPoolStrategy(size=workers),
                    num_gpus=fraction)       batch_size snippets per forward, from any videos
      → iter_batches() in the driver       rows regrouped per video, one atomic part per video

Decoding stays a separate task stage: decode tasks on any free CPU feed the actors
continuously; with a fractional ``decode_cpus`` (default 0.25) they run beside the actors on the
same cores, so decoding overlaps embedding instead of holding a CPU of its own. Ray fuses adjacent map operators whose resource requests match (on a CPU box
both would ask for one CPU, and the backbone would then wait on every decode); the decode
stage's ``memory`` request — the heap one decode task holds, :func:`decode_memory` — makes
them differ, so they stay two operators. Ray Data's streaming executor backpressures the
decode stage, so memory is bounded by what is in flight, not by the number of videos.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator

import numpy as np

from extraction.backbones import BackboneInfo
from extraction.plan import VideoEntry
from extraction.stages import DecodeSpec, EmbedSnippets, decode_batch


@dataclasses.dataclass(frozen=True)
class PoolSpec:
    workers: int = 1
    cpus_per_worker: float = 1.0  # Ray CPUs per actor; torch gets ceil(cpus_per_worker) threads
    gpus_per_worker: float = 0.0
    batch_size: int = 32          # snippets per backbone forward
    precision: str = "fp32"
    # Ray CPUs per decode task. A fraction lets decoding overlap the embedding actors on the same cores:
    # decoding is ~15 % of the work for EfficientNet-Lite0 (benchmarks/extract.py), so a whole reserved
    # CPU sat idle most of the time (the pipeline ran at 0.4-0.5x a plain loop on 2 cores).
    decode_cpus: float = 0.25

    @property
    def threads(self) -> int:
        return max(1, math.ceil(self.cpus_per_worker - 1e-9))


def decode_memory(decode: DecodeSpec) -> int:
    """Heap one decode task holds: the chunk being filled, the chunk held back, the block Ray
    Data buffers before yielding it, and the decoder's own frame buffers."""
    return 3 * decode.chunk * int(np.prod(decode.pixel_shape)) + (256 << 20)


def quiet_ray_data() -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False       # our own progress line replaces them
    ctx.enable_operator_progress_bars = False
    ctx.enable_auto_log_stats = False
    ctx.execution_options.verbose_progress = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def build_dataset(entries: list[VideoEntry], decode: DecodeSpec, info: BackboneInfo, pool: PoolSpec):
    import ray.data

    quiet_ray_data()
    items = [{"path": e.path, "key": e.key} for e in entries]
    ds = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
    ds = ds.map_batches(decode_batch, fn_kwargs={"spec": decode}, batch_size=1, batch_format="numpy",
                        num_cpus=pool.decode_cpus, memory=decode_memory(decode))
    return ds.map_batches(
        EmbedSnippets,
        fn_constructor_kwargs={"info": dataclasses.asdict(info), "crops": decode.crops, "precision": pool.precision,
                               "threads": pool.threads, "use_gpu": pool.gpus_per_worker > 0},
        compute=ray.data.ActorPoolStrategy(size=pool.workers),
        num_cpus=pool.cpus_per_worker,
        num_gpus=pool.gpus_per_worker or None,
        batch_size=pool.batch_size,
        batch_format="numpy",
    )


def feature_batches(entries: list[VideoEntry], decode: DecodeSpec, info: BackboneInfo,
                    pool: PoolSpec) -> Iterator[dict[str, np.ndarray]]:
    """Embedded snippet rows, batch by batch, as the pipeline produces them."""
    ds = build_dataset(entries, decode, info, pool)
    yield from ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1)
