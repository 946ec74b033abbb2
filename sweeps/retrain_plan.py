"""What a retrain will do, looked up before any Ray work: the sweep, each method's best trial and
its configuration, the budget, the seeds. Every way this can fail is a one-line ConfigError.

The sweep is found through its `sweep.json` (sweeps/state.py) or, without one, by the MLflow tag
`wsvad.sweep` on its parent run; the best trial of each method is the parent's `best/<method>/run_id`
tag, and its configuration is that run's `config.*` params (plus the sweep's `set.*` options).
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from wsvad.errors import ConfigError
from sweeps import state as sweep_state
from sweeps.retrain_options import RetrainOptions, fixed_gpu_fraction, validate
from sweeps.tracking import SWEEP_TAG, check_reachable, default_tracking_uri, search_runs


@dataclass
class MethodPlan:
    method: str
    source_run_id: str      # the sweep's best trial of this method
    config: dict            # its search-space values, typed
    fixed: dict             # the sweep's --set options this method has, typed
    gpu_fraction: float
    key: str = ""           # identifies this retrain (source, seeds, budget): a re-run finds its runs by it


@dataclass
class RetrainPlan:
    sweep: str
    tracking_uri: str
    sweep_run_id: str
    experiment_id: str
    experiment_name: str
    dataset: str
    feature_set_hash: str
    features: str
    seeds: list[int]
    select_on: str
    select_metric: str      # the sweep's --select-metric ("" = the trainer's default)
    amp: str                # the sweep's --amp: seeds train as the best trial did
    max_steps: int | None
    max_epochs: int | None
    evals_per_trial: int
    val_fraction: float
    cpus_per_trial: float
    tune_dir: str           # Ray Tune results of the retrains, beside the sweep's
    methods: list[MethodPlan]


def resolve(opts: RetrainOptions) -> RetrainPlan:
    from mlflow.tracking import MlflowClient

    from wsvad.methods import list_methods

    validate(opts)
    state = sweep_state.load_state(opts.storage, opts.sweep)
    uri = opts.tracking_uri or (state or {}).get("tracking_uri") or default_tracking_uri()
    check_reachable(uri)
    client = MlflowClient(uri)
    sweep_run = _sweep_run(client, opts, state, uri)
    tags, params = sweep_run.data.tags, sweep_run.data.params

    best = {m: tags.get(f"best/{m}/run_id", "") for m in list_methods()}
    swept = _listed(params.get("methods", "")) or [m for m in list_methods() if best[m]]
    methods = opts.methods or [m for m in list_methods() if best[m]]
    if not methods:
        raise ConfigError(f"sweep {opts.sweep!r} has no finished trial of any method (nothing to retrain)")
    for method in methods:
        if method not in swept:
            raise ConfigError(f"sweep {opts.sweep!r} did not sweep {method} (it swept: {', '.join(swept)})")
        if not best[method]:
            raise ConfigError(f"sweep {opts.sweep!r} has no finished trial of {method} (nothing to retrain)")

    features = opts.features or params.get("features", "")
    _check_features(features, tags.get("wsvad.feature_set_hash", ""), opts.sweep)
    first_seed = opts.first_seed if opts.first_seed is not None else _int(params.get("seed"), 0) + 1
    experiment = client.get_experiment(sweep_run.info.experiment_id)
    plan = RetrainPlan(
        sweep=opts.sweep, tracking_uri=uri, sweep_run_id=sweep_run.info.run_id,
        experiment_id=experiment.experiment_id, experiment_name=experiment.name,
        dataset=tags.get("wsvad.dataset", ""), feature_set_hash=tags.get("wsvad.feature_set_hash", ""),
        features=features, seeds=list(range(first_seed, first_seed + opts.seeds)), select_on=opts.select_on,
        select_metric=params.get("select_metric", ""), amp=params.get("amp", "off"), max_steps=None, max_epochs=None, evals_per_trial=opts.evals_per_trial or _int(params.get("evals_per_trial"), 10),
        val_fraction=float(params.get("val_fraction", 0.1)),
        cpus_per_trial=opts.cpus_per_trial or float(params.get("cpus_per_trial", 1.0)),
        tune_dir=f"{sweep_state.sweep_dir(opts.storage, opts.sweep)}/retrain", methods=[])
    if opts.max_steps or opts.max_epochs:
        plan.max_steps, plan.max_epochs = opts.max_steps, opts.max_epochs
    else:  # the budget the best trials were found with
        plan.max_steps, plan.max_epochs = _int(params.get("max_steps"), None), _int(params.get("max_epochs"), None)
    for method in methods:
        mp = _method_plan(method, client.get_run(best[method]), opts)
        mp.key = retrain_key(plan, mp)
        plan.methods.append(mp)
    return plan


def _sweep_run(client, opts: RetrainOptions, state: dict | None, uri: str):
    from mlflow.exceptions import MlflowException

    if state:
        try:
            return client.get_run(state["parent_run_id"])
        except MlflowException:
            raise ConfigError(f"sweep {opts.sweep!r}: its MLflow run {state['parent_run_id']} is not at {uri} "
                              "(pass the sweep's --tracking-uri)") from None
    runs = search_runs(client, None, **{SWEEP_TAG: opts.sweep, "wsvad.kind": "sweep"})
    if not runs:
        raise ConfigError(f"no sweep {opts.sweep!r}: no {sweep_state.sweep_dir(opts.storage, opts.sweep)}/"
                          f"{sweep_state.STATE} and no MLflow run tagged {SWEEP_TAG}={opts.sweep} at {uri}")
    return runs[0]  # newest


def _method_plan(method: str, run, opts: RetrainOptions) -> MethodPlan:
    from wsvad.methods import get_method, make_config

    cls = get_method(method)
    fields = set(cls.Config.__dataclass_fields__)
    params = run.data.params
    raw_config = {k.removeprefix("config."): _unbracket(v) for k, v in params.items() if k.startswith("config.")}
    raw_fixed = {k.removeprefix("set."): _unbracket(v) for k, v in params.items()
                 if k.startswith("set.") and k.removeprefix("set.") in fields}
    try:
        made = make_config(cls, {**raw_fixed, **raw_config})
    except ConfigError as exc:
        raise ConfigError(f"the best {method} trial's configuration no longer fits the method: {exc}") from None
    typed = lambda keys: {k: getattr(made, k) for k in keys}  # noqa: E731
    fraction = fixed_gpu_fraction(opts)
    if fraction is None:
        fraction = float(params.get("gpu_fraction", 0.0))
    return MethodPlan(method, run.info.run_id, typed(raw_config), typed(raw_fixed), fraction)


def retrain_key(plan: RetrainPlan, mp: MethodPlan) -> str:
    facts = {"source": mp.source_run_id, "seeds": plan.seeds, "select_on": plan.select_on,
             "max_steps": plan.max_steps, "max_epochs": plan.max_epochs, "evals": plan.evals_per_trial,
             "val_fraction": plan.val_fraction, "features": plan.feature_set_hash}
    if plan.select_metric:  # only when set, so retrains of sweeps without it keep their keys
        facts["select_metric"] = plan.select_metric
    if plan.amp != "off":
        facts["amp"] = plan.amp
    return hashlib.sha1(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]


def _check_features(features: str, expected_hash: str, sweep: str) -> None:
    from wsvad.features import read_manifest

    if not features:
        raise ConfigError(f"sweep {sweep!r} records no feature set: pass --features")
    if not Path(features).is_dir():
        raise ConfigError(f"feature set {features} (of sweep {sweep!r}) is not a directory here: pass --features")
    found = read_manifest(features).get("feature_set_hash", "")
    if expected_hash and found != expected_hash:
        raise ConfigError(f"--features {features} has hash {found[:12]}, but sweep {sweep!r} ran on "
                          f"{expected_hash[:12]}: refusing to mix feature sets")


def _listed(text: str) -> list[str]:
    """The sweep's `methods` param (a Python list written as text)."""
    try:
        value = ast.literal_eval(text) if text else []
    except (ValueError, SyntaxError):
        return []
    return [str(m) for m in value] if isinstance(value, (list, tuple)) else []


def _unbracket(text: str) -> str:
    """'(32, 64)' / '[32, 64]' (a tuple option as MLflow holds it) → '32, 64', which make_config reads."""
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] + text[-1] in ("()", "[]") else text


def _int(text, default):
    if text in (None, "", "None"):
        return default
    return int(float(text))
