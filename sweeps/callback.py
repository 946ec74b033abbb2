"""The Tune callback that writes every trial to MLflow from the driver (one writer per sweep)."""

from __future__ import annotations

from ray.tune import Callback

import functools

from sweeps.background import Background
from sweeps.tracking import Tracker, TrackingError

# Tune's own bookkeeping keys, not worth an MLflow metric.
SKIP = {"timestamp", "time_this_iter_s", "time_total_s", "training_iteration", "iterations_since_restore",
        "time_since_restore", "timesteps_total", "episodes_total", "pid", "done", "trial_id", "date",
        "hostname", "node_ip", "config", "checkpoint_dir_name", "should_checkpoint", "experiment_tag", "step"}


def _remember_tracking_errors(hook):
    """Tune wraps a callback's exception in a TuneError holding a traceback; keep the original so
    the driver can stop with its one-line message."""
    @functools.wraps(hook)
    def wrapper(self, *args, **kwargs):
        try:
            return hook(self, *args, **kwargs)
        except TrackingError as exc:
            self.fatal = exc
            raise
    return wrapper


class MLflowTrials(Callback):
    def __init__(self, tracker: Tracker, parent_id: str, sweep: str, method: str, fixed_params: dict, tags: dict,
                 plotter: Background | None = None):
        self.tracker = tracker
        self.parent_id = parent_id
        self.sweep = sweep
        self.method = method
        self.fixed_params = fixed_params
        self.tags = tags
        self.runs: dict[str, str] = {}   # trial_id -> MLflow run id
        self.restores: dict[str, int] = {}
        self.fatal: TrackingError | None = None
        # Plots are drawn by one idle-priority thread: Tune's loop never waits on matplotlib, and the
        # trials beside the driver lose next to no CPU to it. A sweep shares one plotter across its methods
        # (and waits for it once, at its end); without one the callback keeps its own.
        self._owns_plotter = plotter is None
        self._plotter = plotter if plotter is not None else Background("wsvad-plots")

    def __getstate__(self):
        # Tune pickles its RunConfig (tuner.pkl); an MLflow client does not survive that, and a
        # resumed driver attaches a fresh callback anyway (driver._attach_callback).
        state = dict(self.__dict__)
        state["tracker"] = None
        state["_plotter"] = None
        return state

    def run_for(self, trial) -> str:
        if trial.trial_id not in self.runs:
            params = {**self.fixed_params, **{f"config.{k}": v for k, v in (trial.config or {}).items()}}
            self.runs[trial.trial_id] = self.tracker.child_for_trial(
                self.parent_id, self.sweep, trial.trial_id, self.method, params, self.tags)
        return self.runs[trial.trial_id]

    @_remember_tracking_errors
    def on_trial_start(self, iteration, trials, trial, **info):
        self.run_for(trial)

    @_remember_tracking_errors
    def on_trial_restore(self, iteration, trials, trial, **info):
        self.tracker.reopen(self.run_for(trial))

    @_remember_tracking_errors
    def on_trial_recover(self, iteration, trials, trial, **info):
        # The trial's worker died; Tune retries it from its last checkpoint (FailureConfig), and
        # the retry goes on writing to the same run.
        run = self.run_for(trial)
        self.restores[trial.trial_id] = self.restores.get(trial.trial_id, 0) + 1
        self.tracker.set_tags(run, {"wsvad.restores": self.restores[trial.trial_id],
                                    "wsvad.last_failure": failure_reason(trial)[:4000]})
        print(f"[{self.method}] trial {trial.trial_id} failed ({failure_reason(trial)}); retrying from its last "
              f"checkpoint (retry {self.restores[trial.trial_id]})", flush=True)

    @_remember_tracking_errors
    def on_trial_result(self, iteration, trials, trial, result, **info):
        step = int(result.get("step", result.get("training_iteration", 0)))
        self.tracker.log_metrics(self.run_for(trial), {k: v for k, v in result.items() if k not in SKIP}, step,
                                 once_per_step=True)

    @_remember_tracking_errors
    def on_trial_complete(self, iteration, trials, trial, **info):
        run = self.run_for(trial)
        stopped_early = trial.last_result.get("step", 0) < trial.last_result.get("total_steps", 0)
        self.tracker.set_tags(run, {"wsvad.stopped_by": "asha" if stopped_early else "budget"})
        self._draw_plots_later(run, trial)
        self.tracker.end(run, "FINISHED")
        r = trial.last_result
        print(f"[{self.method}] trial {trial.trial_id} finished at step {r.get('step')}/{r.get('total_steps')} "
              f"({'stopped by ASHA' if stopped_early else 'full budget'}): objective {r.get('objective', float('nan')):.4f}",
              flush=True)

    def _draw_plots_later(self, run_id: str, trial) -> None:
        checkpoint = getattr(trial, "checkpoint", None)
        if checkpoint is None:
            return
        if self._plotter is None:  # unpickled (a restored Tuner's copy): plots still get drawn
            self._plotter, self._owns_plotter = Background("wsvad-plots"), True
        self._plotter.submit(log_plots, self.tracker, run_id, checkpoint, trial.trial_id)

    def wait_for_plots(self) -> None:
        """Every submitted plot logged (or its failure printed); called before the sweep reports."""
        if self._plotter is not None:
            self._plotter.wait()

    def on_experiment_end(self, trials, **info):
        if self._owns_plotter:  # a shared plotter is waited for by its owner, once
            self.wait_for_plots()

    @_remember_tracking_errors
    def on_trial_error(self, iteration, trials, trial, **info):
        reason = failure_reason(trial)
        self.tracker.end(self.run_for(trial), "FAILED", reason=reason)
        print(f"[{self.method}] trial {trial.trial_id} failed: {reason}", flush=True)


def log_plots(tracker: Tracker, run_id: str, checkpoint, trial_id: str) -> None:
    """ROC, PR, per-class AUC and score timelines of the trial's selected model, as run artifacts.

    Drawn here on the driver from the frame scores the trial left in its last checkpoint, so a
    trial's worker spends no time on matplotlib. A plot that cannot be drawn never fails the sweep.
    """
    import tempfile
    from pathlib import Path

    from sweeps.trainable import EVALUATION
    from wsvad.plots import write_run_plots
    from wsvad.train.outputs import load_evaluation

    try:
        with checkpoint.as_directory() as d, tempfile.TemporaryDirectory() as out:
            if not (Path(d) / EVALUATION).is_file():
                return
            evaluation, video_ids = load_evaluation(Path(d) / EVALUATION)
            write_run_plots(evaluation, video_ids, out)
            tracker.log_artifacts(run_id, Path(out), "plots")
    except Exception as exc:  # plots are a view of the run, never a reason to lose it
        print(f"[plots] trial {trial_id}: could not draw its plots ({type(exc).__name__}: {exc})", flush=True)


def failure_reason(trial) -> str:
    """The last line of the trial's error (e.g. 'DivergedError: rtfm: loss is nan at step 12 ...')."""
    path = getattr(trial, "error_file", None)
    text = ""
    if path:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            text = ""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if "Error" in line or "Exception" in line:
            return line
    return lines[-1] if lines else "unknown error"
