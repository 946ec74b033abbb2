"""Toy surveillance videos: small procedural clips, written as real H.264 mp4 files.

A fixed camera looks at a street (buildings, pavement, a road with lane marks); pedestrians
and cars cross it at constant speed, under sensor noise. Half the clips are normal; each
anomalous clip holds one visible event over a known frame interval:

``Arson``      a fire grows and flickers at a spot, under a plume of dark smoke;
``Explosion``  a flash lights the frame, then a fireball and a ring of debris spread;
``Fighting``   a close group of people jostles violently, with red flashes.

Written beside the clips: ``manifest.csv`` (``path,label,class_name,split,source``, the input
of ``wsvad extract --manifest``) and ``annotations.csv`` (``video_id,start_frame,end_frame``,
``--annotation-format csv``; inclusive end frames; a normal video has one row without frames).
File names follow UCF-Crime (``Arson003_x264.mp4``, ``Normal_Videos_004_x264.mp4``), so
``wsvad extract --videos DIR/videos --split ...`` reads labels from them too. ``source`` is
``real``: the toy set stands in for a real dataset (``synthetic`` marks generated videos added
to one, as GV-VAD does).

Every clip is drawn with numpy from its own seed, so a (videos, seed) pair always gives the
same pictures.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

CLASSES = ("Arson", "Explosion", "Fighting")
HEIGHT, WIDTH, FPS = 240, 320, 30


def make_toy_videos(out, videos: int = 24, seed: int = 0, test_fraction: float = 0.4,
                    frames: tuple[int, int] = (96, 192)) -> dict:
    """Write ``videos`` clips under ``out/videos`` plus the manifest and annotations; return paths."""
    if videos < 4:
        raise ValueError(f"need at least 4 videos (both labels in both splits), got {videos}")
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = np.arange(videos) % 2
    n_test = min(videos - 2, max(2, int(round(test_fraction * videos))))
    test = np.zeros(videos, bool)
    test[rng.permutation(np.flatnonzero(labels == 0))[: n_test // 2]] = True
    test[rng.permutation(np.flatnonzero(labels == 1))[: n_test - n_test // 2]] = True

    counters = {c: 0 for c in ("Normal", *CLASSES)}
    manifest, annotations = [], []
    for v in range(videos):
        video_rng = np.random.default_rng([seed, v])
        n = int(video_rng.integers(frames[0], frames[1] + 1))
        cls = CLASSES[int(video_rng.integers(len(CLASSES)))] if labels[v] else "Normal"
        counters[cls] += 1
        video_id = f"Normal_Videos_{counters[cls]:03d}_x264" if cls == "Normal" else f"{cls}{counters[cls]:03d}_x264"
        clip, event = render_clip(video_rng, n, None if cls == "Normal" else cls)
        write_mp4(out / "videos" / f"{video_id}.mp4", clip)
        split = "test" if test[v] else "train"
        manifest.append((f"videos/{video_id}.mp4", int(labels[v]), cls, split, "real"))
        annotations.append((video_id, *(event if event else ("", ""))))

    with open(out / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "label", "class_name", "split", "source"), *manifest])
    with open(out / "annotations.csv", "w", newline="") as f:
        csv.writer(f).writerows([("video_id", "start_frame", "end_frame"), *annotations])
    return {"videos": out / "videos", "manifest": out / "manifest.csv", "annotations": out / "annotations.csv",
            "num_videos": videos, "num_test": int(test.sum())}


def render_clip(rng: np.random.Generator, n: int, event: str | None) -> tuple[np.ndarray, tuple[int, int] | None]:
    """``(n, H, W, 3)`` uint8 frames, and the event's inclusive ``(start, end)`` frames (or None)."""
    background = _street(rng)
    clip = np.repeat(background[None], n, axis=0)                         # (n, H, W, 3) uint8
    _draw_traffic(rng, clip)
    interval = None
    if event is not None:
        length = int(rng.integers(int(0.35 * n), int(0.6 * n) + 1))
        start = int(rng.integers(0, n - length + 1))
        interval = (start, start + length - 1)
        {"Arson": _fire, "Explosion": _explosion, "Fighting": _fight}[event](rng, clip[start:start + length])
    for first in range(0, n, 32):                                           # sensor noise, 32 frames at a time
        part = clip[first:first + 32]
        noise = rng.normal(0, 4, size=(len(part), HEIGHT // 4, WIDTH // 4, 1)).astype(np.float32)
        noise = np.repeat(np.repeat(noise, 4, axis=1), 4, axis=2)
        part[:] = np.clip(part + noise, 0, 255).astype(np.uint8)
    return clip, interval


def write_mp4(path: Path, clip: np.ndarray, fps: int = FPS) -> None:
    import av

    tmp = path.with_name(f".tmp-{path.name}")
    with av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = clip.shape[2], clip.shape[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "20"}
        for frame in clip:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    tmp.replace(path)


# --- drawing ---------------------------------------------------------------------------------

_Y, _X = np.mgrid[0:HEIGHT, 0:WIDTH]


def _street(rng) -> np.ndarray:
    img = np.empty((HEIGHT, WIDTH, 3), np.float32)
    sky = rng.uniform(150, 200, 3)
    img[:] = sky
    for x0 in range(0, WIDTH, int(rng.integers(50, 80))):                   # buildings along the top
        w, h = int(rng.integers(35, 70)), int(rng.integers(50, 95))
        img[max(0, 100 - h):100, x0:x0 + w] = rng.uniform(70, 170, 3)
        img[max(0, 100 - h) + 8:96:14, x0 + 5:x0 + w - 5:9] = rng.uniform(190, 230)   # windows
    img[100:130] = rng.uniform(140, 170)                                    # pavement
    img[130:215] = rng.uniform(70, 95)                                      # road
    img[170:174, (np.arange(WIDTH) // 20) % 2 == 0] = 230                   # lane marks
    img[215:] = rng.uniform(140, 170)
    return img.astype(np.uint8)


def _draw_traffic(rng, clip: np.ndarray) -> None:
    n = len(clip)
    t = np.arange(n)
    for _ in range(int(rng.integers(2, 6))):                                 # pedestrians on the pavements
        y = int(rng.choice([rng.integers(96, 112), rng.integers(208, 222)]))
        x = (rng.uniform(0, WIDTH) + rng.choice([-1, 1]) * rng.uniform(0.4, 1.5) * t) % WIDTH
        body, head = rng.uniform(20, 120, 3), rng.uniform(150, 220, 3)
        for i, xi in enumerate(x.astype(int)):
            clip[i, y - 18:y, max(0, xi - 4):xi + 4] = body
            clip[i, y - 24:y - 18, max(0, xi - 3):xi + 3] = head
    for _ in range(int(rng.integers(0, 3))):                                 # cars on the road
        y = int(rng.integers(140, 200))
        x = (rng.uniform(0, WIDTH) + rng.choice([-1, 1]) * rng.uniform(2, 4) * t) % (WIDTH + 40) - 40
        color = rng.uniform(30, 230, 3)
        for i, xi in enumerate(x.astype(int)):
            clip[i, y:y + 16, max(0, xi):max(0, xi + 36)] = color
            clip[i, y + 3:y + 8, max(0, xi + 8):max(0, xi + 28)] = (180, 210, 230)


def _box(cy: float, cx: float, reach: float) -> tuple[slice, slice]:
    """The frame region within ``reach`` pixels of (cy, cx): effects draw only there."""
    return (slice(max(0, int(cy - reach)), min(HEIGHT, int(cy + reach) + 1)),
            slice(max(0, int(cx - reach)), min(WIDTH, int(cx + reach) + 1)))


def _blob(rng, box: tuple[slice, slice], cy: float, cx: float, radius: np.ndarray) -> np.ndarray:
    """(n, h, w) bool over ``box``: a disk per frame whose edge wobbles (coarse noise, upsampled)."""
    ys, xs = _Y[box], _X[box]
    h, w = ys.shape
    wobble = rng.uniform(0.7, 1.3, size=(len(radius), -(-h // 16), -(-w // 16))).astype(np.float32)
    wobble = np.repeat(np.repeat(wobble, 16, axis=1), 16, axis=2)[:, :h, :w]
    dist = np.hypot(ys - cy, xs - cx).astype(np.float32)
    return dist[None] < np.asarray(radius, np.float32)[:, None, None] * wobble


def _paint(region: np.ndarray, mask: np.ndarray, color) -> None:
    """region (n, h, w, 3) uint8 ← color where mask (n, h, w); color (3,) or (n, 1, 1, 3)."""
    region[:] = np.where(mask[..., None], np.asarray(color).astype(np.uint8), region)


def _fire(rng, clip: np.ndarray) -> None:
    n = len(clip)
    cy, cx = rng.uniform(120, 190), rng.uniform(70, 250)
    radius = np.minimum(15 + np.arange(n) * 1.5, rng.uniform(45, 65))
    flicker = rng.uniform(0.8, 1.0, size=(n, 1, 1, 1))
    box = _box(cy - 30, cx + 5, 1.3 * 1.3 * 65 + 40)
    region = clip[:, box[0], box[1]]                                          # a view: painted in place
    smoke = _blob(rng, box, cy - 55, cx + 10, radius * 1.3)
    region[smoke] = (region[smoke] * 0.3 + 30).astype(np.uint8)
    _paint(region, _blob(rng, box, cy, cx, radius), np.array([235, 95, 20]) * flicker)
    _paint(region, _blob(rng, box, cy + 5, cx, radius * 0.55), np.array([255, 225, 70]) * flicker)


def _explosion(rng, clip: np.ndarray) -> None:
    n = len(clip)
    cy, cx = rng.uniform(130, 190), rng.uniform(80, 240)
    flash = np.clip(1.0 - np.arange(min(n, 8)) / 8, 0, 1)[:, None, None, None].astype(np.float32)
    clip[:len(flash)] = (clip[:len(flash)] * (1 - flash) + 255 * flash).astype(np.uint8)
    grow = np.minimum(20 + np.arange(n) * 4.0, 150)
    box = _box(cy, cx, 150 * 1.3)
    region = clip[:, box[0], box[1]]
    ring = _blob(rng, box, cy, cx, grow)
    ring &= ~_blob(rng, box, cy, cx, grow * 0.8)
    region[ring] = (90, 70, 60)
    _paint(region, _blob(rng, box, cy, cx, np.minimum(grow * 0.6, rng.uniform(55, 75))), (255, 160, 40))
    region[_blob(rng, box, cy, cx, np.minimum(grow * 0.3, 30))] = (255, 250, 210)


def _fight(rng, clip: np.ndarray) -> None:
    n = len(clip)
    cy, cx = rng.uniform(150, 200), rng.uniform(80, 240)
    people = [(rng.uniform(-35, 35), rng.uniform(-15, 15), rng.uniform(10, 110, 3)) for _ in range(7)]
    for i in range(n):
        for dx, dy, color in people:
            jx, jy = rng.normal(0, 7, 2)
            y, x = int(cy + dy + jy), int(cx + dx + jx)
            clip[i, max(0, y - 44):y, max(0, x - 9):x + 9] = color                    # body (close to camera)
            clip[i, max(0, y - 56):max(0, y - 44), max(0, x - 6):x + 6] = (225, 180, 150)
            arm = int(rng.integers(-22, 22))
            clip[i, max(0, y - 38):max(0, y - 33), max(0, min(x, x + arm)):max(x, x + arm)] = color
        if rng.random() < 0.5:                                                       # red flashes
            box = _box(cy - 25, cx, 60)
            clip[i][box][_blob(rng, box, cy - 25, cx, np.array([rng.uniform(25, 45)]))[0]] = (220, 30, 30)
