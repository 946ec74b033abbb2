"""Retrain options: one definition for `wsvad retrain`, checked locally before any lookup or cluster work.

Everything left unset is taken from the sweep itself (its budget, evaluations per trial, feature
set, validation fraction, the GPU share measured for the method), so a bare
`wsvad retrain --sweep NAME --seeds 5` retrains exactly what the sweep ran, only with new seeds.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from wsvad.errors import ConfigError

MAX_SEEDS = 100


@dataclass
class RetrainOptions:
    sweep: str
    methods: list[str] | None = None      # None: every method the sweep finished a trial of
    seeds: int = 3
    first_seed: int | None = None         # None: the sweep's seed + 1 (fresh seeds, see docs)
    select_on: str = "val"
    storage: str = "runs/sweeps"
    tracking_uri: str = ""                # "": the sweep's (sweep.json), else $MLFLOW_TRACKING_URI / ./mlflow.db
    features: str = ""                    # "": the sweep's --features
    max_steps: int | None = None          # None (both): the sweep's per-trial budget
    max_epochs: int | None = None
    evals_per_trial: int | None = None
    cpus_per_trial: float | None = None
    gpus_per_trial: str = "auto"          # auto: the fraction the sweep measured for the method
    max_concurrent: int | None = None
    max_failures: int = 1
    address: str = ""
    num_cpus: int | None = None
    num_gpus: float | None = None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sweep", required=True, metavar="NAME", help="the sweep whose best trials to retrain")
    p.add_argument("--methods", default="all", help="all (every method with a finished trial) or a comma-separated list")
    p.add_argument("--seeds", default="3", metavar="N", help="seeds per method, trained in parallel (default 3)")
    p.add_argument("--first-seed", type=int, help="seeds are FIRST..FIRST+N-1 (default: the sweep's seed + 1)")
    p.add_argument("--select-on", choices=("val", "test"), default="val",
                   help="model selection inside each seed run: validation split (default) or the test set (tagged)")
    p.add_argument("--storage", default="runs/sweeps", help="the sweep's --storage (where sweep.json lives)")
    p.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", ""),
                   help="MLflow tracking URI (default: the sweep's)")
    p.add_argument("--features", default="", metavar="DIR", help="feature set (default: the sweep's; must have its hash)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--max-steps", type=int, help="per-seed budget in steps (default: the sweep's)")
    budget.add_argument("--max-epochs", type=int, help="per-seed budget in epochs (default: the sweep's)")
    p.add_argument("--evals-per-trial", type=int, help="evaluations per seed run (default: the sweep's)")
    p.add_argument("--cpus-per-trial", type=float, help="default: the sweep's")
    p.add_argument("--gpus-per-trial", default="auto", help="auto (the fraction the sweep measured) or a fraction")
    p.add_argument("--max-concurrent", type=int, help="seed runs at once per method (default: as resources allow)")
    p.add_argument("--max-failures", type=int, default=1, help="retries of a seed run whose worker died")
    p.add_argument("--address", default="", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--num-cpus", type=int, help="local Ray only: CPUs to declare")
    p.add_argument("--num-gpus", type=float, help="local Ray only: GPUs to declare")


def from_args(args: argparse.Namespace) -> RetrainOptions:
    methods = None if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        seeds = int(args.seeds)
    except ValueError:
        raise ConfigError(f"--seeds must be a whole number, got {args.seeds!r}") from None
    return RetrainOptions(
        sweep=args.sweep, methods=methods, seeds=seeds, first_seed=args.first_seed, select_on=args.select_on,
        storage=args.storage, tracking_uri=args.tracking_uri, features=args.features, max_steps=args.max_steps,
        max_epochs=args.max_epochs, evals_per_trial=args.evals_per_trial, cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent, max_failures=args.max_failures,
        address=args.address, num_cpus=args.num_cpus, num_gpus=args.num_gpus)


def validate(opts: RetrainOptions) -> None:
    """Checks that need neither MLflow nor Ray (those come in sweeps/retrain_plan.py)."""
    from wsvad.methods import get_method

    if not opts.sweep or "/" in opts.sweep or opts.sweep.startswith("."):
        raise ConfigError(f"--sweep must be a plain sweep name, got {opts.sweep!r}")
    if not 1 <= opts.seeds <= MAX_SEEDS:
        raise ConfigError(f"--seeds must be between 1 and {MAX_SEEDS}, got {opts.seeds}")
    if opts.first_seed is not None and opts.first_seed < 0:
        raise ConfigError(f"--first-seed must be >= 0, got {opts.first_seed}")
    if opts.select_on not in ("val", "test"):
        raise ConfigError(f"--select-on must be val or test, got {opts.select_on!r}")
    if opts.methods is not None:
        if not opts.methods:
            raise ConfigError("--methods names no method")
        for method in opts.methods:
            get_method(method)  # unknown names fail here, with the list of known ones
    if opts.max_steps is not None and opts.max_epochs is not None:
        raise ConfigError("give --max-steps or --max-epochs, not both")
    for name in ("max_steps", "max_epochs", "evals_per_trial", "max_concurrent"):
        value = getattr(opts, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if opts.cpus_per_trial is not None and opts.cpus_per_trial <= 0:
        raise ConfigError(f"--cpus-per-trial must be > 0, got {opts.cpus_per_trial}")
    if opts.max_failures < 0:
        raise ConfigError(f"--max-failures must be >= 0, got {opts.max_failures}")
    fixed_gpu_fraction(opts)


def fixed_gpu_fraction(opts: RetrainOptions) -> float | None:
    """None for auto, else the fraction given."""
    if opts.gpus_per_trial == "auto":
        return None
    try:
        value = float(opts.gpus_per_trial)
    except ValueError:
        raise ConfigError(f"--gpus-per-trial must be auto or a number, got {opts.gpus_per_trial!r}") from None
    if not 0 <= value <= 1 and not (value > 1 and value.is_integer()):
        raise ConfigError(f"--gpus-per-trial must be a fraction in [0, 1] or a whole number, got {value}")
    return value
