"""Retrain options and lookups fail in one line before any Ray work; mean ± std; registry names and URIs."""

import argparse
import math
import time

import pytest

from wsvad.errors import ConfigError
from sweeps.registry import fetch_checkpoint, model_name
from sweeps.retrain_options import add_arguments, from_args, validate
from sweeps.retrain_plan import _unbracket, resolve
from sweeps.retrain_stats import mean_std


def parse(*argv):
    p = argparse.ArgumentParser()
    add_arguments(p)
    return from_args(p.parse_args([str(a) for a in argv]))


@pytest.mark.parametrize("seeds, message", [("0", "--seeds must be between 1 and 100, got 0"),
                                            ("-2", "--seeds must be between 1 and 100, got -2"),
                                            ("101", "--seeds must be between 1 and 100, got 101")])
def test_bad_seed_counts_are_refused(seeds, message):
    with pytest.raises(ConfigError, match=message):
        validate(parse("--sweep", "s", "--seeds", seeds))


def test_seeds_that_are_not_a_number_are_refused():
    with pytest.raises(ConfigError, match="--seeds must be a whole number, got 'three'"):
        parse("--sweep", "s", "--seeds", "three")


@pytest.mark.parametrize("argv, message", [
    (["--sweep", "s", "--methods", "mil,nope"], "unknown method 'nope'"),
    (["--sweep", "../s"], "--sweep must be a plain sweep name"),
    (["--sweep", "s", "--max-steps", "0"], "--max-steps must be >= 1"),
    (["--sweep", "s", "--gpus-per-trial", "lots"], "--gpus-per-trial must be auto or a number"),
    (["--sweep", "s", "--first-seed", "-1"], "--first-seed must be >= 0"),
])
def test_bad_options_are_refused(argv, message):
    with pytest.raises(ConfigError, match=message):
        validate(parse(*argv))


def test_defaults_take_everything_from_the_sweep():
    opts = parse("--sweep", "s")
    validate(opts)
    assert opts.methods is None and opts.seeds == 3 and opts.select_on == "val" and opts.first_seed is None
    assert opts.max_steps is None and opts.max_epochs is None and opts.gpus_per_trial == "auto"


def test_an_unknown_sweep_is_one_line_before_any_ray_work(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    started = time.time()
    with pytest.raises(ConfigError, match="no sweep 'ghost': no .*sweep.json and no MLflow run tagged wsvad.sweep=ghost"):
        resolve(parse("--sweep", "ghost", "--storage", tmp_path / "runs", "--tracking-uri", uri))
    assert time.time() - started < 60


def test_a_sweep_without_a_finished_trial_is_refused(tmp_path):
    from sweeps.tracking import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "wsvad/toy/000000000000")
    parent = tracker.start_parent("empty", {"methods": ["mil", "rtfm"], "seed": 0}, {"wsvad.dataset": "toy"})
    tracker.set_tags(parent, {"best/rtfm/run_id": ""})  # the sweep found no finite objective for rtfm
    for methods, message in ((["--methods", "rtfm"], "sweep 'empty' has no finished trial of rtfm"),
                             ([], "sweep 'empty' has no finished trial of any method"),
                             (["--methods", "mgfn"], r"sweep 'empty' did not sweep mgfn \(it swept: mil, rtfm\)")):
        with pytest.raises(ConfigError, match=message):
            resolve(parse("--sweep", "empty", "--storage", tmp_path / "runs", "--tracking-uri", uri, *methods))


def test_mean_and_sample_std_of_every_metric_every_seed_reports():
    stats = mean_std([{"test/auc": 0.8, "objective": 1.0, "val/auc": math.nan, "only_one": 3.0},
                      {"test/auc": 0.6, "objective": 1.0, "val/auc": 0.5}])
    assert stats == pytest.approx({"mean/test/auc": 0.7, "std/test/auc": math.sqrt(0.02),
                                   "mean/objective": 1.0, "std/objective": 0.0})
    assert mean_std([{"test/auc": 0.8}]) == {"mean/test/auc": 0.8}  # one seed: no std, not a made-up 0
    assert mean_std([]) == {}


@pytest.mark.parametrize("dataset, name", [("ucf-crime", "wsvad-ucf-crime-rtfm"), ("XD Violence (I3D)", "wsvad-xd-violence-i3d-rtfm"),
                                           ("", "wsvad-features-rtfm"), ("toy", "wsvad-toy-rtfm")])
def test_registered_model_names(dataset, name):
    assert model_name(dataset, "rtfm") == name


@pytest.mark.parametrize("uri", ["runs:/abc/model", "models:/", "models:/name", "models:/name@", "/tmp/model.pt",
                                 "models:/a b@champion"])
def test_fetch_checkpoint_refuses_what_is_not_a_registered_version(uri, tmp_path):
    with pytest.raises(ConfigError, match="is not a registered model URI"):
        fetch_checkpoint(uri, f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path)


def test_tuple_options_read_back_from_mlflow_params():
    assert _unbracket("(32, 64)") == "32, 64" and _unbracket("[1,2]") == "1,2" and _unbracket("0.001") == "0.001"


def test_the_cli_prints_one_line_and_exits_2(capsys, tmp_path):
    from wsvad.cli.main import main

    assert main(["retrain", "--sweep", "s", "--seeds", "0"]) == 2
    assert capsys.readouterr().err == "wsvad retrain: error: --seeds must be between 1 and 100, got 0\n"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["retrain", "--sweep", "ghost", "--storage", str(tmp_path), "--tracking-uri", uri]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # (MLflow logs the new SQLite file before it)
    assert last.startswith("wsvad retrain: error: no sweep 'ghost': no ") and "sweep.json" in last
