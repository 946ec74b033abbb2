"""Retrain each method's best sweep configuration over several seeds; register the best seed.

    resolve the plan (sweep, best trials, configs, seeds: no Ray yet) → load the feature set once,
    `ray.put` it → per method: a retrain parent run; one Ray Tune run of the sweep's own trainable
    whose param_space is the best config plus `tune.grid_search` over seeds (seeds train in
    parallel, each a child run) → mean ± std of every selected metric on the parent → the best
    seed (by the selection metric, never by test unless --select-on test) registered as
    `wsvad-<dataset>-<method>@champion`.

A killed retrain run again with the same options finds its parent and seed runs by tag and
resumes Tune from its checkpoints; a method already retrained is skipped.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from sweeps.driver import _attach_callback, _init_ray, check_ray_reachable
from sweeps.provenance import git_sha
from sweeps.retrain_options import RetrainOptions
from sweeps.retrain_plan import MethodPlan, RetrainPlan, resolve
from sweeps.retrain_runs import parent_run, seed_runs
from sweeps.retrain_stats import mean_std
from sweeps.tracking import Tracker

MODEL_TAG = "wsvad.registered_model"


def run_retrain(opts: RetrainOptions) -> list[dict]:
    plan = resolve(opts)
    check_ray_reachable(opts.address or os.environ.get("RAY_ADDRESS", ""))

    from wsvad.features import load_feature_set

    tracker = Tracker(plan.tracking_uri, plan.experiment_name)
    shared: list = []

    def feature_set_ref():
        """Ray and the shared feature set, started on first need (a finished retrain needs neither)."""
        if not shared:
            import ray

            fs = load_feature_set(plan.features)
            _init_ray(opts)
            # once: every seed run on a node reads these arrays without a copy; the driver keeps only
            # the reference (this function's copy goes when it returns)
            shared.append(ray.put(fs))
        return shared[0]

    return [_retrain_method(plan, mp, opts, feature_set_ref, tracker) for mp in plan.methods]


def _retrain_method(plan: RetrainPlan, mp: MethodPlan, opts: RetrainOptions, feature_set_ref, tracker: Tracker) -> dict:
    params = {"method": mp.method, "source_run_id": mp.source_run_id, "select_on": plan.select_on,
              "max_steps": plan.max_steps, "max_epochs": plan.max_epochs, "evals_per_trial": plan.evals_per_trial,
              "val_fraction": plan.val_fraction, "gpu_fraction": mp.gpu_fraction,
              **{f"config.{k}": v for k, v in mp.config.items()}, **{f"set.{k}": v for k, v in mp.fixed.items()}}
    tags = {"wsvad.selected_on": plan.select_on, "wsvad.feature_set_hash": plan.feature_set_hash,
            "wsvad.dataset": plan.dataset, "wsvad.source_run_id": mp.source_run_id}
    parent = parent_run(tracker, plan.sweep, mp.method, mp.key,
                        {**params, "seeds": ",".join(map(str, plan.seeds))},
                        {**tags, "wsvad.seeds": ",".join(map(str, plan.seeds)), "wsvad.git_sha": git_sha(),
                         "wsvad.sweep_run_id": plan.sweep_run_id})
    run = tracker.client.get_run(parent)
    if run.info.status == "FINISHED":
        print(f"[{mp.method}] already retrained with these seeds (run {parent}); skipping", flush=True)
        return _summary(mp.method, parent, run.data.metrics, run.data.tags.get(MODEL_TAG, ""))
    tracker.reopen(parent)
    try:
        grid = _fit_seeds(plan, mp, opts, feature_set_ref(), tracker, parent, params, tags)
        summary = _record(plan, mp, grid, tracker, parent)
        if summary["seeds_finished"]:
            tracker.end(parent, "FINISHED")
        else:
            tracker.end(parent, "FAILED", reason="every seed run failed")
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            tracker.end(parent, "KILLED", reason="interrupted")
        elif not isinstance(exc, SystemExit):
            tracker.end(parent, "FAILED", reason=f"{type(exc).__name__}: {exc}")
        raise
    return summary


def _fit_seeds(plan: RetrainPlan, mp: MethodPlan, opts: RetrainOptions, ref, tracker: Tracker, parent: str,
               params: dict, tags: dict):
    import ray
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    from sweeps.retrain_callback import MLflowSeeds
    from sweeps.trainable import run_trial

    fraction = mp.gpu_fraction if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    settings = {"fixed": mp.fixed, "seed": plan.seeds[0], "max_steps": plan.max_steps, "max_epochs": plan.max_epochs,
                "select_on": plan.select_on, "select_metric": plan.select_metric, "amp": plan.amp, "val_fraction": plan.val_fraction,
                "evals_per_trial": plan.evals_per_trial, "cpus_per_trial": plan.cpus_per_trial,
                "gpu_fraction": fraction}
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, feature_set_ref=[ref], method=mp.method, settings=settings),
        {"cpu": plan.cpus_per_trial, "gpu": fraction})
    name = f"{mp.method}-{mp.key}"
    callback = MLflowSeeds(tracker, parent, plan.sweep, mp.method, {**params, "gpu_fraction": fraction}, tags)
    if tune.Tuner.can_restore(f"{plan.tune_dir}/{name}"):
        print(f"[{mp.method}] resuming the retrain from {plan.tune_dir}/{name}", flush=True)
        tuner = tune.Tuner.restore(f"{plan.tune_dir}/{name}", trainable=trainable, resume_unfinished=True,
                                   resume_errored=False, restart_errored=False)
        _attach_callback(tuner, callback)
    else:
        print(f"[{mp.method}] retraining trial {mp.source_run_id[:8]}'s configuration with seeds "
              f"{', '.join(map(str, plan.seeds))} (select on {plan.select_on})", flush=True)
        tuner = tune.Tuner(
            trainable,
            param_space={**mp.config, "seed": tune.grid_search(plan.seeds)},  # one trial per seed
            # BasicVariantGenerator takes the concurrency cap itself (Tune ignores max_concurrent_trials for it).
            tune_config=tune.TuneConfig(metric="objective", mode="max", num_samples=1, reuse_actors=True,
                                        search_alg=BasicVariantGenerator(max_concurrent=opts.max_concurrent or 0)),
            run_config=tune.RunConfig(
                name=name, storage_path=plan.tune_dir, callbacks=[callback], verbose=0,
                failure_config=tune.FailureConfig(max_failures=opts.max_failures),
                # One checkpoint per trial: it holds the trainer state and the selected model, which is
                # all a retry, a resume or the best-trial artifact needs; two doubled the disk (make demo
                # wrote 24 GB with 1280-d features).
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
        )
    try:
        grid = tuner.fit()
    except Exception:
        if callback.fatal is not None:  # the tracking server is gone: say so in one line
            raise callback.fatal from None
        raise
    callback.wait_for_plots()
    return grid


def _record(plan: RetrainPlan, mp: MethodPlan, grid, tracker: Tracker, parent: str) -> dict:
    """Checkpoints onto the seed runs, mean ± std onto the parent, the best seed into the registry."""
    from sweeps.trainable import MODEL

    children = seed_runs(tracker, parent)
    finished: dict[int, tuple[str, dict, object]] = {}
    failed = 0
    for result in grid:
        seed = int(result.config["seed"])
        child = children.get(seed)
        if child is not None and tracker.client.get_run(child.info.run_id).info.status == "RUNNING":
            tracker.end(child.info.run_id, "FAILED" if result.error is not None else "FINISHED",
                        reason=str(result.error).splitlines()[-1] if result.error is not None else None)
        objective = (result.metrics or {}).get("objective", math.nan)
        if result.error is not None or result.checkpoint is None or child is None or not math.isfinite(objective):
            failed += 1
            continue
        values = {k.removeprefix("selected/"): v for k, v in result.metrics.items() if k.startswith("selected/")}
        values.update({k: result.metrics[k] for k in ("objective", "selected_step", "train_seconds")})
        finished[seed] = (child.info.run_id, values, result.checkpoint)
        with result.checkpoint.as_directory() as d:
            tracker.log_artifact(child.info.run_id, Path(d) / MODEL, "checkpoint")

    stats = mean_std([values for _, values, _ in finished.values()])
    tracker.log_metrics(parent, {**stats, "seeds_finished": len(finished), "seeds_failed": failed}, step=0)
    if not finished:
        print(f"[{mp.method}] every seed run failed; nothing to register", flush=True)
        return _summary(mp.method, parent, stats, "", seeds_finished=0, seeds_failed=failed)

    best_seed = max(sorted(finished), key=lambda s: finished[s][1]["objective"])  # ties: the smallest seed
    best_run, _, checkpoint = finished[best_seed]
    from sweeps.registry import register_champion

    with checkpoint.as_directory() as d:
        model_uri = register_champion(
            plan.tracking_uri, best_run, Path(d) / MODEL, plan.dataset, mp.method,
            tags={"wsvad.git_sha": git_sha(), "wsvad.sweep": plan.sweep, "wsvad.seed": best_seed,
                  "wsvad.selected_on": plan.select_on, "wsvad.retrain_run_id": parent,
                  "wsvad.source_run_id": mp.source_run_id})
    tracker.set_tags(best_run, {"wsvad.champion": "true"})
    tracker.set_tags(parent, {"wsvad.best_seed": best_seed, "wsvad.best_seed_run_id": best_run, MODEL_TAG: model_uri})
    summary = _summary(mp.method, parent, stats, model_uri, seeds_finished=len(finished), seeds_failed=failed)
    print(f"[{mp.method}] {len(finished)} seeds ({failed} failed): test auc {_pm(stats, 'test/auc')}; "
          f"best seed {best_seed} registered as {model_uri} (@champion)", flush=True)
    return summary


def _summary(method: str, parent: str, metrics: dict, model_uri: str, **counts) -> dict:
    counts.setdefault("seeds_finished", int(metrics.get("seeds_finished", 0)))
    counts.setdefault("seeds_failed", int(metrics.get("seeds_failed", 0)))
    return {"method": method, "parent_run_id": parent, "model_uri": model_uri, **counts,
            "test_auc": _pm(metrics, "test/auc")}


def _pm(stats: dict, key: str) -> str:
    mean, std = stats.get(f"mean/{key}"), stats.get(f"std/{key}")
    if mean is None:
        return "—"
    return f"{mean:.4f}" + (f" ± {std:.4f}" if std is not None else "")
