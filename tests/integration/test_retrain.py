"""Retrain and reproduction table end to end against a real `mlflow server`: a tiny sweep, then
`wsvad retrain --seeds 2` (child run per seed, mean ± std, registered champion that loads), a re-run
that duplicates nothing, and `wsvad table` (all ten methods, a paper column, a real PNG)."""

import csv
import subprocess
import sys

import numpy as np
import pytest
import torch

from services import service_env
from sweeping import ROOT, run_sweep, sweep_args, sweep_runs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def wsvad(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wsvad.cli.main", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=service_env(), cwd=ROOT)


def retrain_runs(client, sweep):
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              f"tags.`wsvad.sweep` = '{sweep}' and tags.`wsvad.kind` = 'retrain'")
    parents = {r.data.tags["wsvad.method"]: r for r in runs if "wsvad.seed" not in r.data.tags}
    seeds = [r for r in runs if "wsvad.seed" in r.data.tags]
    return parents, seeds


def test_retrain_registers_a_loadable_champion_and_the_table_lists_ten_methods(tmp_path, mlflow_server, sweep_toy):
    import matplotlib.image
    import mlflow.pytorch

    from sweeps.registry import fetch_checkpoint
    from wsvad.features import load_feature_set
    from wsvad.methods import list_methods
    from wsvad.train import load_checkpoint, model_from_checkpoint

    uri, runs = mlflow_server.uri, tmp_path / "runs"
    proc = run_sweep(sweep_args(sweep_toy, runs, uri, "rt", "--methods", "mil,rtfm", "--trials", 2, "--num-cpus", 2,
                                "--max-steps", 6, "--evals-per-trial", 2, "--scheduler", "none"))
    assert proc.returncode == 0, proc.stderr[-3000:]

    retrain = ["retrain", "--sweep", "rt", "--storage", runs, "--tracking-uri", uri, "--seeds", 2, "--num-cpus", 2]
    proc = wsvad(*retrain)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,), _, client = sweep_runs(uri, "rt")
    parents, seeds = retrain_runs(client, "rt")
    assert set(parents) == {"mil", "rtfm"} and len(seeds) == 4
    for method, parent in parents.items():
        assert parent.info.status == "FINISHED" and parent.data.tags["wsvad.selected_on"] == "val"
        assert parent.data.tags["wsvad.source_run_id"] == sweep.data.tags[f"best/{method}/run_id"]
        mine = [s for s in seeds if s.data.tags["mlflow.parentRunId"] == parent.info.run_id]
        assert sorted(int(s.data.tags["wsvad.seed"]) for s in mine) == [1, 2]  # the sweep's seed 0, plus 1
        assert all(s.info.status == "FINISHED" and s.data.tags["wsvad.method"] == method for s in mine)
        for s in mine:  # each seed run: its selected model's checkpoint and plots
            assert {a.path for a in client.list_artifacts(s.info.run_id)} == {"checkpoint", "plots"}
            assert "plots/roc.png" in {a.path for a in client.list_artifacts(s.info.run_id, "plots")}
        aucs = [s.data.metrics["selected/test/auc"] for s in mine]
        assert parent.data.metrics["mean/test/auc"] == pytest.approx(np.mean(aucs))
        assert parent.data.metrics["std/test/auc"] == pytest.approx(np.std(aucs, ddof=1))
        assert parent.data.metrics["seeds_finished"] == 2 and "mean/val/video_auc" in parent.data.metrics

    # the registered champion: alias, provenance tags, and both ways of loading it agree
    version = client.get_model_version_by_alias("wsvad-toy-rtfm", "champion")
    assert parents["rtfm"].data.tags["wsvad.registered_model"] == f"models:/wsvad-toy-rtfm/{version.version}"
    assert version.run_id == parents["rtfm"].data.tags["wsvad.best_seed_run_id"]
    assert version.tags["wsvad.feature_set_hash"] == sweep.data.tags["wsvad.feature_set_hash"]
    assert version.tags["wsvad.git_sha"] and version.tags["wsvad.dataset"] == "toy"
    assert version.tags["wsvad.method"] == "rtfm" and '"lr"' in version.tags["wsvad.config"]
    checkpoint = fetch_checkpoint("models:/wsvad-toy-rtfm@champion", uri, tmp_path / "fetched")
    assert checkpoint.name == "checkpoint.pt" and [p.name for p in (tmp_path / "fetched").rglob("*.pt")] == ["checkpoint.pt"]
    ours = model_from_checkpoint(load_checkpoint(checkpoint))  # weights_only
    mlflow.set_tracking_uri(uri)
    pickled = mlflow.pytorch.load_model("models:/wsvad-toy-rtfm@champion")
    video = torch.from_numpy(np.ascontiguousarray(load_feature_set(sweep_toy).video(0), np.float32))
    with torch.no_grad():
        assert torch.allclose(pickled.eval().score(video), ours.score(video))
    assert client.get_model_version_by_alias("wsvad-toy-mil", "champion").version

    # a second run of the same retrain duplicates nothing
    proc = wsvad(*retrain)
    assert proc.returncode == 0 and proc.stdout.count("already retrained") == 2, proc.stderr[-3000:]
    again_parents, again_seeds = retrain_runs(client, "rt")
    assert {m: p.info.run_id for m, p in again_parents.items()} == {m: p.info.run_id for m, p in parents.items()}
    assert sorted(s.info.run_id for s in again_seeds) == sorted(s.info.run_id for s in seeds)
    assert len(client.search_model_versions("name = 'wsvad-toy-rtfm'")) == 1

    # the reproduction table
    proc = wsvad("table", "--sweep", "rt", "--storage", runs, "--tracking-uri", uri, "--out", tmp_path / "t" / "rt.md")
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (tmp_path / "t" / "rt.md").read_text()
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| Method")]
    assert len(rows) == len(list_methods()) == 11  # the weakly-supervised ten + temporal_mae
    assert "Paper (UCF-Crime · XD-Violence)" in text and "UCF-Crime 84.30 · XD-Violence 77.81" in text
    for name in ("Sultani MIL", "RTFM"):
        row = next(r for r in rows if r.startswith(f"| {name} |"))
        assert " ± " in row and "(n=2)" in row and "| 2 |" in row
    pixels = matplotlib.image.imread(tmp_path / "t" / "rt.png")
    assert pixels.shape[1] > 800 and np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0] > 20
    logged = [a.path for a in client.list_artifacts(sweep.info.run_id, "table")]
    assert logged == ["table/rt.md", "table/rt.png"]

    # the whole experiment, as CSV: the same retrained numbers, written locally only
    experiment = client.get_experiment(sweep.info.experiment_id).name
    proc = wsvad("table", "--experiment", experiment, "--format", "csv", "--tracking-uri", uri,
                 "--out", tmp_path / "t" / "all.csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["method"]: r for r in csv.DictReader(open(tmp_path / "t" / "all.csv"))}
    assert len(rows) == 11 and rows["vadclip"]["trials"] == "0"
    assert float(rows["rtfm"]["retrain_mean"]) == pytest.approx(100 * parents["rtfm"].data.metrics["mean/test/auc"])
    assert rows["rtfm"]["retrain_run_id"] == parents["rtfm"].info.run_id and rows["mil"]["trials"] == "2"
