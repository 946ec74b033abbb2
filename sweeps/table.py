"""`wsvad table`: the reproduction table of a sweep (or of a whole MLflow experiment).

    runs from MLflow (one search) → rows (sweeps/table_rows.py) → md/csv/html/latex
    (sweeps/table_format.py) + PNG chart (sweeps/table_chart.py) → both logged to the sweep's run
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

from wsvad.errors import ConfigError
from sweeps.table_format import FORMATS
from sweeps.table_references import PAPER_DATASETS

ARTIFACT_DIR = "table"


@dataclass
class TableOptions:
    sweep: str = ""
    experiment: str = ""
    format: str = "md"
    out: str = ""                  # "": table-<sweep or experiment>.<format> in the working directory
    paper: str = "auto"            # which benchmark's published numbers: auto (from the dataset) or one
    storage: str = "runs/sweeps"
    tracking_uri: str = ""


def add_arguments(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--sweep", default="", metavar="NAME", help="one sweep (and its retrains)")
    which.add_argument("--experiment", default="", metavar="NAME",
                       help="every sweep and retrain in an MLflow experiment (one feature set)")
    p.add_argument("--format", choices=FORMATS, default="md")
    p.add_argument("--out", default="", metavar="FILE",
                   help="table file (default: table-<name>.<format>); the chart is written beside it as .png")
    p.add_argument("--paper", choices=("auto", *PAPER_DATASETS), default="auto",
                   help="published numbers to compare with (default: from the feature set's dataset name)")
    p.add_argument("--storage", default="runs/sweeps", help="the sweep's --storage (to find its tracking URI)")
    p.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", ""),
                   help="MLflow tracking URI (default: the sweep's, else sqlite:///<cwd>/mlflow.db)")


def from_args(args: argparse.Namespace) -> TableOptions:
    return TableOptions(sweep=args.sweep, experiment=args.experiment, format=args.format, out=args.out,
                        paper=args.paper, storage=args.storage, tracking_uri=args.tracking_uri)


def validate(opts: TableOptions) -> None:
    if bool(opts.sweep) == bool(opts.experiment):
        raise ConfigError("give exactly one of --sweep NAME or --experiment NAME")
    if opts.format not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {opts.format!r}")
    if opts.paper not in ("auto", *PAPER_DATASETS):
        raise ConfigError(f"--paper must be auto, ucf-crime or xd-violence, got {opts.paper!r}")
    if opts.out and Path(opts.out).suffix.lower() == ".png":
        raise ConfigError(f"--out {opts.out}: that is where the chart goes; name the table file (e.g. table.md)")
    if opts.out and Path(opts.out).is_dir():
        raise ConfigError(f"--out {opts.out} is a directory; give a file name")


def make_table(opts: TableOptions) -> dict:
    """Write the table and its chart; log both to the sweep's parent run. Returns what was done."""
    from mlflow.tracking import MlflowClient

    from sweeps import state as sweep_state
    from sweeps.table_chart import write_chart
    from sweeps.table_format import render
    from sweeps.table_rows import build_table
    from sweeps.tracking import check_reachable, default_tracking_uri

    validate(opts)
    state = sweep_state.load_state(opts.storage, opts.sweep) if opts.sweep else None
    uri = opts.tracking_uri or (state or {}).get("tracking_uri") or default_tracking_uri()
    check_reachable(uri)
    client = MlflowClient(uri)
    runs, sweep_run = _runs(client, opts, uri)
    title = f"sweep {opts.sweep}" if opts.sweep else f"experiment {opts.experiment}"
    table = build_table(runs, title, opts.paper)
    text = render(table, opts.format)

    stem = re.sub(r"[^\w.-]+", "-", opts.sweep or opts.experiment).strip("-")
    out = Path(opts.out or f"table-{stem}.{opts.format}")
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(out, text)
    chart = write_chart(table, out.with_suffix(".png"))
    if sweep_run:
        for path in (out, chart):
            client.log_artifact(sweep_run, str(path), ARTIFACT_DIR)
    return {"text": text, "table": out, "chart": chart, "logged_to": sweep_run, "tracking_uri": uri,
            "methods": [r.method for r in table.rows]}


def _runs(client, opts: TableOptions, uri: str):
    """(runs in scope as RunRecords, the sweep's parent run id or None)."""
    from sweeps.table_rows import RunRecord
    from sweeps.tracking import SWEEP_TAG, search_runs

    if opts.sweep:
        found = search_runs(client, None, **{SWEEP_TAG: opts.sweep})
        parents = [r for r in found if r.data.tags.get("wsvad.kind") == "sweep"]
        if not parents:
            raise ConfigError(f"no sweep {opts.sweep!r} at {uri} (no run tagged {SWEEP_TAG}={opts.sweep})")
        sweep_run = parents[-1].info.run_id  # the oldest: a later re-use of the name is not this sweep
        found = [r for r in found if sweep_run in (r.info.run_id, r.data.tags.get("mlflow.parentRunId"),
                                                   r.data.tags.get("wsvad.sweep_run_id"))]
    else:
        experiment = client.get_experiment_by_name(opts.experiment)
        if experiment is None:
            raise ConfigError(f"no MLflow experiment {opts.experiment!r} at {uri}")
        found = search_runs(client, [experiment.experiment_id])
        sweep_run = None  # an experiment may hold several sweeps: the table is written locally only
    records = [RunRecord(r.info.run_id, r.info.status, r.info.start_time or 0, dict(r.data.tags), dict(r.data.metrics))
               for r in found]
    return records, sweep_run


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
