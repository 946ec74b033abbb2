"""Offline validation of cluster.yaml with Ray's own validator (a private API, wrapped here only)."""

from __future__ import annotations

from pathlib import Path

import yaml

from wsvad.errors import ConfigError


def validate_cluster_config(path) -> dict:
    from ray.autoscaler._private.util import prepare_config, validate_config

    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read cluster config ({exc})") from None
    try:
        prepared = prepare_config(config)
        validate_config(prepared)
    except Exception as exc:  # jsonschema.ValidationError, ValueError...
        raise ConfigError(f"{path}: invalid Ray cluster config: {str(exc).splitlines()[0]}") from None
    return prepared
