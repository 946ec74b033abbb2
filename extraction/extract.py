"""``extract``: videos → a feature set, once, resumably (the job behind ``wsvad extract``).

Steps, each failing before any video is decoded when its input is wrong:

1. plan the videos (:mod:`extraction.plan`) and describe the backbone (weights found, checksummed);
2. check ``--out``: a new directory, or one holding this very config (:mod:`extraction.resume`);
3. frame ground truth for every test video (annotations, or the ground truth already in ``--out``);
4. run the Ray Data pipeline over the videos without a part (:mod:`extraction.pipeline`),
   writing one part per finished video and one rejects row per bad one, with progress lines;
5. finalise: ground truth, then :func:`wsvad.features.finalize_feature_set` (validation, hash,
   ``manifest.json`` with provenance) over every part in ``--out``.
"""

from __future__ import annotations

import dataclasses
import fcntl
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from extraction import backbones
from extraction.decoders import DECODERS
from extraction.errors import ExtractionError
from extraction.parts import VideoAssembler, VideoResult
from extraction.pipeline import PoolSpec
from extraction.plan import VideoEntry, plan_videos
from extraction.progress import Progress
from extraction.rejects import REJECTS, RejectLog
from extraction.resume import LOCK, check_done, check_out, init_out, mark_incomplete
from extraction.sampling import CROPS, resize_short_side, snippet_positions
from extraction.stages import DecodeSpec
from wsvad.features import finalize_feature_set
from wsvad.features.schema import PART_GLOB
from wsvad.features.writer import read_ground_truth, write_ground_truth

DTYPES = ("float32", "float16")


@dataclasses.dataclass
class ExtractionSummary:
    out: Path
    planned: int                # videos in this run's plan
    skipped: int                # already extracted (parts found), not decoded again
    extracted: int              # written by this run
    snippets: int               # snippets embedded by this run
    seconds: float
    rejected: list[dict]        # rejects.parquet rows with used=False (not in the set)
    partial: list[dict]         # rows with used=True (in the set from fewer frames than claimed)
    manifest: dict
    first_video: tuple[float, int] | None = None  # (seconds, snippets) when the first video was done

    @property
    def steady_snippets_per_s(self) -> float | None:
        """Throughput after the first video (start-up — Ray, actors, weights — excluded)."""
        if self.first_video is None or self.seconds <= self.first_video[0]:
            return None
        return (self.snippets - self.first_video[1]) / (self.seconds - self.first_video[0])

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.partial


