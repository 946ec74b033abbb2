"""cluster.yaml passes Ray's own validator offline; a broken one is refused with one line."""

from pathlib import Path

import pytest
import yaml

from wsvad.errors import ConfigError
from sweeps.cluster_config import validate_cluster_config

ROOT = Path(__file__).resolve().parents[2]


def test_cluster_yaml_is_valid_and_installs_this_project():
    config = validate_cluster_config(ROOT / "cluster.yaml")
    assert config["head_node_type"] in config["available_node_types"]
    gpu_types = [t for t, v in config["available_node_types"].items() if v["node_config"]["InstanceType"].startswith("g")]
    assert gpu_types
    setup = " ".join(config["setup_commands"])
    assert "pip install" in setup and "wsvad-sweeps" in setup
    head = " ".join(config["head_start_ray_commands"])
    assert "mlflow/server.sh --host 127.0.0.1" in head and "--dashboard-host=127.0.0.1" in head


def test_a_broken_cluster_config_is_refused(tmp_path):
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    config["head_node_type"] = "no_such_type"
    bad = tmp_path / "cluster.yaml"
    bad.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="invalid Ray cluster config"):
        validate_cluster_config(bad)
