"""One Tune trial: the wsvad trainer on the shared feature set, reporting every evaluation.

The feature set arrives as an object reference and is read from the node's object store without a
copy (`ray.get` of numpy arrays is zero-copy); trials never read Parquet. Every evaluation reports
through `ray.tune.report` with a checkpoint holding the full trainer state, so a retried trial
(worker died) continues from its last evaluation instead of starting over.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

TRAINER_STATE = "trainer.pt"
MODEL = "model.pt"
EVALUATION = "evaluation.npz"  # the selected model's test frame scores: the driver draws the run's plots from it


def objective_key(select_on: str, select_metric: str) -> str:
    return f"{select_on}/{select_metric}"


def run_trial(config: dict, *, feature_set_ref, method: str, settings: dict) -> None:
    import ray
    import torch
    from ray import tune

    from sweeps.gpu import setup_trial_device
    from wsvad.protocol import Protocol
    from wsvad.train import TrainOptions, Trainer

    torch.set_num_threads(max(1, int(settings["cpus_per_trial"])))
    device = setup_trial_device(settings["gpu_fraction"])
    fs = ray.get(feature_set_ref[0])  # a list around the ref keeps Ray from resolving it for us

    # Retraining (sweeps/retrain.py) grids over seeds: a `seed` key in the config overrides the sweep's.
    config = dict(config)
    seed = int(config.pop("seed", settings["seed"]))
    overrides = {**settings["fixed"], **config}
    options = TrainOptions(seed=seed, max_steps=settings["max_steps"], max_epochs=settings["max_epochs"],
                           select_on=settings["select_on"], val_fraction=settings["val_fraction"],
                           select_metric=settings.get("select_metric") or None,
                           amp=settings.get("amp", "off"),
                           protocol=Protocol(), device=device)
    trainer = Trainer(fs, method, overrides, options)
    trainer.eval_every = max(1, -(-trainer.total_steps // settings["evals_per_trial"]))
    objective = objective_key(settings["select_on"], trainer.select_metric)

    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            trainer.load_state_dict(read_trainer_state(Path(d)))

    selected: list = []   # the selected model's module, built once per trial and refilled at each report

    def selected_model(t: Trainer):
        # Built once: VadCLIP and TPWNG build a CLIP text tower with the model (seconds each time), and
        # outside the trainer's RNG stream, so checkpointing never shifts the trial's random numbers.
        if not selected:
            with torch.random.fork_rng(devices=[]):
                selected.append(t.method_cls(t.config, fs.dim, class_names=t.class_names))
        selected[0].load_state_dict(t.best_state)
        return selected[0]

    def report(step: int, record: dict, t: Trainer) -> None:
        metrics = {k: v for k, v in record.items()}
        # The objective is the *selected* model's score so far (each trial keeps its best
        # evaluation): ASHA compares trials by it, Optuna is told its final value.
        metrics["objective"] = t.best_value
        metrics["current_objective"] = record[objective]
        metrics["selected_step"] = t.best_step
        metrics.update({f"selected/{k}": v for k, v in t.best_metrics.items()})
        metrics["total_steps"] = t.total_steps
        metrics["train_seconds"] = t.train_seconds  # compute inside the trial (benchmarks: slot efficiency)
        with tempfile.TemporaryDirectory() as d:
            write_trial_checkpoint(Path(d), t, selected_model(t), fs, settings["select_on"])
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))

    trainer.fit(report)


def write_trial_checkpoint(d: Path, trainer, selected, fs, select_on: str) -> None:
    """A report's checkpoint: the trainer state to resume from, the selected model (the artifact a
    best trial logs, loadable by `wsvad score`) and its test frame scores (the driver's plots).

    The selected weights are stored once, in model.pt: trainer.pt leaves out its `best_state`, a
    copy of those very tensors (a fifth of a checkpoint with Adam's two moments; 235 MB per report
    for make demo's 1280-d VadCLIP). `read_trainer_state` puts them back."""
    import torch

    from wsvad.train import save_checkpoint
    from wsvad.train.outputs import save_evaluation

    state = trainer.state_dict()
    state["best_state"] = None
    torch.save(state, d / TRAINER_STATE)
    save_checkpoint(d / MODEL, model=selected, feature_set_hash=fs.hash, dataset=fs.dataset,
                    feature_set_provenance=fs.manifest.get("provenance"),
                    metrics={k.split("/", 1)[1]: v for k, v in trainer.best_metrics.items() if k.startswith("test/")},
                    extra={"selected_on": select_on, "selected_step": trainer.best_step,
                           "select_metric": trainer.select_metric, "amp": trainer.options.amp})
    if trainer.best_evaluation is not None:  # None only right after a resume, until the next selection
        save_evaluation(d / EVALUATION, trainer.best_evaluation, fs.video_ids[trainer.test_idx])


def read_trainer_state(d: Path) -> dict:
    """The trainer state of a checkpoint written by `write_trial_checkpoint`, selected weights included."""
    import torch

    from wsvad.train.checkpoint import load_checkpoint

    state = torch.load(d / TRAINER_STATE, map_location="cpu", weights_only=True)
    if state.get("best_state") is None and (d / MODEL).is_file():
        state["best_state"] = load_checkpoint(d / MODEL)["state_dict"]
    return state