def extract(out, dataset: str, backbone: str, *, videos=None, manifest=None, split: str | None = None,
            train_list=None, test_list=None, crops: int = 1, frames_per_snippet: int = 16, batch_size: int = 32,
            workers: int = 1, cpus_per_worker: float = 1.0, gpus_per_worker: float = 0.0, decoder: str = "decord",
            precision: str = "fp32", dtype: str = "float32", annotations=None, annotation_format: str | None = None,
            decode_cpus: float = PoolSpec.decode_cpus, address: str | None = None, num_cpus: int | None = None,
            progress_every: float = 10.0, stream=None) -> ExtractionSummary:
    stream = stream if stream is not None else sys.stderr
    _check_options(dataset, crops, frames_per_snippet, batch_size, workers, cpus_per_worker, gpus_per_worker,
                   decode_cpus, decoder, precision, dtype, annotations, annotation_format)
    out = Path(out).resolve()
    entries = plan_videos(videos=videos, manifest=manifest, split=split, train_list=train_list, test_list=test_list)
    info = backbones.describe(backbone)
    positions = snippet_positions(frames_per_snippet, info.frames_per_input or frames_per_snippet)  # None: all
    decode = DecodeSpec(decoder=decoder, frames_per_snippet=frames_per_snippet,
                        positions=tuple(int(p) for p in positions), input_size=info.input_size, crops=crops,
                        short_side=resize_short_side(info.input_size, crops))
    identity = _identity(dataset, info, decode, precision, dtype)

    check_out(out, identity)
    ground_truth = _ground_truth(out, entries, annotations, annotation_format)
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        init_out(out, identity)
        done = check_done(out, entries)
        done_keys = {e.key for e in done}
        todo = [e for e in entries if e.key not in done_keys]
        rejects = RejectLog(out)
        print(f"[extract] {len(entries)} videos planned, {len(done)} already in {out}, {len(todo)} to extract "
              f"with {info.spec} ({info.dim}-d, {crops} crop(s), {frames_per_snippet}-frame snippets, "
              f"decoder {decoder})", file=stream, flush=True)

        start = time.monotonic()
        pool = PoolSpec(workers, cpus_per_worker, gpus_per_worker, batch_size, precision, decode_cpus)
        progress = Progress(len(todo), every=progress_every, stream=stream)
        results = _run(out, todo, decode, info, dtype, pool, address, num_cpus, progress, rejects) if todo else []
        seconds = time.monotonic() - start

        if not any(out.glob(PART_GLOB)):
            first = rejects.rejected[0] if rejects.rejected else {"path": "-", "reason": "-"}
            raise ExtractionError(f"no video could be extracted into {out}: all {len(entries)} were rejected "
                                  f"(reasons in {out / REJECTS}; first: {first['path']}: {first['reason']})")
        write_ground_truth(out, _restrict(ground_truth, out))
        manifest_data = finalize_feature_set(out, dataset, _provenance(identity, info, decode, annotations,
                                                                       annotation_format, len(rejects.rejected)))
    written = [r for r in results if not r.rejected]
    return ExtractionSummary(out, len(entries), len(done), len(written), sum(r.num_snippets for r in written),
                             seconds, rejects.rejected, rejects.partial, manifest_data, progress.first)


def _run(out, todo, decode, info, dtype, pool: PoolSpec, address, num_cpus, progress: Progress,
         rejects: RejectLog) -> list[VideoResult]:
    from extraction.pipeline import feature_batches
    from extraction.ray_session import check_resources, ray_session

    mark_incomplete(out)
    assembler = VideoAssembler(out, todo, dtype)
    results: list[VideoResult] = []
    with ray_session(address=address, num_cpus=num_cpus):
        check_resources(pool.workers, pool.cpus_per_worker, pool.gpus_per_worker, pool.decode_cpus)
        for batch in feature_batches(todo, decode, info, pool):
            for result in assembler.add(batch):
                results.append(result)
                reason = _reject_reason(result)
                if reason:
                    rejects.add(result.entry.path, result.entry.video_id, reason, not result.rejected,
                                result.num_frames, result.claimed_frames)
                progress.update(result.num_snippets, rejected=result.rejected)
    progress.print()
    if assembler.in_flight:
        raise RuntimeError(f"{assembler.in_flight} video(s) never received all their snippets")
    return results


def _reject_reason(result: VideoResult) -> str:
    """Why a video is in rejects.parquet ("" if it is not): rejected, or decoded short."""
    if result.rejected:
        return result.note
    short = 0 < result.num_frames < result.claimed_frames
    if not (short or result.note):
        return ""
    what = (f"decoded {result.num_frames} of the {result.claimed_frames} frames the container claims"
            if short else f"decoding ended early after {result.num_frames} frames")
    why = f" ({result.note})" if result.note else ""
    return f"{what}{why}; the decoded frames are used"


def _identity(dataset: str, info, decode: DecodeSpec, precision: str, dtype: str) -> dict:
    """What makes two extractions' features comparable (stored as extraction.json)."""
    return {
        "dataset": dataset,
        "backbone": info.spec,
        "weights": info.weights,
        "weights_sha256": info.weights_sha256,
        "dim": info.dim,
        "input_size": info.input_size,
        "frames_per_snippet": decode.frames_per_snippet,
        "frames_per_input": len(decode.positions),
        "snippet_frame_offsets": list(decode.positions),
        "crops": decode.crops,
        "resize_short_side": decode.short_side,
        "decoder": decode.decoder,
        "precision": precision,
        "dtype": dtype,
    }


