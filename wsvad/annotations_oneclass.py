"""Annotation formats of the one-class (object-level) test sets: ShanghaiTech, UCSD Ped, Avenue.

These sets train on normal videos only (the one-class split: every training video is normal,
label 0) and label their test videos per frame, most also per pixel. Each parser returns, per
test video, a :class:`OneClassVideo`: its anomalous frames as the project's interval form --
an int64 ``(K, 2)`` array of **0-based, inclusive** ``[start, end]`` frame indices, as
:mod:`wsvad.annotations` returns, so :mod:`wsvad.protocol` works unchanged with its default
``end="inclusive"`` -- its frame count, and a lazy loader of its pixel masks where the set has
them. :func:`load_oneclass_annotations` gives just ``video_id -> intervals``, the same mapping
:func:`wsvad.annotations.load_annotations` returns.

Formats (``fmt`` of :func:`load_oneclass`)
------------------------------------------
``shanghaitech``
    ``test_frame_mask/<video>.npy``: one 0/1 label per frame (``01_0014.npy`` -> video
    ``01_0014``). ``test_pixel_mask/<video>.npy`` beside it, where present: a ``(T, H, W)``
    mask, nonzero = anomalous. ``path`` is the folder holding ``test_frame_mask/`` or that
    folder itself. Files are read with ``allow_pickle=False``.
``ucsd-ped``
    ``UCSDped2.m`` (or ``UCSDped1.m``): MATLAB lines
    ``TestVideoFile{end+1}.gt_frame = [61:180];``, the i-th being video ``Test<iii>``
    (``Test001``...). Ranges ``a:b``, ``a:s:b`` and single frames ``a``, separated by commas or
    spaces; ``[]`` means no anomaly; ``%`` starts a comment. Frame numbers are MATLAB's,
    **1-based**: ``[61:180]`` becomes the interval ``[60, 179]``. Frame counts come from the
    ``Test<iii>/*.tif`` frames beside the ``.m`` file, else from the ``Test<iii>_gt/*.bmp``
    masks (-1 when neither is there); pixel masks are the ``.bmp`` files, nonzero = anomalous.
``avenue``
    ``testing_label_mask/<n>_label.mat`` with a cell array ``volLabel`` of one ``(H, W)`` mask
    per frame (read with ``scipy.io.loadmat``; MATLAB v7.3/HDF5 files are refused). Video
    ``<n>`` is named ``<nn>`` (``1_label.mat`` -> ``01``, like ``testing_videos/01.avi``). A
    frame is anomalous when its mask has any nonzero pixel. ``path`` is ``testing_label_mask``
    or its parent.

Every malformed input raises :class:`wsvad.errors.AnnotationError` with one line naming the
file (and, for the ``.m`` text, the line): ``<file>, line <n>: <what is wrong>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from wsvad.errors import AnnotationError

FORMATS = ("shanghaitech", "ucsd-ped", "avenue")
UNKNOWN = -1
MAX_FRAME = 10**6  # hours of video, far beyond any test video of these sets; bounds memory

_UCSD_ASSIGNMENT = re.compile(
    r"TestVideoFile\s*\{\s*(?P<index>end\s*\+\s*1|[0-9]{1,4})\s*\}\s*\.\s*gt_frame\s*=\s*"
    r"\[(?P<frames>[^\]]*)\]\s*;?"
)
_UCSD_INIT = re.compile(r"TestVideoFile\s*=\s*\{\s*\}\s*;?")
_UCSD_RANGE = re.compile(r"([0-9]+)(?::([0-9]+))?(?::([0-9]+))?")
_AVENUE_FILE = re.compile(r"([0-9]+)_label\.mat")


@dataclass(frozen=True, eq=False)  # holds arrays: compare fields explicitly
class OneClassVideo:
    """One test video: anomalous frame intervals, frame count, and where its pixel masks are."""

    video_id: str
    intervals: np.ndarray  # (K, 2) int64, 0-based inclusive [start, end]
    num_frames: int  # -1: unknown (a UCSD .m file without its frame folders)
    mask_source: Path | None = None
    mask_format: str | None = None  # "npy", "bmp", "mat"

    @property
    def has_pixel_masks(self) -> bool:
        return self.mask_source is not None

    def frame_labels(self) -> np.ndarray:
        """Binary labels (uint8, ``(num_frames,)``) of every frame."""
        if self.num_frames == UNKNOWN:
            raise AnnotationError(
                f"video {self.video_id!r}: frame count unknown, cannot build frame labels "
                "(its frames or masks are not beside the annotation file)"
            )
        # Imported here: wsvad.protocol pulls in sklearn, and listing FORMATS must stay cheap.
        from wsvad.protocol import frame_labels

        return frame_labels(self.intervals, self.num_frames, "inclusive")

    def pixel_masks(self) -> np.ndarray:
        """Pixel ground truth, bool ``(T, H, W)``, read from disk now (not cached)."""
        if self.mask_source is None:
            raise AnnotationError(f"video {self.video_id!r} has no pixel masks")
        loaders: dict[str, Callable[[Path], np.ndarray]] = {
            "npy": _read_npy_masks,
            "bmp": _read_bmp_masks,
            "mat": _read_mat_masks,
        }
        masks = loaders[str(self.mask_format)](self.mask_source)
        if self.num_frames != UNKNOWN and masks.shape[0] != self.num_frames:
            _fail_file(
                self.mask_source,
                f"{masks.shape[0]} mask frames, but video {self.video_id!r} has {self.num_frames}",
            )
        return masks


def load_oneclass(path: str | Path, fmt: str) -> dict[str, OneClassVideo]:
    """Parse the test annotations at ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    parsers: dict[str, Callable[[str | Path], dict[str, OneClassVideo]]] = {
        "shanghaitech": parse_shanghaitech,
        "ucsd-ped": parse_ucsd_ped,
        "avenue": parse_avenue,
    }
    if fmt not in parsers:
        raise AnnotationError(
            f"{path}: unknown annotation format {fmt!r}, expected one of {FORMATS}"
        )
    return parsers[fmt](path)


