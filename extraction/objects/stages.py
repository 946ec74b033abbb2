"""One video → rows of tracked objects: decode → detect (or blobs) → track → RoIAlign → pool.

Tracking is stateful per video, so one call handles one whole video, frame by frame, in order
(the Ray job gives each actor call one video; :func:`track_video` is also called directly, in a
plain loop, by ``--local`` runs and tests). Frames are decoded and run through the detector in
batches; the tracker then takes them one at a time; the boxes it keeps are pooled from the FPN
maps of their own frame in one batched RoIAlign.

An observation row (what flows to the driver) is one tracked object on one frame:

==================  =======================================================================
``key``             the source video's part key (:func:`extraction.plan.part_key`)
``frame``           frame index in the source video (decode order)
``track_id``        the tracker's id (1, 2, ...)
``box``             float32 (4,) x1 y1 x2 y2 in source-video pixels
``score``           detection score (1 for blobs)
``category``        detector category id (−1 for blobs)
``features``        float32 (D,) pooled object feature
``end``             False
==================  =======================================================================

Each video ends with one *end row* (``end`` True, ``frame``/``track_id`` −1, zero features)
that carries ``num_rows`` (the video's observation rows), ``num_frames`` decoded,
``claimed_frames``, ``fps``, ``note`` (why decoding stopped early, or why the video is rejected)
and ``rejected``. Observation rows carry −1/""/False in those columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from extraction.decoders import DecodeError, open_video
from extraction.objects.proposals import BlobProposals, BlobSpec, EvenSample
from extraction.objects.tracker import ByteTracker, TrackerSpec

PROPOSALS = ("detector", "blobs")


@dataclass(frozen=True)
class TrackSpec:
    input_size: int                 # short side frames are decoded at (the detector's input)
    decoder: str = "decord"
    frame_stride: int = 1           # track every s-th frame (frames 0, s, 2s, ...)
    proposals: str = "detector"     # detector | blobs (tests, weight-free runs)
    batch_size: int = 8             # frames per detector forward
    chunk: int = 32                 # frames per decoded chunk
    threads: int = 1                # decoder threads
    tracker: TrackerSpec = field(default_factory=TrackerSpec)
    blobs: BlobSpec = field(default_factory=BlobSpec)


def track_video(path: str, key: str, spec: TrackSpec, model, device: str = "cpu",
                precision: str = "fp32") -> Iterator[dict[str, np.ndarray]]:
    """Observation rows of one video, a batch of frames at a time, then its end row."""
    try:
        video = open_video(path, spec.decoder, spec.threads)
    except DecodeError as error:
        yield end_row(key, model.dim, rejected=True, note=str(error))
        return
    proposer = None
    if spec.proposals == "blobs":                 # a first pass for the background
        sample = EvenSample()
        for chunk in _frames(video, spec):
            for frame in chunk:
                sample.add(frame)
        if not sample.frames:
            yield end_row(key, model.dim, rejected=True, video=video, note=video.stopped or "no decodable frames")
            return
        proposer = BlobProposals(sample.median(), spec.blobs)
        video.stopped = None
    tracker = ByteTracker(spec.tracker, frame_rate=video.fps / spec.frame_stride)
    rows, decoded = 0, 0
    for chunk in _frames(video, spec):                                      # (n, h, w, 3)
        # source-video pixels per decoded pixel (x, y, x, y): boxes are stored in the video's own pixels
        scale = np.array([video.width / chunk.shape[2], video.height / chunk.shape[1]] * 2, np.float32)
        for start in range(0, len(chunk), spec.batch_size):
            first = (decoded + start) * spec.frame_stride
            out = objects_in_frames(chunk[start:start + spec.batch_size], first, spec.frame_stride, model, tracker,
                                    proposer, device, precision)
            if len(out["frame"]):
                out["box"] *= scale
                rows += len(out["frame"])
                yield observation_rows(key, out)
        decoded += len(chunk)
    if decoded == 0:
        yield end_row(key, model.dim, rejected=True, video=video,
                      note=video.stopped or f"shorter than one frame stride ({video.decoded_frames} frames "
                                            f"< {spec.frame_stride})")
        return
    yield end_row(key, model.dim, video=video, num_rows=rows, note=video.stopped or "")


def _frames(video, spec: TrackSpec) -> Iterator[np.ndarray]:
    """Every ``frame_stride``-th frame, resized, in chunks ``(n, h, w, 3)`` uint8. A decoder failure
    part way ends the stream (recorded in ``video.stopped``): the frames before it are used."""
    chunks = video.snippets(spec.frame_stride, np.array([0]), spec.input_size, spec.chunk)
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except Exception as error:  # a decoder failure we did not foresee must not kill the job
            video.stopped = f"decoder error after {video.decoded_frames} frames: {type(error).__name__}: {error}"
            return
        yield chunk[:, 0]


def objects_in_frames(frames: np.ndarray, first: int, stride: int, model, tracker: ByteTracker,
                      proposer: BlobProposals | None, device: str = "cpu",
                      precision: str = "fp32") -> dict[str, np.ndarray]:
    """Tracked objects of consecutive frames ``(b, h, w, 3)`` uint8 (frame ``first``, then every
    ``stride``-th): ``frame, track_id, box`` (decoded pixels), ``score, category, features``."""
    import torch

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    size = tuple(frames.shape[1:3])
    with torch.inference_mode():
        images = torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float().div_(255)
        with torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
            features, image_list = model.feature_maps(images)
            if proposer is None:
                found = [(d["boxes"].float().cpu().numpy(), d["scores"].float().cpu().numpy(),
                          d["labels"].cpu().numpy().astype(np.int32)) for d in model.detect(features, image_list, size)]
            else:
                found = [proposer(frame) for frame in frames]
            kept = {name: [] for name in ("frame", "track_id", "box", "score", "category")}
            for i, (boxes, scores, categories) in enumerate(found):      # the tracker: one frame at a time
                index, track_ids = tracker.update(boxes, scores)
                kept["frame"].append(np.full(len(index), first + i * stride, np.int64))
                kept["track_id"].append(track_ids.astype(np.int32))
                kept["box"].append(boxes[index].astype(np.float32).reshape(-1, 4))
                kept["score"].append(scores[index].astype(np.float32))
                kept["category"].append(categories[index].astype(np.int32))
            boxes = [torch.from_numpy(b).to(device) for b in kept["box"]]
            pooled = model.object_features(features, image_list, boxes, size)   # (K, D)
    out = {name: np.concatenate(values) for name, values in kept.items()}
    out["features"] = pooled.float().cpu().numpy()
    return out


def observation_rows(key: str, out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    n = len(out["frame"])
    return {"key": np.full(n, key), **out, "end": np.zeros(n, bool), "num_rows": np.full(n, -1, np.int64),
            "num_frames": np.full(n, -1, np.int64), "claimed_frames": np.full(n, -1, np.int64),
            "fps": np.zeros(n, np.float32), "note": np.full(n, ""), "rejected": np.zeros(n, bool)}


def end_row(key: str, dim: int, *, rejected: bool = False, video=None, num_rows: int = 0,
            note: str = "") -> dict[str, np.ndarray]:
    return {"key": np.array([key]), "frame": np.array([-1], np.int64), "track_id": np.array([-1], np.int32),
            "box": np.zeros((1, 4), np.float32), "score": np.zeros(1, np.float32),
            "category": np.array([-1], np.int32), "features": np.zeros((1, dim), np.float32),
            "end": np.array([True]), "num_rows": np.array([num_rows], np.int64),
            "num_frames": np.array([video.decoded_frames if video else 0], np.int64),
            "claimed_frames": np.array([video.claimed_frames if video else -1], np.int64),
            "fps": np.array([video.fps if video else 0.0], np.float32), "note": np.array([note]),
            "rejected": np.array([rejected])}


class TrackObjects:
    """Ray Data callable class (one per actor): ``{path, key}`` rows → observation rows.

    The model is built once per actor (seeded, weights from the checkpoint file); each call
    handles whole videos (``batch_size=1`` in the pipeline: one video per call).
    """

    def __init__(self, info: dict, spec: TrackSpec, precision: str = "fp32", threads: int | None = 1,
                 use_gpu: bool = False):
        import torch

        from extraction.objects.detector import DetectorInfo, build

        if threads is not None:              # an actor owns its process; a --local run leaves torch as it is
            torch.set_num_threads(max(1, int(threads)))
        self.device = "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
        self.info = DetectorInfo(**info)
        self.model = build(self.info).to(self.device)
        self.spec, self.precision = spec, precision

    def __call__(self, batch: dict[str, np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        for path, key in zip(batch["path"], batch["key"], strict=True):
            yield from track_video(str(path), str(key), self.spec, self.model, self.device, self.precision)
