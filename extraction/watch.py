"""Live scoring: frames in as they arrive → snippet features in a ring buffer → a score per snippet.

`wsvad watch` runs this on a file, a URL (rtsp://, http://) or anything else FFmpeg opens. The
video goes through the model's own extraction recipe (its checkpoint's feature-set provenance,
as `wsvad score` uses) but one snippet at a time: only the frames of the current snippet and the
last `window` snippet features are held, so memory stays flat however long the stream runs.

Each snippet is scored by running the model's official test path over the ring buffer and
taking the last snippet's score (the model sees up to `window` snippets of context; until the
buffer fills, it is padded at the front with its first snippet). Decoding is PyAV's (decord
cannot read streams), so features can differ from a decord extraction at the level of the
resize interpolation; scores of a file match `wsvad score --decoder pyav` once the window covers
the whole video.
"""

from __future__ import annotations

import collections
import os
import time
from dataclasses import dataclass, field

import numpy as np

from extraction.errors import ExtractionError
from extraction.sampling import add_flips, cut_crops, resized_shape
from extraction.stages import DecodeSpec


@dataclass
class SnippetScore:
    snippet: int
    end_frame: int          # frames decoded when this snippet completed
    seconds: float          # its end time in the video (end_frame / fps)
    score: float
    alarm: bool
    features: np.ndarray | None = None   # (crops, D), only with keep_features


@dataclass
class WatchSummary:
    frames: int
    snippets: int
    alarms: int
    wall_seconds: float
    fps: float
    rss_bytes: list = field(default_factory=list)   # (snippet, RSS) sampled along the way

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.wall_seconds if self.wall_seconds > 0 else 0.0


def _rss() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class LiveScorer:
    def __init__(self, model, decode: DecodeSpec, backbone, threshold: float, window: int = 32):
        if window < 1:
            raise ExtractionError(f"--window must be >= 1 snippet, got {window}")
        self.model = model
        self.decode = decode
        self.backbone = backbone
        self.threshold = float(threshold)
        self.window = int(window)
        self.ring: collections.deque = collections.deque(maxlen=self.window)   # (crops, D) per snippet

    def _embed(self, frames: np.ndarray) -> np.ndarray:
        """(k, h, w, 3) uint8 frames of one snippet → (crops, D) features, as the extraction makes them."""
        import torch

        pixels = cut_crops(frames, self.decode.input_size, self.decode.crops)       # (k, C, s, s, 3)
        x = torch.from_numpy(np.ascontiguousarray(pixels.swapaxes(0, 1))[None])    # (1, C, k, s, s, 3)
        x = add_flips(x, self.decode.crops)[0]                                     # (crops, k, s, s, 3)
        return self.backbone.embed(x).numpy()                                      # (crops, D)

    def _score_last(self) -> float:
        import torch

        items = list(self.ring)
        if len(items) < self.window:   # front padding with the first snippet until the buffer fills
            items = [items[0]] * (self.window - len(items)) + items
        video = np.stack(items, axis=1)                                            # (crops, T, D)
        with torch.no_grad():
            return float(self.model.score(torch.from_numpy(video)).float()[-1])

    def run(self, source: str, max_frames: int | None = None, keep_features: bool = False):
        """Yield a SnippetScore per completed snippet; returns (via StopIteration.value) a WatchSummary."""
        import av

        from extraction.decoders import _quiet_ffmpeg

        _quiet_ffmpeg()
        spec = self.decode
        keep = np.full(spec.frames_per_snippet, -1)
        keep[list(spec.positions)] = np.arange(len(spec.positions))   # frame offset → slot in the snippet
        try:
            container = av.open(source)
        except (av.FFmpegError, OSError) as error:
            raise ExtractionError(f"cannot open {source}: {str(error).splitlines()[0][:200]}") from None
        summary = WatchSummary(0, 0, 0, 0.0, 0.0)
        started = time.perf_counter()
        index = 0
        try:
            if not container.streams.video:
                raise ExtractionError(f"{source}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            summary.fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
            buffer = None
            for frame in container.decode(stream):
                if buffer is None:   # the size is known once a frame arrives (streams may not say before)
                    h, w = resized_shape(frame.height, frame.width, spec.short_side)
                    buffer = np.empty((len(spec.positions), h, w, 3), np.uint8)
                slot = keep[index % spec.frames_per_snippet]
                if slot >= 0:
                    buffer[slot] = frame.to_ndarray(format="rgb24", width=buffer.shape[2], height=buffer.shape[1],
                                                    interpolation="BILINEAR")
                index += 1
                if index % spec.frames_per_snippet == 0:
                    features = self._embed(buffer)
                    self.ring.append(features)
                    score = self._score_last()
                    alarm = score >= self.threshold
                    summary.snippets += 1
                    summary.alarms += int(alarm)
                    if summary.snippets == 1 or summary.snippets % 10 == 0:
                        summary.rss_bytes.append((summary.snippets, _rss()))
                    yield SnippetScore(summary.snippets - 1, index, index / summary.fps, score, alarm,
                                       features.copy() if keep_features else None)
                if max_frames is not None and index >= max_frames:
                    break
            summary.frames = index
        except av.FFmpegError as error:
            summary.frames = index
            print(f"[watch] decoding stopped after {index} frames: {str(error).splitlines()[0][:200]}", flush=True)
        finally:
            container.close()
            summary.wall_seconds = time.perf_counter() - started
        summary.rss_bytes.append((summary.snippets, _rss()))
        return summary
