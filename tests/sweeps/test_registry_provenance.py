"""A registered model's checkpoint must match its version's provenance tags before it scores anything."""

import json

import pytest

from sweeps.registry import check_provenance
from wsvad.errors import CheckpointError
from wsvad.methods import get_method, make_config
from wsvad.train import save_checkpoint


@pytest.fixture()
def checkpoint(tmp_path):
    cls = get_method("mil")
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, model=cls(make_config(cls), 8), feature_set_hash="a" * 64, dataset="ucf-crime")
    return path


def _tags(**changes):
    cls = get_method("mil")
    from dataclasses import asdict

    from wsvad.train.checkpoint import _plain

    tags = {"wsvad.method": "mil", "wsvad.dataset": "ucf-crime", "wsvad.feature_set_hash": "a" * 64,
            "wsvad.config": json.dumps(_plain(asdict(make_config(cls))), sort_keys=True), "wsvad.seed": "1"}
    tags.update(changes)
    return tags


def test_matching_provenance_passes(checkpoint):
    check_provenance(checkpoint, _tags(), "models:/x@champion (version 1)")


@pytest.mark.parametrize("key,value", [("wsvad.feature_set_hash", "b" * 64), ("wsvad.method", "rtfm"),
                                       ("wsvad.dataset", "xd-violence"), ("wsvad.config", "{}")])
def test_a_checkpoint_that_does_not_match_its_version_is_refused(checkpoint, key, value):
    with pytest.raises(CheckpointError) as info:
        check_provenance(checkpoint, _tags(**{key: value}), "models:/x@champion (version 1)")
    message = str(info.value)
    assert len(message.splitlines()) == 1 and key.removeprefix("wsvad.") in message and "refusing" in message


def test_versions_without_tags_are_not_second_guessed(checkpoint):
    check_provenance(checkpoint, {}, "models:/x/1")
