"""`wsvad extract` / `wsvad toy-videos` arguments: bad input is one line and exit 2, before any decoding."""

import subprocess
import sys

import pytest

from extraction.resume import init_out
from wsvad.cli.main import main


def test_extract_help_imports_nothing_heavy():
    code = ("import sys, wsvad.cli.main as m\n"
            "for cmd in ('extract', 'toy-videos'):\n"
            "    try:\n        m.main([cmd, '--help'])\n    except SystemExit:\n        pass\n"
            "print([x for x in ('ray', 'torch', 'open_clip', 'decord', 'av') if x in sys.modules], file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip() == "[]" and "--gpus-per-worker" in proc.stdout and "--test-fraction" in proc.stdout


@pytest.mark.parametrize(("argv", "message"), [
    (["--videos", "{clips}"], "a folder of videos carries no split"),
    (["--manifest", "{manifest}"], "and 1 more has no frame ground truth (attach annotations"),
    (["--manifest", "{manifest}", "--annotations", "{annotations}"], "--annotations and --annotation-format go"),
    (["--manifest", "{manifest}", "--backbone", "clip:ViT-B-16:openai"], "Supply them as a local file"),
    (["--manifest", "{manifest}", "--out", "{foreign}"], "holds features extracted with another config (backbone:"),
    (["--manifest", "{manifest}", "--workers", "0"], "argument --workers: expected a positive integer"),
])
def test_bad_extract_input_is_one_line_exit_2(toy_clips, tmp_path, capsys, argv, message):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    init_out(foreign, {"dataset": "toy", "backbone": "clip:ViT-S-32:random"})
    (foreign / "part-0123456789abcdef.parquet").write_bytes(b"")        # it holds features
    values = {"clips": toy_clips["videos"], "manifest": toy_clips["manifest"],
              "annotations": toy_clips["annotations"], "foreign": foreign}
    args = ["extract", "--dataset", "toy", "--backbone", "effnet-lite0", "--out", str(tmp_path / "out"),
            *[a.format(**values) for a in argv]]
    try:
        code = main(args)
    except SystemExit as exit_:                 # argparse errors exit by themselves
        code = exit_.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1], err
    assert "Traceback" not in "\n".join(err)
    if "another config" not in message:
        assert not (tmp_path / "out").exists()  # refused before anything was written


def test_toy_videos_command(tmp_path, capsys):
    assert main(["toy-videos", "--out", str(tmp_path / "toy"), "--videos", "4", "--seed", "2"]) == 0
    assert len(list((tmp_path / "toy" / "videos").glob("*.mp4"))) == 4
    assert "wsvad extract --manifest" in capsys.readouterr().out
    assert main(["toy-videos", "--out", str(tmp_path / "t2"), "--videos", "3"]) == 2
    assert "--videos must be at least 4" in capsys.readouterr().err
