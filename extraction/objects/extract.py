"""``extract_objects``: videos → an object-level feature set (the job behind ``wsvad extract-objects``).

The steps of :mod:`extraction.extract`, each failing before any video is decoded when its input
is wrong:

1. plan the videos (:mod:`extraction.plan`) and describe the detector (weights found, loaded,
   checksummed);
2. check ``--out``: a new directory, or one holding this very config (:mod:`extraction.resume`);
3. frame ground truth of every test *source* video (annotations, or what ``--out`` already holds
   in ``source-videos/ground_truth.parquet``);
4. run the videos without a part — a Ray Data actor pool (:mod:`extraction.objects.pipeline`) or,
   with ``local``, this process — writing one part per finished video (its tracks) and one
   rejects row per bad one, with progress lines;
5. finalise: each test track's ground truth (its source video's intervals projected onto its
   snippets), then :func:`wsvad.features.finalize_feature_set` (validation, hash, manifest).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from extraction.decoders import DECODERS
from extraction.errors import ExtractionError
from extraction.extract import _exclusive, _ground_truth, _reject_reason
from extraction.objects import detector as detectors
from extraction.objects.parts import (
    ObjectsResult,
    TrackAssembler,
    project_intervals,
    read_source_video,
)
from extraction.objects.proposals import BlobSpec
from extraction.objects.stages import PROPOSALS, TrackObjects, TrackSpec
from extraction.objects.tracker import TrackerSpec
from extraction.parts import part_path
from extraction.plan import VideoEntry, plan_videos
from extraction.progress import Progress
from extraction.rejects import REJECTS, RejectLog
from extraction.resume import check_out, done_keys, init_out, mark_incomplete
from wsvad.features import finalize_feature_set
from wsvad.features.schema import PART_GLOB
from wsvad.features.writer import write_ground_truth

DTYPES = ("float32", "float16")
SOURCE_DIR = "source-videos"     # the source videos' own frame ground truth lives here


@dataclasses.dataclass
class ObjectsSummary:
    out: Path
    planned: int                # videos in this run's plan
    skipped: int                # already extracted (parts found), not decoded again
    extracted: int              # written by this run (with or without tracks)
    tracks: int                 # tracks written by this run
    snippets: int               # their tracked frames
    without_tracks: list[str]   # video ids of this run in which nothing was tracked (long enough)
    seconds: float
    rejected: list[dict]        # rejects.parquet rows with used=False
    partial: list[dict]         # rows with used=True (decoded short)
    manifest: dict

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.partial


def extract_objects(out, dataset: str, detector: str, *, videos=None, manifest=None, split: str | None = None,
                    train_list=None, test_list=None, pooling: str = "gap", proposals: str = "detector",
                    input_size: int | None = None, frame_stride: int = 1, min_score: float = 0.1,
                    tracker: TrackerSpec | None = None, min_track_length: int = 16, blobs: BlobSpec | None = None,
                    batch_size: int = 8, workers: int = 1, cpus_per_worker: float = 1.0, gpus_per_worker: float = 0.0,
                    decoder: str = "decord", precision: str = "fp32", dtype: str = "float32", annotations=None,
                    annotation_format: str | None = None, address: str | None = None, num_cpus: int | None = None,
                    local: bool = False, progress_every: float = 10.0, stream=None) -> ObjectsSummary:
    stream = stream if stream is not None else sys.stderr
    tracker, blobs = tracker or TrackerSpec(), blobs or BlobSpec()
    _check_options(dataset, proposals, frame_stride, min_track_length, batch_size, workers, cpus_per_worker,
                   gpus_per_worker, decoder, precision, dtype, tracker, blobs, annotations, annotation_format)
    out = Path(out).resolve()
    entries = plan_videos(videos=videos, manifest=manifest, split=split, train_list=train_list, test_list=test_list)
    info = detectors.describe(detector, pooling=pooling, input_size=input_size, min_score=min_score)
    spec = TrackSpec(input_size=info.input_size, decoder=decoder, frame_stride=frame_stride, proposals=proposals,
                     batch_size=batch_size, tracker=tracker, blobs=blobs,
                     threads=max(1, int(np.ceil(cpus_per_worker - 1e-9))))
    identity = _identity(dataset, info, spec, min_track_length, precision, dtype)

    check_out(out, identity)
    source_ground_truth = _ground_truth(out / SOURCE_DIR, entries, annotations, annotation_format)
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        init_out(out, identity)
        done = check_done(out, entries)
        done_keys_ = {e.key for e in done}
        todo = [e for e in entries if e.key not in done_keys_]
        rejects = RejectLog(out)
        print(f"[extract-objects] {len(entries)} videos planned, {len(done)} already in {out}, {len(todo)} to track "
              f"with {info.spec} ({proposals} boxes, ByteTrack, RoIAlign + {pooling} pooling: {info.dim}-d, "
              f"one snippet per tracked frame, frame stride {frame_stride})", file=stream, flush=True)
        start = time.monotonic()
        progress = Progress(len(todo), every=progress_every, stream=stream)
        results: list[ObjectsResult] = []
        if todo:
            mark_incomplete(out)
            assembler = TrackAssembler(out, todo, dtype, min_track_length, frame_stride)
            for batch in _observation_batches(todo, info, spec, precision, workers, cpus_per_worker,
                                              gpus_per_worker, address, num_cpus, local):
                for result in assembler.add(batch):
                    results.append(result)
                    reason = _reject_reason(result)
                    if reason:
                        rejects.add(result.entry.path, result.entry.video_id, reason, not result.rejected,
                                    result.num_frames, result.claimed_frames)
                    progress.update(result.num_snippets, rejected=result.rejected)
            progress.print()
            if assembler.in_flight:
                raise RuntimeError(f"{assembler.in_flight} video(s) never received all their rows")
        seconds = time.monotonic() - start

        if not any(out.glob(PART_GLOB)):
            first = rejects.rejected[0] if rejects.rejected else {"path": "-", "reason": "-"}
            raise ExtractionError(f"no video could be extracted into {out}: all {len(entries)} were rejected "
                                  f"(reasons in {out / REJECTS}; first: {first['path']}: {first['reason']})")
        if not _any_track(out):
            raise ExtractionError(f"nothing was tracked in any of the {len(entries)} videos in {out} (for at least "
                                  f"--min-track-length {min_track_length} frames); with an untrained detector use "
                                  "--proposals blobs, else lower --min-score or --min-track-length")
        (out / SOURCE_DIR).mkdir(exist_ok=True)
        write_ground_truth(out / SOURCE_DIR, _present(source_ground_truth, out))
        write_ground_truth(out, track_ground_truth(out, source_ground_truth))
        manifest_data = finalize_feature_set(out, dataset, _provenance(identity, info, annotations, annotation_format,
                                                                       len(rejects.rejected), out))
    written = [r for r in results if not r.rejected]
    return ObjectsSummary(out, len(entries), len(done), len(written), sum(r.num_tracks for r in written),
                          sum(r.num_snippets for r in written),
                          [r.entry.video_id for r in written if r.num_tracks == 0], seconds, rejects.rejected,
                          rejects.partial, manifest_data)


def _observation_batches(todo, info, spec, precision, workers, cpus_per_worker, gpus_per_worker, address, num_cpus,
                         local: bool):
    """Observation rows of the videos in ``todo``: from the Ray actor pool, or from this process."""
    if local:
        actor = TrackObjects(dataclasses.asdict(info), spec, precision, threads=None, use_gpu=gpus_per_worker > 0)
        for entry in todo:
            yield from actor({"path": np.array([entry.path]), "key": np.array([entry.key])})
        return
    from extraction.objects.pipeline import ObjectPool, observation_batches
    from extraction.ray_session import check_resources, ray_session

    with ray_session(address=address, num_cpus=num_cpus):
        check_resources(workers, cpus_per_worker, gpus_per_worker, decode_cpus=0)
        pool = ObjectPool(workers, cpus_per_worker, gpus_per_worker, precision)
        yield from observation_batches(todo, info, spec, pool)


def check_done(out: Path, entries: list[VideoEntry]) -> list[VideoEntry]:
    """The planned videos already extracted; each part's source-video record must agree with the plan."""
    keys = done_keys(out)
    done = [e for e in entries if e.key in keys]
    for entry in done:
        path = part_path(out, entry.key)
        stored = read_source_video(path)
        if stored is None:
            raise ExtractionError(f"{path} is not an object-level part (no source-video record); use a new --out")
        planned = {"video_id": entry.video_id, "split": entry.split, "label": entry.label,
                   "class_name": entry.class_name, "source": entry.source}
        differences = [f"{k} {stored.get(k)!r} (now {v!r})" for k, v in planned.items() if stored.get(k) != v]
        if differences:
            raise ExtractionError(f"{entry.where or entry.path}: video {entry.video_id!r} was extracted into "
                                  f"{path.name} with {', '.join(differences)}; fix the input, or delete that part "
                                  "to extract it again")
    return done


