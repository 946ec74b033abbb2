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
