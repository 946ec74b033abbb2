"""The published numbers (sweeps/references.yaml) and which of them a feature set compares against."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from wsvad.errors import ConfigError

REFERENCES = Path(__file__).with_name("references.yaml")
PAPER_DATASETS = ("ucf-crime", "xd-violence")


@dataclass(frozen=True)
class Reference:
    value: float          # percent
    source: str
    note: str = ""
    unconfirmed: bool = False


@dataclass(frozen=True)
class MethodReferences:
    method: str
    name: str             # as the field writes it, e.g. "Sultani MIL"
    numbers: dict         # paper dataset -> Reference (absent: no published number)


@lru_cache(maxsize=None)
def load_references(path: Path = REFERENCES) -> tuple[dict, dict[str, MethodReferences]]:
    """(datasets: key -> {label, metric}, methods: name -> MethodReferences), in file order."""
    import yaml  # here, not at import: `wsvad --help` builds this command's parser

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the paper references ({exc})") from None
    datasets = data["datasets"]
    methods = {}
    for method, entry in data["methods"].items():
        numbers = {}
        for key in PAPER_DATASETS:
            ref = entry.get(key)
            if ref is not None:
                numbers[key] = Reference(float(ref["value"]), str(ref["source"]), str(ref.get("note", "")),
                                         bool(ref.get("unconfirmed", False)))
        methods[method] = MethodReferences(method, str(entry["name"]), numbers)
    return datasets, methods


def paper_dataset(dataset: str) -> str | None:
    """The published benchmark a feature set's dataset name stands for, or None (toy, ShanghaiTech, ...)."""
    slug = re.sub(r"[^a-z0-9]", "", dataset.lower())
    if slug.startswith("ucfcrime") or slug == "ucf":
        return "ucf-crime"
    if slug.startswith("xdviolence") or slug == "xd":
        return "xd-violence"
    return None