def track_ground_truth(out: Path, source_ground_truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every test track's intervals: its source video's, projected onto the track's snippets."""
    ground_truth = {}
    for part in sorted(out.glob(PART_GLOB)):
        table = pq.read_table(part, columns=["video_id", "split", "source_video_id", "frame"])
        for video_id, split, source, frames in zip(*(table.column(c).to_pylist() for c in table.column_names)):
            if split == "test":
                intervals = source_ground_truth.get(source, np.zeros((0, 2), np.int64))
                ground_truth[video_id] = project_intervals(np.asarray(frames), intervals)
    return ground_truth


def _present(ground_truth: dict, out: Path) -> dict:
    """Source ground truth of the test videos that are in the set (rejected ones are not)."""
    present = {record["video_id"] for p in out.glob(PART_GLOB) if (record := read_source_video(p))}
    return {v: gt for v, gt in ground_truth.items() if v in present}


def _any_track(out: Path) -> bool:
    return any(pq.read_metadata(p).num_rows for p in out.glob(PART_GLOB))


def _identity(dataset: str, info, spec: TrackSpec, min_track_length: int, precision: str, dtype: str) -> dict:
    """What makes two object-level extractions' features comparable (stored as extraction.json)."""
    return {
        "dataset": dataset,
        "backbone": info.spec,
        "weights": info.weights,
        "weights_sha256": info.weights_sha256,
        "dim": info.dim,
        "pooling": info.pooling,
        "pooling_weights": info.pooling_weights,
        "input_size": info.input_size,
        "max_size": info.max_size,
        "min_score": info.min_score,
        "proposals": spec.proposals,
        "blobs": dataclasses.asdict(spec.blobs) if spec.proposals == "blobs" else None,
        "tracker": dataclasses.asdict(spec.tracker),
        "frame_stride": spec.frame_stride,
        "min_track_length": min_track_length,
        "snippet_unit": "one tracked frame",
        "frames_per_snippet": 1,
        "decoder": spec.decoder,
        "precision": precision,
        "dtype": dtype,
    }


def _provenance(identity: dict, info, annotations, annotation_format, rejected: int, out: Path) -> dict:
    import importlib.metadata as md

    versions = {}
    for package in ("torch", "torchvision", "supervision", "ray", "decord", "av"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    records = [r for p in sorted(out.glob(PART_GLOB)) if (r := read_source_video(p))]
    return {
        **identity,
        "extractor": "wsvad extract-objects",
        "backbone_info": info.provenance(),
        "tracker_implementation": f"ByteTrack: supervision {versions.get('supervision', '?')} sv.ByteTrack",
        "roi_align": "the detector's MultiScaleRoIAlign (7x7, sampling ratio 2, FPN level by box size) on the "
                     "FPN maps of the box's own frame",
        "track_video_id": "<source video id>#t<track id>",
        "track_labels": "a track inherits its source video's split, label and class (weak labels)",
        "ground_truth": "a test track's intervals are its source video's (inclusive ends) projected onto its "
                        "snippets: snippet t is anomalous when its frame lies in one. Evaluate with "
                        "--frames-per-snippet 1 --gt-end inclusive",
        "source_videos": len(records),
        "videos_without_tracks": sum(1 for r in records if not r["tracks"]),
        "dropped_tracks": sum(r["dropped_tracks"] for r in records),
        "decoder_versions": versions,
        "annotations": str(Path(annotations).resolve()) if annotations else None,
        "annotation_format": annotation_format,
        "rejected_videos": rejected,
    }


def _check_options(dataset, proposals, frame_stride, min_track_length, batch_size, workers, cpus_per_worker,
                   gpus_per_worker, decoder, precision, dtype, tracker: TrackerSpec, blobs: BlobSpec, annotations,
                   annotation_format) -> None:
    from extraction.backbones.base import PRECISIONS

    if not isinstance(dataset, str) or not dataset.strip():
        raise ExtractionError(f"--dataset must be a non-empty name, got {dataset!r}")
    if proposals not in PROPOSALS:
        raise ExtractionError(f"--proposals must be one of {', '.join(PROPOSALS)}, got {proposals!r}")
    for name, value in (("--frame-stride", frame_stride), ("--min-track-length", min_track_length),
                        ("--batch-size", batch_size), ("--workers", workers),
                        ("--track-buffer", tracker.lost_track_buffer)):
        if int(value) != value or value < 1:
            raise ExtractionError(f"{name} must be a positive integer, got {value}")
    for name, value in (("--track-threshold", tracker.activation_threshold),
                        ("--match-threshold", tracker.matching_threshold)):
        if not 0 < value < 1:
            raise ExtractionError(f"{name} must be between 0 and 1, got {value}")
    if not 0 < blobs.threshold < 255 or blobs.min_area < 1:
        raise ExtractionError(f"blob threshold must be in 1..254 and min area >= 1, got {blobs}")
    if not cpus_per_worker > 0:
        raise ExtractionError(f"--cpus-per-worker must be > 0, got {cpus_per_worker}")
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
