"""Video decoders behind one interface: decord (default) and PyAV.

``open_video(path, decoder)`` returns a :class:`Video`; ``video.snippets(...)`` yields the
sampled frames of complete snippets, resized, in chunks ``(n, k, h, w, 3)`` uint8. Frames are
counted by decode order (presentation timestamps are not consulted), which is what the
official extractors do.

Bad files never raise anything but :class:`DecodeError`, whose message is the reason a
rejects list shows (missing, zero-byte, undecodable). A video whose decoding breaks off part
way (a truncated file) yields the snippets decoded before the break and records why it stopped
in ``video.stopped``; ``video.decoded_frames`` then counts what decoded. The container's own
frame count (``claimed_frames``, read from the header with PyAV for both decoders so that they
report alike) is only compared afterwards, never trusted: OpenCV's ``tree.avi`` claims 444
frames and holds 68.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from extraction.sampling import resized_shape

DECODERS = ("decord", "pyav")


class DecodeError(Exception):
    """The video yields no frames at all; ``str(error)`` is the one-line reason."""


class Video:
    """An opened video. Subclasses implement ``_read``; the snippet bookkeeping is shared."""

    def __init__(self, path: Path, fps: float, width: int, height: int, threads: int):
        self.path = path
        self.fps = float(fps)
        self.width, self.height = int(width), int(height)
        self.threads = max(1, int(threads))
        self.claimed_frames = container_frame_count(path)
        self.decoded_frames = 0
        self.stopped: str | None = None  # why decoding ended before the container's end, if it did

    def snippets(self, frames_per_snippet: int, positions: np.ndarray, short_side: int,
                 chunk: int) -> Iterator[np.ndarray]:
        """Complete snippets in order, ``chunk`` at a time: ``(n, len(positions), h, w, 3)`` uint8."""
        size = resized_shape(self.height, self.width, short_side)
        yield from self._read(frames_per_snippet, np.asarray(positions), size, max(1, int(chunk)))

    def _read(self, frames_per_snippet, positions, size, chunk) -> Iterator[np.ndarray]:
        raise NotImplementedError


def open_video(path, decoder: str = "decord", threads: int = 1) -> Video:
    """Open ``path`` with ``decoder``; raises :class:`DecodeError` with the reason if it cannot."""
    if decoder not in DECODERS:
        raise ValueError(f"unknown decoder {decoder!r}, expected one of {', '.join(DECODERS)}")
    path = Path(path)
    if not path.exists():
        raise DecodeError("file not found")
    if not path.is_file():
        raise DecodeError("not a regular file")
    if path.stat().st_size == 0:
        raise DecodeError("zero-byte file")
    if not os.access(path, os.R_OK):
        raise DecodeError("file not readable (permission denied)")
    return (DecordVideo if decoder == "decord" else PyAVVideo).open(path, threads)


def container_frame_count(path: Path) -> int:
    """The frame count the container header claims (-1 if it claims none or cannot be read)."""
    import av

    try:
        with av.open(str(path)) as container:
            return int(container.streams.video[0].frames) or -1
    except Exception:  # a header we cannot read claims nothing
        return -1


def _quiet_ffmpeg() -> None:
    """FFmpeg prints every damaged macroblock; the rejects list carries what matters."""
    import av

    av.logging.set_level(av.logging.PANIC)


class PyAVVideo(Video):
    """Sequential decode with PyAV; only the sampled frames are converted and resized."""

    @classmethod
    def open(cls, path: Path, threads: int) -> PyAVVideo:
        import av

        _quiet_ffmpeg()
        try:
            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise DecodeError("no video stream")
                stream = container.streams.video[0]
                fps = float(stream.average_rate or stream.guessed_rate or 0)
                width, height = stream.codec_context.width, stream.codec_context.height
        except av.FFmpegError as error:
            raise DecodeError(f"cannot open: {_reason(error)}") from None
        if not width or not height:
            raise DecodeError("video stream has no frame size")
        return cls(path, fps, width, height, threads)

    def _read(self, frames_per_snippet, positions, size, chunk):
        import av

        h, w = size
        keep = np.full(frames_per_snippet, -1)
        keep[positions] = np.arange(len(positions))        # frame offset -> slot in the snippet
        buffer = np.empty((chunk, len(positions), h, w, 3), np.uint8)
        filled, index = 0, 0
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                stream.thread_count = self.threads
                for frame in container.decode(stream):
                    slot = keep[index % frames_per_snippet]
                    if slot >= 0:
                        buffer[filled, slot] = frame.to_ndarray(format="rgb24", width=w, height=h,
                                                                interpolation="BILINEAR")
                    index += 1
                    if index % frames_per_snippet == 0:      # a snippet is complete
                        filled += 1
                        if filled == chunk:
                            self.decoded_frames = index
                            yield buffer.copy()
                            filled = 0
        except av.FFmpegError as error:
            self.stopped = f"decoding stopped after {index} frames: {_reason(error)}"
        self.decoded_frames = index
        if index == 0 and self.stopped is None:
            self.stopped = "no decodable frames"
        if filled:
            yield buffer[:filled].copy()


class DecordVideo(Video):
    """decord's random access: reads only the sampled frames, resized by FFmpeg while decoding."""

    @classmethod
    def open(cls, path: Path, threads: int) -> DecordVideo:
        decord = _decord()
        try:
            probe = decord.VideoReader(str(path), num_threads=1)
            height, width = probe[0].shape[:2]
            fps = probe.get_avg_fps()
            del probe
        except Exception as error:  # decord raises DECORDError / RuntimeError / IndexError
            # decord's message only says "Error reading <path>": ask FFmpeg (via PyAV) for why.
            raise DecodeError(f"cannot open: {_pyav_open_reason(path) or _reason(error)}") from None
        return cls(path, fps, width, height, threads)

    def _read(self, frames_per_snippet, positions, size, chunk):
        decord = _decord()
        h, w = size
        try:
            reader = decord.VideoReader(str(self.path), width=w, height=h, num_threads=self.threads)
            total = len(reader)
        except Exception as error:
            self.stopped = f"cannot decode: {_reason(error)}"
            return
        snippets = total // frames_per_snippet
        self.decoded_frames = total
        for first in range(0, snippets, chunk):
            count = min(chunk, snippets - first)
            starts = (first + np.arange(count)) * frames_per_snippet
            indices = (starts[:, None] + positions[None, :]).reshape(-1)
            try:
                frames = reader.get_batch(indices.tolist()).asnumpy()
            except Exception as error:
                # The index promised more than the file holds (truncated): keep what decodes.
                good = self._decodable_prefix(reader, starts, positions)
                self.decoded_frames = int((first + len(good)) * frames_per_snippet)
                self.stopped = (f"decoding stopped after {self.decoded_frames} frames "
                                f"(index claims {total}): {_reason(error)}")
                if good:
                    yield np.stack(good)
                return
            yield frames.reshape(count, len(positions), h, w, 3)

    @staticmethod
    def _decodable_prefix(reader, starts, positions) -> list[np.ndarray]:
        good = []
        for start in starts:
            try:
                good.append(reader.get_batch((start + positions).tolist()).asnumpy())
            except Exception:
                break
        return good


def _decord():
    import decord

    decord.logging.set_level(decord.logging.QUIET)
    _quiet_ffmpeg()
    return decord


def _pyav_open_reason(path: Path) -> str | None:
    import av

    try:
        with av.open(str(path)):
            return None
    except av.FFmpegError as error:
        return _reason(error)
    except Exception:
        return None


def _reason(error: BaseException) -> str:
    """A one-line reason: FFmpeg's error text (and its last log line), or decord's first line."""
    import av

    if isinstance(error, av.FFmpegError) and error.strerror:
        log = error.log[2].strip() if error.log and len(error.log) > 2 and error.log[2] else ""
        return f"{error.strerror} ({log})" if log else str(error.strerror)
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = text.split("Stack trace")[0].strip()
    return text[:300]
