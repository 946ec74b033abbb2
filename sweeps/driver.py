"""The sweep driver: one Ray Tune `Tuner` per method (OptunaSearch + ASHA), MLflow from the driver.

    validate options (no cluster work yet) → check the tracking store answers → load the feature set
    once, `ray.put` it → per method: restore or build the Tuner, fit, log the best checkpoint →
    mark the method done in sweep.json (so `--resume` skips it) → close the parent run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from wsvad.errors import ConfigError
from sweeps import state as sweep_state
from sweeps.options import SweepOptions, gpu_fraction, validate
from sweeps.provenance import git_sha, versions
from sweeps.spaces import official_point, to_tune
from sweeps.tracking import Tracker, check_reachable, default_tracking_uri, experiment_name


def run_sweep(opts: SweepOptions) -> dict:
    spaces = validate(opts)
    uri = opts.tracking_uri or default_tracking_uri()
    check_reachable(uri)
    check_ray_reachable(opts.address or os.environ.get("RAY_ADDRESS", ""))
    existing = sweep_state.load_state(opts.storage, opts.name)
    if existing and not opts.resume:
        raise ConfigError(f"sweep {opts.name!r} already exists in {opts.storage}; pass --resume to continue it "
                          "or choose another --name")
    if opts.resume and not existing:
        raise ConfigError(f"nothing to resume: no sweep {opts.name!r} in {opts.storage}")

    from concurrent.futures import ThreadPoolExecutor

    from wsvad.features import load_feature_set, read_manifest

    manifest = read_manifest(opts.features)
    feature_hash, dataset = manifest["feature_set_hash"], manifest["dataset"]
    if existing and existing["feature_set_hash"] != feature_hash:
        raise ConfigError(f"sweep {opts.name!r} ran on feature set {existing['feature_set_hash'][:12]}, "
                          f"but --features is {feature_hash[:12]}: refusing to mix feature sets")
    # Start-up, overlapped: one thread loads the feature set (checking its content against the
    # manifest's hash; Parquet decoding and hashing release the GIL), another sets up MLflow, and
    # this one starts or joins Ray. On 2 cores that took 5.4-6.7 s to the first Tuner.fit against
    # 6.7-9.7 s one after another. A bad feature set or a refused cluster still fails before the
    # sweep is recorded anywhere (no parent run, no sweep.json) and before any trial; a local Ray
    # started meanwhile ends with this process.
    with ThreadPoolExecutor(2, thread_name_prefix="wsvad-start") as pool:
        loading = pool.submit(load_feature_set, opts.features)
        connecting = pool.submit(Tracker, uri, experiment_name(dataset, feature_hash), patience=opts.tracking_patience)
        _init_ray(opts)
        tracker, fs = connecting.result(), loading.result()
    if existing:
        parent = existing["parent_run_id"]
        saved = sweep_state.load_pending(opts.storage, opts.name)  # left by a stop during an outage
        if saved:
            tracker.import_pending(saved)
            tracker.flush_all()
            sweep_state.clear_pending(opts.storage, opts.name)
            print(f"[mlflow] sent {len(saved)} metric batch(es) saved by the stopped driver", flush=True)
        tracker.reopen(parent)
        record = existing
    else:
        tags = {"wsvad.feature_set_hash": fs.hash, "wsvad.dataset": fs.dataset, "wsvad.git_sha": git_sha(),
                "wsvad.selected_on": opts.select_on,
                **{f"version.{k}": v for k, v in versions().items()}}
        params = {k: v for k, v in opts.to_dict().items() if k != "overrides"}
        params.update({f"set.{k}": v for k, v in opts.overrides.items()})
        parent = tracker.start_parent(opts.name, params, tags)
        record = {"name": opts.name, "parent_run_id": parent, "experiment_id": tracker.experiment_id,
                  "tracking_uri": uri, "feature_set_hash": fs.hash, "methods": opts.methods, "completed": {}}
        sweep_state.save_state(opts.storage, opts.name, record)

    import ray

    from sweeps.background import Background

    plotter = Background("wsvad-plots")  # one low-priority plot thread for the whole sweep
    try:
        ref = ray.put(fs)  # once per sweep: every trial on a node reads these arrays without a copy
        # From here on the driver too reads the store's copy (ray.get of numpy arrays is a zero-copy
        # view), so the copy it loaded is freed: one feature set per node, not two on the head.
        fs = ray.get(ref)
        for method in opts.methods:
            if method in record["completed"]:
                print(f"[{method}] already finished in this sweep; skipping", flush=True)
                continue
            started = time.time()
            summary = _fit_method(method, spaces[method], opts, fs, ref, tracker, parent, plotter)
            summary["wall_seconds"] = round(time.time() - started, 1)
            record["completed"][method] = summary
            sweep_state.save_state(opts.storage, opts.name, record)
        # The last trials' plots: drawn now that no trial needs the cores. Earlier methods' plots were
        # drawn in the gaps while later methods ran, so a method never waits for its predecessor's.
        plotter.wait()
        _log_summary(tracker, parent, record)
        tracker.end(parent, "FINISHED")
    except BaseException as exc:
        plotter.close(wait=False)  # plots are views of finished runs; their metrics and checkpoints are logged
        _close_parent_after_failure(tracker, parent, exc)
        if tracker.pending:  # never lose a metric: --resume sends these first
            sweep_state.save_pending(opts.storage, opts.name, tracker.export_pending())
            print(f"[mlflow] {tracker.pending} unsent metric batch(es) saved for --resume", flush=True)
        raise
    return record


def _close_parent_after_failure(tracker: Tracker, parent: str, exc: BaseException) -> None:
    """Best effort, briefly: when the failure *is* the tracking server, waiting for it again would
    only delay the error; `--resume` reopens the parent run anyway."""
    if isinstance(exc, SystemExit):
        return
    tracker.patience = min(tracker.patience, 5.0)
    status, reason = ("KILLED", "interrupted") if isinstance(exc, KeyboardInterrupt) else (
        "FAILED", f"{type(exc).__name__}: {exc}")
    try:
        tracker.end(parent, status, reason=reason)
    except Exception as why:
        print(f"[mlflow] could not mark the sweep's parent run {status} ({type(why).__name__})", flush=True)


def check_ray_reachable(address: str, timeout: float = 5.0) -> None:
    """A cluster address that does not answer fails at once (ray.init would retry for minutes)."""
    import socket

    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not address or address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); "
                          "is `ray start --head` running there?") from None


def _init_ray(opts: SweepOptions) -> None:
    # Each evaluation checkpoints (resumable trials); Tune's warning about frequent experiment
    # snapshots is expected here and would drown the sweep's own output.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Ctrl-C must stop the sweep, not just the current method: Tune's own SIGINT handler ends
    # fit() normally, and the method would be recorded as finished with trials half done.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    import ray

    if ray.is_initialized():
        return
    if opts.address or os.environ.get("RAY_ADDRESS"):
        try:
            ray.init(address=opts.address or None, log_to_driver=False)
        except (ConnectionError, TimeoutError, RuntimeError) as exc:
            where = opts.address or os.environ.get("RAY_ADDRESS")
            raise ConfigError(f"cannot reach the Ray cluster at {where} ({str(exc).splitlines()[0][:200]})") from None
    else:
        # address="local": a new Ray for this sweep, never a `ray start` cluster that happens to run here.
        ray.init(address="local", num_cpus=opts.num_cpus, num_gpus=opts.num_gpus, include_dashboard=False,
                 log_to_driver=False)


def _trial_gpu_fraction(opts: SweepOptions, method: str, fs) -> float:
    import ray

    from sweeps import gpu

    fixed = gpu_fraction(opts)
    if fixed is not None:
        return fixed
    if ray.cluster_resources().get("GPU", 0) <= 0:
        return 0.0
    crops = int(fs.num_crops.max())
    fixed_options = _fixed_overrides(opts, method)
    measured = ray.get(ray.remote(num_gpus=1)(gpu.calibrate).remote(method, fs.dim, crops, None, fixed_options,
                                                                     opts.amp))
    if not measured["peak_bytes"]:
        print(f"[{method}] the cluster declares GPUs but none is usable here: trials run on CPU", flush=True)
        return 0.0
    card = int(opts.card_gb * 2**30) or measured["card_bytes"]
    print(f"[{method}] {measured['device']}: {gpu.describe(measured['peak_bytes'], card)}", flush=True)
    return gpu.fraction_for(measured["peak_bytes"], card)


def _fixed_overrides(opts: SweepOptions, method: str) -> dict:
    from sweeps.options import fixed_for

    return fixed_for(opts.overrides, method)


def _fit_method(method: str, space: dict, opts: SweepOptions, fs, ref, tracker: Tracker, parent: str,
                plotter) -> dict:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search import BasicVariantGenerator
    from ray.tune.search.optuna import OptunaSearch

    from sweeps.callback import MLflowTrials
    from sweeps.trainable import run_trial

    fraction = _trial_gpu_fraction(opts, method, fs)
    settings = {"fixed": _fixed_overrides(opts, method), "seed": opts.seed, "max_steps": opts.max_steps,
                "max_epochs": opts.max_epochs, "select_on": opts.select_on, "val_fraction": opts.val_fraction,
                "select_metric": opts.select_metric, "amp": opts.amp,
                "evals_per_trial": opts.evals_per_trial, "cpus_per_trial": opts.cpus_per_trial,
                "gpu_fraction": fraction}
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, feature_set_ref=[ref], method=method, settings=settings),
        {"cpu": opts.cpus_per_trial, "gpu": fraction})
    base = sweep_state.sweep_dir(opts.storage, opts.name)
    path = f"{base}/{method}"
    fixed_params = {"method": method, "seed": opts.seed, "max_steps": opts.max_steps, "max_epochs": opts.max_epochs,
                    "select_on": opts.select_on, "gpu_fraction": fraction, "amp": opts.amp,
                    **{f"set.{k}": v for k, v in settings["fixed"].items()}}
    tags = {"wsvad.feature_set_hash": fs.hash, "wsvad.selected_on": opts.select_on}
    callback = MLflowTrials(tracker, parent, opts.name, method, fixed_params, tags, plotter=plotter)

    if tune.Tuner.can_restore(path):
        print(f"[{method}] resuming from {path}", flush=True)
        tuner = tune.Tuner.restore(path, trainable=trainable, resume_unfinished=True,
                                   resume_errored=False, restart_errored=False)
        _attach_callback(tuner, callback)
    else:
        points = [official_point(method, space)]  # the paper's configuration is always trial 0
        if opts.search == "optuna":
            search = OptunaSearch(metric="objective", mode="max", seed=opts.seed, points_to_evaluate=points)
        else:
            # BasicVariantGenerator takes the concurrency cap itself (Tune ignores max_concurrent_trials for it).
            search = BasicVariantGenerator(points_to_evaluate=points, random_state=opts.seed,
                                           max_concurrent=opts.max_concurrent or 0)
        if opts.scheduler == "asha":
            scheduler = ASHAScheduler(time_attr="training_iteration", max_t=opts.evals_per_trial,
                                      grace_period=max(1, opts.evals_per_trial // 4), reduction_factor=3)
        else:
            scheduler = FIFOScheduler()
        tuner = tune.Tuner(
            trainable,
            param_space=to_tune(space),
            tune_config=tune.TuneConfig(metric="objective", mode="max", search_alg=search, scheduler=scheduler,
                                        num_samples=opts.trials,
                                        max_concurrent_trials=opts.max_concurrent if opts.search == "optuna" else None,
                                        reuse_actors=True),  # no new worker process per trial
            run_config=tune.RunConfig(
                name=method, storage_path=base, callbacks=[callback], verbose=0,
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
    return _record_method(method, grid, callback, tracker, parent)


def _attach_callback(tuner, callback) -> None:
    """A restored Tuner keeps the RunConfig it was pickled with; give it this driver's callback
    (the old one's MLflow client did not survive the kill)."""
    run_config = tuner._local_tuner.get_run_config()  # the single private touch point, here only
    others = [c for c in (run_config.callbacks or []) if not isinstance(c, type(callback))]
    run_config.callbacks = [*others, callback]


def _record_method(method: str, grid, callback, tracker: Tracker, parent: str) -> dict:
    """Best trial → its checkpoint logged to its MLflow run; stale RUNNING runs closed."""
    finished = failed = 0
    for result in grid:
        trial_id = result.metrics.get("trial_id") if result.metrics else None
        if result.error is not None:
            failed += 1
        else:
            finished += 1
        # A trial that ended while a previous driver was dying has a run this driver never opened.
        run_id = (callback.runs.get(trial_id) or tracker.find_run(**{"mlflow.parentRunId": parent,
                                                                    "wsvad.trial_id": trial_id})) if trial_id else None
        if run_id and tracker.client.get_run(run_id).info.status == "RUNNING":
            tracker.end(run_id, "FAILED" if result.error is not None else "FINISHED",
                        reason=str(result.error).splitlines()[-1] if result.error is not None else None)
    summary = {"trials": len(grid), "finished": finished, "failed": failed}
    try:
        best = grid.get_best_result(metric="objective", mode="max", scope="last", filter_nan_and_inf=True)
    except RuntimeError:
        print(f"[{method}] no trial finished with a finite objective", flush=True)
        return summary
    trial_id = best.metrics["trial_id"]
    run_id = callback.runs.get(trial_id) or tracker.find_run(**{"mlflow.parentRunId": parent, "wsvad.trial_id": trial_id})
    selected = {k.split("/", 1)[1]: v for k, v in best.metrics.items() if k.startswith("selected/")}
    summary.update({"best_trial_id": trial_id, "best_run_id": run_id, "objective": best.metrics["objective"],
                    "config": dict(best.config), "selected": selected})
    if best.checkpoint is not None and run_id:
        with best.checkpoint.as_directory() as d:
            tracker.log_artifact(run_id, Path(d) / "model.pt", "checkpoint")
        tracker.set_tags(run_id, {"wsvad.best_of_method": "true"})
    tracker.log_metrics(parent, {f"best/{method}/objective": best.metrics["objective"],
                                 **{f"best/{method}/{k}": v for k, v in selected.items()
                                    if k.startswith("test/")}}, step=0)
    tracker.set_tags(parent, {f"best/{method}/trial_id": trial_id, f"best/{method}/run_id": run_id or ""})
    print(f"[{method}] best trial {trial_id}: objective {best.metrics['objective']:.4f}, "
          f"test auc {selected.get('test/auc', float('nan')):.4f} ({finished} finished, {failed} failed)", flush=True)
    return summary


def _log_summary(tracker: Tracker, parent: str, record: dict) -> None:
    done = record["completed"]
    tracker.log_metrics(parent, {"methods_finished": len(done),
                                 "trials_finished": sum(m["finished"] for m in done.values()),
                                 "trials_failed": sum(m["failed"] for m in done.values())}, step=0)
