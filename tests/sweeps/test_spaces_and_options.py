"""Search spaces and sweep options: every method has a valid editable space; bad options fail fast."""

import argparse

import pytest
import yaml

from wsvad.errors import ConfigError
from wsvad.methods import get_method, list_methods
from sweeps.gpu import fraction_for, trials_per_card
from sweeps.options import add_arguments, from_args, validate
from sweeps.spaces import SPACES_DIR, check_space, load_space, official_point, to_tune


@pytest.mark.parametrize("method", list_methods())
def test_every_method_has_a_valid_space_file_and_official_point(method):
    path = SPACES_DIR / f"{method}.yaml"
    assert path.exists(), f"missing {path}: run `python -m sweeps.spaces`"
    space = load_space(method)
    point = official_point(method, space)
    defaults = get_method(method).Config()
    assert all(point[k] == getattr(defaults, k) for k in space)
    assert set(to_tune(space)) == set(space)


def test_bad_spaces_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="not an option of rtfm"):
        check_space("rtfm", {"learning_rate": {"type": "uniform", "low": 0, "high": 1}}, "x.yaml")
    with pytest.raises(ConfigError, match="low < high"):
        check_space("rtfm", {"lr": {"type": "uniform", "low": 1, "high": 0}}, "x.yaml")
    with pytest.raises(ConfigError, match="loguniform needs low > 0"):
        check_space("rtfm", {"lr": {"type": "loguniform", "low": 0, "high": 1}}, "x.yaml")
    with pytest.raises(ConfigError, match="rtfm.k must be int"):
        check_space("rtfm", {"k": {"type": "choice", "values": ["three"]}}, "x.yaml")
    (tmp_path / "rtfm.yaml").write_text("lr: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_space("rtfm", tmp_path)


def parse(*argv):
    p = argparse.ArgumentParser()
    add_arguments(p)
    return from_args(p.parse_args([str(a) for a in argv]))


def test_options_validate_locally(small_toy, tmp_path):
    feats = tmp_path / "missing"
    with pytest.raises(ConfigError, match="not a feature set directory"):
        validate(parse("--features", feats, "--methods", "mil"))


def test_gpu_packing_arithmetic():
    gib = 2**30
    # peak 1 GiB: 1.2 GiB + 400 MiB context = 1.59 GiB per trial → 3 trials on a 6 GiB card
    assert trials_per_card(1 * gib, 6 * gib) == 3
    assert fraction_for(1 * gib, 6 * gib) == pytest.approx(1 / 3)
    assert trials_per_card(100 * 2**20, 6 * gib) == 11
    assert trials_per_card(10 * gib, 6 * gib) == 1  # never zero: one trial gets the whole card


def test_set_applies_plain_keys_where_they_exist_and_method_keys_to_that_method_only():
    from sweeps.options import fixed_for

    overrides = {"segments": "32", "batch_size": "8", "temporal_mae.segments": "4", "rtfm.k": "2"}
    assert fixed_for(overrides, "temporal_mae") == {"segments": "4", "batch_size": "8"}
    assert fixed_for(overrides, "rtfm") == {"segments": "32", "batch_size": "8", "k": "2"}
    assert fixed_for(overrides, "mil") == {"segments": "32", "batch_size": "8"}


@pytest.mark.parametrize("item, error", [
    ("nosuch.segments=4", "no method 'nosuch'"),
    ("vadclip.segments=4", "vadclip is not in --methods"),
    ("rtfm.lambda_cl=1", "rtfm: unknown option 'lambda_cl'"),
    ("rtfm.k=three", "k"),
    ("no_such_option=1", "no selected method has this option"),
])
def test_bad_set_keys_fail_before_any_cluster_work(tmp_path, item, error):
    from wsvad.toy import make_toy_feature_set

    make_toy_feature_set(tmp_path / "features", videos=8, dim=8, snippets=6, crops=1, seed=0)
    with pytest.raises(ConfigError, match=error):
        validate(parse("--features", tmp_path / "features", "--methods", "rtfm,mil", "--set", item))


@pytest.mark.parametrize("metric, ok", [("ap", True), ("video_auc", True), ("neg_loss", True),
                                        ("far", False), ("test/auc", False), ("accuracy", False)])
def test_select_metric_is_one_a_model_can_be_selected_on(tmp_path, metric, ok):
    from wsvad.toy import make_toy_feature_set

    make_toy_feature_set(tmp_path / "features", videos=8, dim=8, snippets=6, crops=1, seed=0)
    opts = parse("--features", tmp_path / "features", "--methods", "mil", "--select-metric", metric)
    assert opts.select_metric == metric
    if ok:
        validate(opts)
    else:
        with pytest.raises(ConfigError, match="higher is better"):
            validate(opts)


def test_a_fixed_option_leaves_the_search_space(tmp_path):
    from wsvad.toy import make_toy_feature_set

    make_toy_feature_set(tmp_path / "features", videos=8, dim=8, snippets=6, crops=1, seed=0)
    spaces = validate(parse("--features", tmp_path / "features", "--methods", "vadclip,rtfm", "--set", "layers=1",
                            "--set", "rtfm.k=2"))
    assert "layers" not in spaces["vadclip"] and "window" in spaces["vadclip"]   # --set wins: not sampled
    assert "k" not in spaces["rtfm"] and "lr" in spaces["rtfm"]


def test_a_search_space_value_the_fixed_options_forbid_fails_before_the_sweep(tmp_path):
    from wsvad.toy import make_toy_feature_set

    make_toy_feature_set(tmp_path / "features", videos=8, dim=8, snippets=6, crops=1, seed=0)
    with pytest.raises(ConfigError, match="can draw forecast_steps=4.*forecast_steps must be in"):
        validate(parse("--features", tmp_path / "features", "--methods", "temporal_mae",
                       "--set", "temporal_mae.segments=4"))
    validate(parse("--features", tmp_path / "features", "--methods", "temporal_mae", "--set", "temporal_mae.segments=6"))
