"""The reproduction table's rows, built from runs (no MLflow calls here: tests hand-make the runs).

One row per registered method, in references.yaml's order, runs or not:
- paper: the published number on the feature set's benchmark (UCF-Crime AUC %, XD-Violence AP %);
  on any other dataset both published numbers are shown and no delta is computed;
- best trial: the sweep's best trial (`wsvad.best_of_method`, else the highest objective), its
  selected model's test metric; marked when the sweep selected on the test set;
- retrained: mean ± std over seeds of the newest finished retrain, validation-selected (a
  test-selected retrain is used only when no other exists, and marked);
- delta: retrained mean − paper (best trial − paper, marked, while there is no retrain);
- trials run, compute (summed `train_seconds` of the method's trials), feature set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sweeps.table_references import PAPER_DATASETS, Reference, load_references, paper_dataset


@dataclass
class RunRecord:
    """What the table needs of an MLflow run."""
    run_id: str
    status: str = "FINISHED"
    start_time: int = 0
    tags: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


@dataclass
class Row:
    method: str
    name: str
    paper: dict                          # paper dataset -> Reference (only the compared one, or both)
    best_trial: float | None = None      # percent
    best_trial_selected_on: str = ""
    best_trial_run_id: str = ""
    retrain_mean: float | None = None    # percent
    retrain_std: float | None = None
    retrain_seeds: int = 0
    retrain_selected_on: str = ""
    retrain_run_id: str = ""
    delta: float | None = None           # points
    delta_from: str = ""                 # "retrain" or "trial"
    trials: int = 0
    trials_failed: int = 0
    compute_seconds: float = 0.0
    feature_set: str = ""


@dataclass
class Table:
    title: str
    dataset: str                         # the feature set's dataset name
    compared_to: str | None              # "ucf-crime", "xd-violence" or None (no published numbers)
    metric: str                          # wsvad metric shown, e.g. "auc"
    metric_label: str                    # e.g. "UCF-Crime AUC %"
    rows: list[Row]


def build_table(runs: list[RunRecord], title: str, paper: str = "auto") -> Table:
    """`paper`: auto (from the runs' dataset tag), ucf-crime or xd-violence."""
    datasets, references = load_references()
    sweeps = [r for r in runs if r.tags.get("wsvad.kind") == "sweep"]
    dataset = next((r.tags["wsvad.dataset"] for r in sweeps if r.tags.get("wsvad.dataset")), "") or next(
        (r.tags["wsvad.dataset"] for r in runs if r.tags.get("wsvad.dataset")), "")
    compared = paper_dataset(dataset) if paper == "auto" else paper
    metric = datasets[compared]["metric"] if compared else "auc"
    label = datasets[compared]["label"] if compared else f"{dataset or 'unknown dataset'} AUC %"
    rows = []
    for method, ref in references.items():
        mine = [r for r in runs if r.tags.get("wsvad.method") == method]
        numbers = {compared: ref.numbers[compared]} if compared in ref.numbers else (
            {} if compared else {k: ref.numbers[k] for k in PAPER_DATASETS if k in ref.numbers})
        row = Row(method, ref.name, numbers)
        _fill_trials(row, [r for r in mine if r.tags.get("wsvad.kind") == "trial"], metric)
        _fill_retrain(row, [r for r in mine if r.tags.get("wsvad.kind") == "retrain"
                            and "wsvad.seed" not in r.tags], metric)
        _fill_delta(row, numbers.get(compared) if compared else None)
        hashes = sorted({r.tags["wsvad.feature_set_hash"] for r in mine if r.tags.get("wsvad.feature_set_hash")})
        row.feature_set = ", ".join(f"{dataset or 'features'}/{h[:8]}" for h in hashes)
        rows.append(row)
    return Table(title, dataset, compared, metric, label, rows)


def _fill_trials(row: Row, trials: list[RunRecord], metric: str) -> None:
    row.trials = len(trials)
    row.trials_failed = sum(r.status == "FAILED" for r in trials)
    row.compute_seconds = sum(_num(r.metrics.get("train_seconds")) or 0.0 for r in trials)
    key = f"selected/test/{metric}"
    scored = [r for r in trials if _num(r.metrics.get(key)) is not None and _num(r.metrics.get("objective")) is not None]
    chosen = [r for r in scored if r.tags.get("wsvad.best_of_method") == "true"] or scored
    if not chosen:
        return
    best = max(chosen, key=lambda r: r.metrics["objective"])
    row.best_trial = 100.0 * best.metrics[key]
    row.best_trial_selected_on = best.tags.get("wsvad.selected_on", "")
    row.best_trial_run_id = best.run_id


def _fill_retrain(row: Row, parents: list[RunRecord], metric: str) -> None:
    done = [r for r in parents if r.status == "FINISHED" and _num(r.metrics.get(f"mean/test/{metric}")) is not None]
    honest = [r for r in done if r.tags.get("wsvad.selected_on", "val") == "val"]
    pool = honest or done
    if not pool:
        return
    newest = max(pool, key=lambda r: r.start_time)
    row.retrain_mean = 100.0 * newest.metrics[f"mean/test/{metric}"]
    std = _num(newest.metrics.get(f"std/test/{metric}"))
    row.retrain_std = None if std is None else 100.0 * std
    row.retrain_seeds = int(_num(newest.metrics.get("seeds_finished")) or 0)
    row.retrain_selected_on = newest.tags.get("wsvad.selected_on", "val")
    row.retrain_run_id = newest.run_id


def _fill_delta(row: Row, reference: Reference | None) -> None:
    if reference is None:
        return
    if row.retrain_mean is not None:
        row.delta, row.delta_from = row.retrain_mean - reference.value, "retrain"
    elif row.best_trial is not None:
        row.delta, row.delta_from = row.best_trial - reference.value, "trial"


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