def _provenance(identity: dict, info, decode: DecodeSpec, annotations, annotation_format, rejected: int) -> dict:
    import importlib.metadata as md

    versions = {}
    for package in ("torch", "ray", "decord", "av", "open_clip_torch"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return {
        **identity,
        "extractor": "wsvad extract",
        "backbone_info": info.provenance(),
        "sampling": ("centre frame of each snippet" if len(decode.positions) == 1 else
                     f"{len(decode.positions)} frames of each snippet"),
        "crop_order": "centre, top-left, top-right, bottom-left, bottom-right, then their horizontal flips",
        "decoder_versions": versions,
        "annotations": str(Path(annotations).resolve()) if annotations else None,
        "annotation_format": annotation_format,
        "rejected_videos": rejected,
    }


def _ground_truth(out: Path, entries: list[VideoEntry], annotations, annotation_format) -> dict[str, np.ndarray]:
    """Ground truth of the planned test videos (from annotations, or already in ``--out``)."""
    from extraction.importers import PlannedVideo
    from extraction.importers import _ground_truth as importer_ground_truth  # one rule for both producers

    known = read_ground_truth(out)
    needed = [PlannedVideo(e.video_id, e.split, e.label, e.class_name, files=[], source=e.source)
              for e in entries if e.split == "test" and e.video_id not in known]
    return {**known, **importer_ground_truth(needed, annotations, annotation_format)}


def _restrict(ground_truth: dict, out: Path) -> dict:
    """Ground truth of the test videos that are in the set (rejected ones are not)."""
    present = set()
    for part in out.glob(PART_GLOB):
        table = pq.read_table(part, columns=["video_id", "split"])
        ids, splits = table.column("video_id").to_pylist(), table.column("split").to_pylist()
        present |= {v for v, s in zip(ids, splits, strict=True) if s == "test"}
    return {v: gt for v, gt in ground_truth.items() if v in present}


@contextmanager
def _exclusive(out: Path):
    """One extraction per --out at a time (the lock dies with its process, so a kill frees it)."""
    with open(out / LOCK, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExtractionError(f"another extraction is writing to {out} right now") from None
        yield


def _check_options(dataset, crops, frames_per_snippet, batch_size, workers, cpus_per_worker, gpus_per_worker,
                   decode_cpus, decoder, precision, dtype, annotations, annotation_format) -> None:
    from extraction.backbones.base import PRECISIONS

    if not isinstance(dataset, str) or not dataset.strip():
        raise ExtractionError(f"--dataset must be a non-empty name, got {dataset!r}")
    if crops not in CROPS:
        raise ExtractionError(f"--crops must be one of {', '.join(map(str, CROPS))}, got {crops}")
    for name, value in (("--frames-per-snippet", frames_per_snippet), ("--batch-size", batch_size),
                        ("--workers", workers)):
        if int(value) != value or value < 1:
            raise ExtractionError(f"{name} must be a positive integer, got {value}")
    if not cpus_per_worker > 0:
        raise ExtractionError(f"--cpus-per-worker must be > 0, got {cpus_per_worker}")
    if not decode_cpus > 0:
        raise ExtractionError(f"--decode-cpus must be > 0, got {decode_cpus}")
    if gpus_per_worker < 0:
        raise ExtractionError(f"--gpus-per-worker must be >= 0, got {gpus_per_worker}")
    if decoder not in DECODERS:
        raise ExtractionError(f"--decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
    if precision not in PRECISIONS:
        raise ExtractionError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if dtype not in DTYPES:
        raise ExtractionError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if (annotations is None) != (annotation_format is None):
        raise ExtractionError("--annotations and --annotation-format go together")
