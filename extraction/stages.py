"""The two stages of the job as plain Python: decode+sample one video, embed a batch of snippets.

Ray Data runs them (``extraction.pipeline``), the benchmark's sequential baseline calls them
in a loop, and tests call them directly — one implementation, three callers.

A snippet row (what flows from decode to embed) holds one snippet of one video:

=================  ==========================================================================
``key``            the video's part key (:func:`extraction.plan.part_key`)
``snippet``        index t in the video (−1: a reject row, the video yields nothing)
``num_snippets``   T on the rows of the video's last chunk, −1 before (T is known only at the
                   end: containers lie about their length), 0 on a reject row
``num_frames``     frames decoded (last chunk only, else −1)
``claimed_frames`` the container's claim (−1 unknown)
``fps``            frames per second
``note``           why decoding stopped early (last chunk) or why the video is rejected
``pixels``         uint8 ``(spatial crops, frames per input, size, size, 3)``
=================  ==========================================================================

The embed stage replaces ``pixels`` by ``features`` float32 ``(crops, D)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from extraction.decoders import DecodeError, open_video
from extraction.sampling import add_flips, cut_crops, spatial_crops

META = ("key", "snippet", "num_snippets", "num_frames", "claimed_frames", "fps", "note")


@dataclass(frozen=True)
class DecodeSpec:
    decoder: str
    frames_per_snippet: int
    positions: tuple[int, ...]      # frame offsets inside a snippet the backbone sees
    short_side: int                 # frames are resized so that their short side is this
    input_size: int                 # crop side
    crops: int                      # 1, 5 or 10
    threads: int = 1                # decoder threads per video
    chunk_bytes: int = 32 << 20     # pixels per yielded chunk (bounds a decode task's memory)
    max_chunk: int = 64             # snippets per yielded chunk, at most

    @property
    def pixel_shape(self) -> tuple[int, ...]:
        return (spatial_crops(self.crops), len(self.positions), self.input_size, self.input_size, 3)

    @property
    def chunk(self) -> int:
        return int(max(1, min(self.max_chunk, self.chunk_bytes // int(np.prod(self.pixel_shape)))))


def decode_video(path: str, key: str, spec: DecodeSpec) -> Iterator[dict[str, np.ndarray]]:
    """Snippet rows of one video, a chunk at a time; one reject row if it yields no snippet.

    The last chunk is held back until decoding ends, so that its rows can carry T, the frames
    decoded and why decoding stopped (if it stopped early).
    """
    try:
        video = open_video(path, spec.decoder, spec.threads)
    except DecodeError as error:
        yield _reject(key, str(error), spec)
        return
    held, first = None, 0
    try:
        for frames in video.snippets(spec.frames_per_snippet, np.asarray(spec.positions), spec.short_side,
                                     spec.chunk):                        # (n, k, h, w, 3)
            if held is not None:
                yield _rows(key, first - len(held), held, video, total=-1)
            held = cut_crops(frames, spec.input_size, spec.crops)        # (n, k, C, s, s, 3)
            held = np.ascontiguousarray(held.swapaxes(1, 2))             # (n, C, k, s, s, 3)
            first += len(held)
    except Exception as error:  # a decoder failure we did not foresee must not kill the job
        video.stopped = f"decoder error after {first} snippets: {type(error).__name__}: {error}"
    if held is None:
        reason = video.stopped or (f"shorter than one snippet ({video.decoded_frames} frames "
                                   f"< {spec.frames_per_snippet})")
        yield _reject(key, reason, spec, video)
        return
    yield _rows(key, first - len(held), held, video, total=first)


def decode_batch(batch: dict[str, np.ndarray], spec: DecodeSpec) -> Iterator[dict[str, np.ndarray]]:
    """Ray Data UDF over rows ``{path, key}``: every video's snippet rows."""
    for path, key in zip(batch["path"], batch["key"], strict=True):
        yield from decode_video(str(path), str(key), spec)


def _rows(key: str, first: int, pixels: np.ndarray, video, total: int) -> dict[str, np.ndarray]:
    n = len(pixels)
    last = total >= 0
    return {
        "key": np.full(n, key),
        "snippet": np.arange(first, first + n, dtype=np.int32),
        "num_snippets": np.full(n, total, np.int32),
        "num_frames": np.full(n, video.decoded_frames if last else -1, np.int64),
        "claimed_frames": np.full(n, video.claimed_frames, np.int64),
        "fps": np.full(n, video.fps, np.float32),
        "note": np.full(n, (video.stopped or "") if last else ""),
        "pixels": pixels,
    }


def _reject(key: str, reason: str, spec: DecodeSpec, video=None) -> dict[str, np.ndarray]:
    return {
        "key": np.array([key]),
        "snippet": np.array([-1], np.int32),
        "num_snippets": np.array([0], np.int32),
        "num_frames": np.array([video.decoded_frames if video else 0], np.int64),
        "claimed_frames": np.array([video.claimed_frames if video else -1], np.int64),
        "fps": np.array([video.fps if video else 0.0], np.float32),
        "note": np.array([reason]),
        "pixels": np.zeros((1, *spec.pixel_shape), np.uint8),
    }


class EmbedSnippets:
    """Ray Data callable class (one per actor): snippet rows → feature rows.

    Reject rows pass through with zero features. 10-crop flips are made here, on the tensor.
    """

    def __init__(self, info: dict, crops: int, precision: str = "fp32", threads: int = 1, use_gpu: bool = False):
        import torch

        from extraction import backbones

        torch.set_num_threads(max(1, int(threads)))
        device = "cuda" if use_gpu and torch.cuda.is_available() else "cpu"
        self.backbone = backbones.load(backbones.BackboneInfo(**info), device=device, precision=precision)
        self.crops = crops
        self.dim = self.backbone.info.dim

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        ok = np.asarray(batch["snippet"]) >= 0
        features = np.zeros((len(ok), self.crops, self.dim), np.float32)
        if ok.any():
            x = torch.from_numpy(np.ascontiguousarray(batch["pixels"][ok]))     # (n, C, k, s, s, 3)
            x = add_flips(x, self.crops)                                        # (n, crops, k, s, s, 3)
            n = x.shape[0]
            y = self.backbone.embed(x.reshape(n * self.crops, *x.shape[2:]))    # (n·crops, D)
            features[ok] = y.reshape(n, self.crops, self.dim).numpy()
        out = {name: batch[name] for name in META}
        out["features"] = features
        return out
