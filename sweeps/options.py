"""Sweep options: one definition for `wsvad sweep` and `sweeps/run.py`, validated before any
cluster work starts (a bad config must fail in seconds, not after a Ray cluster spun up)."""

from __future__ import annotations

import argparse
import datetime as _dt
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wsvad.errors import ConfigError

SEARCHES = ("optuna", "random")
SCHEDULERS = ("asha", "none")


@dataclass
class SweepOptions:
    features: str
    methods: list[str]
    trials: int = 8
    name: str = ""
    max_concurrent: int | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: str = "auto"          # "auto" or a fraction such as "0.25"
    search: str = "optuna"
    scheduler: str = "asha"
    max_steps: int | None = None
    max_epochs: int | None = None
    evals_per_trial: int = 10
    seed: int = 0
    storage: str = "runs/sweeps"
    tracking_uri: str = ""
    address: str = ""                     # "" = start a local Ray; else an existing cluster
    resume: bool = False
    select_on: str = "val"
    select_metric: str = ""               # "" = the trainer's default (auc, or video_auc on a carved split)
    amp: str = "off"                      # mixed-precision forward in every trial: off | bf16 | fp16
    val_fraction: float = 0.1
    max_failures: int = 1
    tracking_patience: float = 600.0      # seconds run writes wait for an unreachable MLflow server
    num_cpus: int | None = None           # local Ray only: CPUs to declare
    num_gpus: float | None = None         # local Ray only: GPUs to declare (logical ones work on CPU)
    card_gb: float = 0.0                  # GPU memory to pack into (0 = the real card's size)
    spaces_dir: str = ""
    overrides: dict = field(default_factory=dict)   # fixed method options for every trial

    def to_dict(self) -> dict:
        return asdict(self)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", required=True, metavar="DIR", help="feature set directory (loaded once on the driver)")
    p.add_argument("--methods", default="all", help="all, or a comma-separated list (see `wsvad methods`)")
    p.add_argument("--trials", type=int, default=8, help="trials per method (the official defaults are the first)")
    p.add_argument("--name", default="", help="sweep name (default: sweep-<date>-<time>)")
    p.add_argument("--max-concurrent", type=int, help="trials running at once per method (default: as resources allow)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--gpus-per-trial", default="auto",
                   help="auto (measure each method's peak CUDA memory and pack trials onto the card) or a fraction, e.g. 0.25")
    p.add_argument("--search", choices=SEARCHES, default="optuna")
    p.add_argument("--scheduler", choices=SCHEDULERS, default="asha")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--max-steps", type=int, help="per-trial budget in optimisation steps")
    budget.add_argument("--max-epochs", type=int, help="per-trial budget in epochs")
    p.add_argument("--evals-per-trial", type=int, default=10, help="evaluations (ASHA rungs) per trial")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--storage", default="runs/sweeps", help="Ray results: a path (shared on multi-node clusters) or s3:// URI")
    p.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", ""),
                   help="MLflow tracking URI, e.g. http://127.0.0.1:5000 (default: sqlite:///<cwd>/mlflow.db)")
    p.add_argument("--address", default="", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--resume", action="store_true", help="continue a killed sweep of the same --name")
    p.add_argument("--select-on", choices=("val", "test"), default="val",
                   help="what each trial optimises: a validation split carved from training videos (default) or the test set")
    p.add_argument("--select-metric", default="",
                   help="metric each trial selects its model on and the search optimises: auc, ap (XD-Violence's "
                        "protocol), video_auc, ... (default: auc with frame truth, video_auc on a carved split)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--amp", choices=("off", "bf16", "fp16"), default="off",
                   help="mixed precision in every trial's forward pass (loss, update and evaluation stay fp32; "
                        "off by default: the official code trains in fp32); docs/sweeps.md")
    p.add_argument("--max-failures", type=int, default=1, help="retries of a trial whose worker died (from its checkpoint)")
    p.add_argument("--tracking-patience", type=float, default=600.0, metavar="SECONDS",
                   help="how long the driver waits for an MLflow server that stopped answering (metrics are buffered, "
                        "trials keep training) before the sweep stops; --resume continues it")
    p.add_argument("--num-cpus", type=int, help="local Ray only: CPUs to declare")
    p.add_argument("--num-gpus", type=float, help="local Ray only: GPUs to declare")
    p.add_argument("--card-gb", type=float, default=0.0, help="GPU memory to pack trials into (default: the card's)")
    p.add_argument("--spaces-dir", default="", help="folder of <method>.yaml search spaces (default: sweeps/spaces)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="fix a method option in every trial: KEY=VALUE for every method that has it, "
                        "METHOD.KEY=VALUE for that method only (wins over KEY=VALUE)")


def from_args(args: argparse.Namespace) -> SweepOptions:
    from wsvad.methods import list_methods

    methods = list_methods() if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()]
    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    name = args.name or _dt.datetime.now().strftime("sweep-%Y%m%d-%H%M%S")
    return SweepOptions(
        features=args.features, methods=methods, trials=args.trials, name=name, max_concurrent=args.max_concurrent,
        cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial, search=args.search,
        scheduler=args.scheduler, max_steps=args.max_steps, max_epochs=args.max_epochs,
        evals_per_trial=args.evals_per_trial, seed=args.seed, storage=args.storage, tracking_uri=args.tracking_uri,
        address=args.address, resume=args.resume, select_on=args.select_on, select_metric=args.select_metric, amp=args.amp, val_fraction=args.val_fraction,
        max_failures=args.max_failures, tracking_patience=args.tracking_patience, num_cpus=args.num_cpus, num_gpus=args.num_gpus, card_gb=args.card_gb,
        spaces_dir=args.spaces_dir, overrides=overrides,
    )


