"""Search spaces: `sweeps/spaces/<method>.yaml`, editable by users, seeded from each method's
declared `search_space`. The official defaults are always evaluated first.

YAML format (one entry per swept option; keys must be fields of the method's Config):

    lr: {type: loguniform, low: 1.0e-4, high: 3.0e-3}
    k: {type: int, low: 1, high: 8}
    margin: {type: choice, values: [10.0, 50.0, 100.0]}
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from wsvad.errors import ConfigError
from wsvad.methods import get_method, make_config

SPACES_DIR = Path(__file__).resolve().parent / "spaces"
TYPES = ("loguniform", "uniform", "int", "choice")


def space_path(method: str, spaces_dir: Path | None = None) -> Path:
    return Path(spaces_dir or SPACES_DIR) / f"{method}.yaml"


def load_space(method: str, spaces_dir: Path | None = None) -> dict:
    """The method's search space: its YAML file if present, else the method's declaration."""
    cls = get_method(method)
    path = space_path(method, spaces_dir)
    if path.exists():
        try:
            space = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    else:
        space = dict(cls.search_space)
    check_space(method, space, str(path))
    return space


def check_space(method: str, space: dict, where: str) -> None:
    cls = get_method(method)
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{where}: a search space must be a non-empty mapping of option -> spec")
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    for key, spec in space.items():
        if key not in fields:
            raise ConfigError(f"{where}: {key!r} is not an option of {method} (options: {', '.join(sorted(fields))})")
        if not isinstance(spec, dict) or spec.get("type") not in TYPES:
            raise ConfigError(f"{where}: {key}: 'type' must be one of {', '.join(TYPES)}")
        if spec["type"] == "choice":
            values = spec.get("values")
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{where}: {key}: a choice needs a non-empty 'values' list")
            for v in values:
                make_config(cls, {key: v})  # each value must type-check
        else:
            low, high = spec.get("low"), spec.get("high")
            if not isinstance(low, (int, float)) or not isinstance(high, (int, float)) or not low < high:
                raise ConfigError(f"{where}: {key}: needs numeric low < high, got {low!r}, {high!r}")
            if spec["type"] == "loguniform" and low <= 0:
                raise ConfigError(f"{where}: {key}: loguniform needs low > 0")
            make_config(cls, {key: int(low) if spec["type"] == "int" else float(low)})


def official_point(method: str, space: dict) -> dict:
    """The official defaults of the swept options: the first trial of every search."""
    defaults = dataclasses.asdict(get_method(method).Config())
    return {key: defaults[key] for key in space}


def to_tune(space: dict) -> dict:
    """Ray Tune sampling domains (OptunaSearch converts them to Optuna distributions)."""
    from ray import tune

    out = {}
    for key, spec in space.items():
        t = spec["type"]
        if t == "loguniform":
            out[key] = tune.loguniform(float(spec["low"]), float(spec["high"]))
        elif t == "uniform":
            out[key] = tune.uniform(float(spec["low"]), float(spec["high"]))
        elif t == "int":
            out[key] = tune.randint(int(spec["low"]), int(spec["high"]) + 1)  # inclusive high
        else:
            out[key] = tune.choice(list(spec["values"]))
    return out


def write_default_spaces(spaces_dir: Path | None = None, overwrite: bool = False) -> list[Path]:
    """Write each registered method's declared space as YAML (the starting point users edit)."""
    from wsvad.methods import list_methods

    written = []
    for method in list_methods():
        path = space_path(method, spaces_dir)
        if path.exists() and not overwrite:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        header = (f"# Search space of {method} ({get_method(method).official_code}).\n"
                  "# Keys are options of the method's Config; types: loguniform, uniform, int (inclusive), choice.\n"
                  "# The official defaults are always evaluated first.\n")
        path.write_text(header + yaml.safe_dump(get_method(method).search_space, sort_keys=True, default_flow_style=None, width=120))
        written.append(path)
    return written


if __name__ == "__main__":
    import sys

    for p in write_default_spaces(overwrite="--overwrite" in sys.argv):
        print(f"wrote {p}")
