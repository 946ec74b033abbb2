"""One `load_annotations` for every format: the one-class family's parsers sit behind the same call
(and the same `--annotation-format` choices in the CLI)."""

import numpy as np

from wsvad.annotations import load_annotations
from wsvad.cli.main import build_parser


def test_ucsd_ped_ranges_load_through_load_annotations(tmp_path):
    m = tmp_path / "UCSDped2.m"
    m.write_text("TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [61:180];\n"
                 "TestVideoFile{end+1}.gt_frame = [1:10, 95:120];\n")
    got = load_annotations(m, "ucsd-ped")
    assert got["Test001"].tolist() == [[60, 179]]            # MATLAB 1-based → 0-based inclusive
    assert got["Test002"].tolist() == [[0, 9], [94, 119]]


def test_shanghaitech_frame_masks_load_through_load_annotations(tmp_path):
    masks = tmp_path / "test_frame_mask"
    masks.mkdir()
    np.save(masks / "01_0014.npy", np.array([0, 0, 1, 1, 1, 0, 1], np.int8))
    assert load_annotations(tmp_path, "shanghaitech")["01_0014"].tolist() == [[2, 4], [6, 6]]


def test_cli_offers_every_format():
    parser = build_parser()
    for fmt in ("ucf-crime", "xd-violence", "csv", "shanghaitech", "ucsd-ped", "avenue"):
        args = parser.parse_args(["extract", "--videos", "v", "--dataset", "d", "--backbone", "effnet-lite0",
                                  "--out", "o", "--annotations", "a", "--annotation-format", fmt])
        assert args.annotation_format == fmt