def fixed_for(overrides: dict, method: str) -> dict:
    """The --set options one method gets: plain keys where its config has the field, then its own
    `method.key` ones (so `--set segments=32 --set temporal_mae.segments=4` gives it 4)."""
    from wsvad.methods import get_method

    fields = get_method(method).Config.__dataclass_fields__
    fixed = {k: v for k, v in overrides.items() if "." not in k and k in fields}
    fixed.update({k.split(".", 1)[1]: v for k, v in overrides.items() if k.split(".", 1)[0] == method and "." in k})
    return fixed


def _check_set_keys(overrides: dict, methods: list[str]) -> None:
    from wsvad.methods import get_method, list_methods

    for key in overrides:
        target, dot, field = key.partition(".")
        if dot:
            if target not in list_methods():
                raise ConfigError(f"--set {key}: no method {target!r}")
            if target not in methods:
                raise ConfigError(f"--set {key}: {target} is not in --methods")
            if field not in get_method(target).Config.__dataclass_fields__:
                raise ConfigError(f"--set {key}: {target} has no option {field!r}")
        elif not any(key in get_method(m).Config.__dataclass_fields__ for m in methods):
            raise ConfigError(f"--set {key}: no selected method has this option")


def _check_space_with_fixed(cls, method: str, space: dict, fixed: dict) -> None:
    """Every value a trial can draw for one option (each choice, each bound) must make a valid config
    with the fixed options, or the sweep would fail inside trials (e.g. temporal_mae's forecast_steps
    4 against --set temporal_mae.segments=4)."""
    from wsvad.methods import make_config

    for key, spec in space.items():
        values = spec.get("values") if spec.get("type") == "choice" else [spec.get("low"), spec.get("high")]
        for value in values or []:
            try:
                make_config(cls, {**fixed, key: value})
            except ConfigError as exc:
                raise ConfigError(f"{method}: its search space can draw {key}={value!r}, which the fixed options "
                                  f"do not allow ({exc}); change --set or the search space") from None


def validate(opts: SweepOptions) -> dict:
    """Check everything that can be checked locally; returns each method's search space."""
    from wsvad.features import read_manifest
    from wsvad.methods import get_method, make_config
    from wsvad.protocol import check_select_metric
    from wsvad.train.amp import check_amp
    from sweeps.spaces import load_space

    if not opts.methods:
        raise ConfigError("--methods names no method")
    if opts.trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {opts.trials}")
    if opts.max_concurrent is not None and opts.max_concurrent < 1:
        raise ConfigError(f"--max-concurrent must be >= 1, got {opts.max_concurrent}")
    if not opts.tracking_patience > 0:
        raise ConfigError(f"--tracking-patience must be > 0 seconds, got {opts.tracking_patience}")
    if opts.cpus_per_trial <= 0:
        raise ConfigError(f"--cpus-per-trial must be > 0, got {opts.cpus_per_trial}")
    for name in ("max_steps", "max_epochs", "evals_per_trial"):
        value = getattr(opts, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if opts.select_metric:
        check_select_metric(opts.select_metric)
    check_amp(opts.amp)
    gpu_fraction(opts)  # raises on a bad --gpus-per-trial
    if not opts.name or "/" in opts.name or opts.name.startswith("."):
        raise ConfigError(f"--name must be a plain name, got {opts.name!r}")
    if not Path(opts.features).is_dir():
        raise ConfigError(f"--features {opts.features}: not a feature set directory")
    read_manifest(opts.features)
    spaces = {}
    for method in opts.methods:
        cls = get_method(method)  # unknown names fail here
        fixed = fixed_for(opts.overrides, method)
        make_config(cls, fixed)
        space = load_space(method, Path(opts.spaces_dir) if opts.spaces_dir else None)
        # A fixed option is not searched: a trial's sampled value would otherwise override --set.
        spaces[method] = {k: v for k, v in space.items() if k not in fixed}
        if not spaces[method]:
            raise ConfigError(f"--set fixes every option {method} searches ({', '.join(space)}): nothing to sweep")
        _check_space_with_fixed(cls, method, spaces[method], fixed)
    _check_set_keys(opts.overrides, opts.methods)
    return spaces


def gpu_fraction(opts: SweepOptions) -> float | None:
    """None for auto, else the fixed fraction in [0, 1]."""
    if opts.gpus_per_trial == "auto":
        return None
    try:
        value = float(opts.gpus_per_trial)
    except ValueError:
        raise ConfigError(f"--gpus-per-trial must be auto or a number, got {opts.gpus_per_trial!r}") from None
    if not 0 <= value <= 1 and not (value > 1 and value.is_integer()):
        raise ConfigError(f"--gpus-per-trial must be a fraction in [0, 1] or a whole number, got {value}")
    return value