def load_oneclass_annotations(path: str | Path, fmt: str) -> dict[str, np.ndarray]:
    """``video_id -> (K, 2)`` 0-based inclusive intervals, as ``load_annotations`` returns."""
    return {video_id: video.intervals for video_id, video in load_oneclass(path, fmt).items()}


def intervals_from_labels(labels: np.ndarray) -> np.ndarray:
    """Runs of 1s in a 1-D 0/1 array as an int64 ``(K, 2)`` array of inclusive ``[start, end]``."""
    flags = np.asarray(labels).astype(bool).astype(np.int8)
    edges = np.diff(np.concatenate([[0], flags, [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return np.stack([starts, ends], axis=1).astype(np.int64).reshape(-1, 2)


# ShanghaiTech Campus ------------------------------------------------------------------------


def parse_shanghaitech(path: str | Path) -> dict[str, OneClassVideo]:
    """``test_frame_mask/*.npy`` frame labels; ``test_pixel_mask/*.npy`` masks where present."""
    root = Path(path)
    frame_dir = root if root.name == "test_frame_mask" else root / "test_frame_mask"
    pixel_dir = frame_dir.parent / "test_pixel_mask"
    files = sorted(_list_dir(frame_dir, "*.npy"))
    if not files:
        _fail_file(frame_dir, "no <video>.npy frame-label files")
    videos: dict[str, OneClassVideo] = {}
    for file in files:
        labels = _load_npy(file)
        if labels.ndim != 1 or labels.size == 0:
            _fail_file(
                file, f"expected a non-empty 1-D array of frame labels, got shape {labels.shape}"
            )
        _check_binary(file, labels)
        mask_file = pixel_dir / file.name
        has_mask = mask_file.is_file()
        videos[file.stem] = OneClassVideo(
            video_id=file.stem,
            intervals=intervals_from_labels(labels),
            num_frames=int(labels.size),
            mask_source=mask_file if has_mask else None,
            mask_format="npy" if has_mask else None,
        )
    return videos


def _read_npy_masks(file: Path) -> np.ndarray:
    masks = _load_npy(file, mmap=True)
    if masks.ndim != 3 or 0 in masks.shape:
        _fail_file(file, f"expected a (T, H, W) pixel mask, got shape {masks.shape}")
    if masks.dtype.kind not in "biuf":
        _fail_file(file, f"pixel mask of dtype {masks.dtype} is not numeric")
    return np.asarray(masks != 0)


# UCSD Ped1 / Ped2 ---------------------------------------------------------------------------


def parse_ucsd_ped(path: str | Path) -> dict[str, OneClassVideo]:
    """``UCSDped2.m``: ``TestVideoFile{end+1}.gt_frame = [61:180];`` per test video."""
    file = Path(path)
    frames_by_index: dict[int, tuple[int, np.ndarray]] = {}  # 1-based index -> (line, intervals)
    next_index = 1
    for lineno, line in _read_text_lines(file):
        code = line.split("%", 1)[0].strip()
        if not code or _UCSD_INIT.fullmatch(code):
            continue
        match = _UCSD_ASSIGNMENT.fullmatch(code)
        if match is None:
            if "gt_frame" in code:
                _fail_line(
                    file,
                    lineno,
                    f"cannot read {code!r}, expected TestVideoFile{{end+1}}.gt_frame = [a:b, ...];",
                )
            _fail_line(file, lineno, f"unexpected statement {code!r}")
        index_text = match.group("index")
        index = next_index if index_text.startswith("end") else int(index_text)
        if index < 1:
            _fail_line(file, lineno, "TestVideoFile indices start at 1")
        if index in frames_by_index:
            _fail_line(
                file,
                lineno,
                f"TestVideoFile{{{index}}} already set on line {frames_by_index[index][0]}",
            )
        frames_by_index[index] = (lineno, _ucsd_frames(file, lineno, match.group("frames")))
        next_index = max(frames_by_index) + 1
    if not frames_by_index:
        _fail_line(file, 1, "no TestVideoFile{...}.gt_frame lines")
    missing = sorted(set(range(1, max(frames_by_index) + 1)) - set(frames_by_index))
    if missing:
        _fail_file(file, f"TestVideoFile{{{missing[0]}}} has no gt_frame line")

    videos: dict[str, OneClassVideo] = {}
    for index in sorted(frames_by_index):
        lineno, intervals = frames_by_index[index]
        video_id = f"Test{index:03d}"
        num_frames, gt_dir = _ucsd_frame_count(file.parent, video_id)
        last = int(intervals[-1, 1]) + 1 if len(intervals) else 0  # as a MATLAB frame number
        if num_frames != UNKNOWN and last > num_frames:
            _fail_line(file, lineno, f"frame {last} is beyond {video_id}'s {num_frames} frames")
        videos[video_id] = OneClassVideo(
            video_id=video_id,
            intervals=intervals,
            num_frames=num_frames,
            mask_source=gt_dir,
            mask_format="bmp" if gt_dir is not None else None,
        )
    return videos


def _ucsd_frames(file: Path, lineno: int, text: str) -> np.ndarray:
    """MATLAB ``a:b``, ``a:s:b`` and ``a`` items (commas or spaces between) as 0-based intervals."""
    pairs: list[np.ndarray] = []
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        match = _UCSD_RANGE.fullmatch(item)
        if match is None:
            _fail_line(file, lineno, f"frame range {item!r} is not a:b, a:step:b or a")
        texts = [n for n in match.groups() if n is not None]
        # Length first: int() refuses strings of thousands of digits.
        if any(len(n) > len(str(MAX_FRAME)) for n in texts) or max(map(int, texts)) > MAX_FRAME:
            _fail_line(
                file, lineno, f"frame number in {item!r} is implausibly large (> {MAX_FRAME})"
            )
        numbers = [int(n) for n in texts]
        start, stop = numbers[0], numbers[-1]
        step = numbers[1] if len(numbers) == 3 else 1
        if start < 1:
            _fail_line(file, lineno, f"frame {start} in {item!r}: MATLAB frames start at 1")
        if step < 1:
            _fail_line(file, lineno, f"step {step} in {item!r} must be >= 1")
        if stop < start:
            _fail_line(file, lineno, f"range {item!r} ends before it starts")
        if step == 1:
            pairs.append(np.array([[start - 1, stop - 1]]))
        else:
            frames = np.arange(start - 1, stop, step)  # MATLAB frame f is index f - 1
            pairs.append(np.stack([frames, frames], axis=1))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return _merge(np.concatenate(pairs).astype(np.int64))


def _merge(pairs: np.ndarray) -> np.ndarray:
    """Overlapping or touching inclusive intervals joined, sorted: the frames they label."""
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    reach = np.maximum.accumulate(pairs[:, 1])  # furthest end so far
    opens = np.concatenate([[True], pairs[1:, 0] > reach[:-1] + 1])
    first = np.flatnonzero(opens)
    return np.stack([pairs[first, 0], np.maximum.reduceat(pairs[:, 1], first)], axis=1)


def _ucsd_frame_count(folder: Path, video_id: str) -> tuple[int, Path | None]:
    """Frames in ``Test<iii>/*.tif``, else masks in ``Test<iii>_gt/*.bmp``; and the mask folder."""
    frame_dir, gt_dir = folder / video_id, folder / f"{video_id}_gt"
    n_frames = len(list(frame_dir.glob("*.tif"))) if frame_dir.is_dir() else 0
    n_masks = len(list(gt_dir.glob("*.bmp"))) if gt_dir.is_dir() else 0
    if n_frames and n_masks and n_frames != n_masks:
        _fail_file(gt_dir, f"{n_masks} .bmp masks, but {frame_dir} has {n_frames} .tif frames")
    count = n_frames or n_masks or UNKNOWN
    return count, gt_dir if n_masks else None


def _read_bmp_masks(folder: Path) -> np.ndarray:
    from PIL import (  # matplotlib's dependency; only needed here
        Image,
        UnidentifiedImageError,
    )

    masks = []
    for file in sorted(folder.glob("*.bmp")):
        try:
            with Image.open(file) as image:
                pixels = np.asarray(image)
        except (OSError, UnidentifiedImageError, ValueError) as error:
            _fail_file(file, f"cannot read the mask image ({error})")
        mask = pixels != 0 if pixels.ndim == 2 else (pixels != 0).any(axis=-1)
        if masks and mask.shape != masks[0].shape:
            _fail_file(file, f"mask of shape {mask.shape}, the folder's first is {masks[0].shape}")
        masks.append(mask)
    if not masks:
        _fail_file(folder, "no .bmp masks")
    return np.stack(masks)


# Avenue -------------------------------------------------------------------------------------


def parse_avenue(path: str | Path) -> dict[str, OneClassVideo]:
    """``testing_label_mask/<n>_label.mat`` with a ``volLabel`` cell of per-frame masks."""
    root = Path(path)
    folder = root / "testing_label_mask" if (root / "testing_label_mask").is_dir() else root
    files = {}
    for file in sorted(_list_dir(folder, "*_label.mat")):
        match = _AVENUE_FILE.fullmatch(file.name)
        if match is None:
            continue
        video_id = f"{int(match.group(1)):02d}"
        if video_id in files:
            _fail_file(file, f"video {video_id!r} again (also {files[video_id].name})")
        files[video_id] = file
    if not files:
        _fail_file(folder, "no <n>_label.mat files")
    videos: dict[str, OneClassVideo] = {}
    for video_id in sorted(files, key=int):
        masks = _read_mat_masks(files[video_id])
        labels = masks.reshape(masks.shape[0], -1).any(axis=1)
        videos[video_id] = OneClassVideo(
            video_id=video_id,
            intervals=intervals_from_labels(labels),
            num_frames=int(masks.shape[0]),
            mask_source=files[video_id],
            mask_format="mat",
        )
    return videos


def _read_mat_masks(file: Path) -> np.ndarray:
    from scipy.io import loadmat  # scipy comes with scikit-learn

    try:
        content = loadmat(file)
    except NotImplementedError:
        _fail_file(file, "MATLAB v7.3 (HDF5) file; save it with -v7 or older")
    except OSError as error:
        _fail_file(file, f"cannot read ({error.strerror or error})")
    except Exception as error:  # noqa: BLE001 -- scipy raises ValueError, TypeError, struct.error...
        _fail_file(
            file, f"not a MATLAB .mat file ({type(error).__name__}: {error})".splitlines()[0]
        )
    if "volLabel" not in content:
        keys = sorted(k for k in content if not k.startswith("__"))
        _fail_file(file, f"no volLabel variable (has {keys})")
    cell = content["volLabel"]
    if cell.dtype != object or cell.size == 0:
        _fail_file(
            file, f"volLabel must be a non-empty cell array of masks, got {cell.dtype} {cell.shape}"
        )
    masks = []
    for frame, mask in enumerate(cell.ravel(order="F")):
        mask = np.asarray(mask)
        if mask.ndim != 2 or mask.dtype.kind not in "biuf" or 0 in mask.shape:
            _fail_file(
                file,
                f"volLabel frame {frame} is not a 2-D numeric mask ({mask.dtype} {mask.shape})",
            )
        if masks and mask.shape != masks[0].shape:
            _fail_file(
                file, f"volLabel frame {frame} has shape {mask.shape}, frame 0 has {masks[0].shape}"
            )
        masks.append(mask != 0)
    return np.stack(masks)


# Shared -------------------------------------------------------------------------------------


def _fail_file(path: str | Path, what: str) -> NoReturn:
    raise AnnotationError(f"{path}: {what}")


def _fail_line(path: str | Path, lineno: int, what: str) -> NoReturn:
    raise AnnotationError(f"{path}, line {lineno}: {what}")


def _list_dir(folder: Path, pattern: str) -> list[Path]:
    if not folder.is_dir():
        _fail_file(folder, "not a directory")
    return [p for p in folder.glob(pattern) if p.is_file()]


def _load_npy(file: Path, mmap: bool = False) -> np.ndarray:
    try:
        return np.load(file, allow_pickle=False, mmap_mode="r" if mmap else None)
    except OSError as error:
        _fail_file(file, f"cannot read ({error.strerror or error})")
    except (ValueError, EOFError) as error:  # pickled objects, bad headers, truncated data
        _fail_file(file, f"not a plain NumPy .npy array ({error})".splitlines()[0])


def _check_binary(file: Path, labels: np.ndarray) -> None:
    if labels.dtype.kind not in "biuf":
        _fail_file(file, f"frame labels of dtype {labels.dtype} are not numeric")
    bad = (labels != 0) & (labels != 1)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        _fail_file(file, f"frame {index} has label {labels[index].item()!r}, expected 0 or 1")


def _read_text_lines(file: Path) -> list[tuple[int, str]]:
    try:
        data = file.read_bytes()
    except OSError as error:
        _fail_file(file, f"cannot read annotation file ({error.strerror or error})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        position = error.start
    else:
        position = -1
    if position >= 0:
        lineno = data[:position].count(b"\n") + 1
        _fail_line(file, lineno, f"not UTF-8 (byte 0x{data[position]:02x})")
    text = text.removeprefix("\ufeff")
    return [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), start=1)]
