"""The MLflow runs of a retrain: one parent per method, one child per seed — found by tags before
any is created, so a killed retrain that runs again reuses its runs instead of duplicating them.

    retrain parent  wsvad.kind=retrain  wsvad.sweep  wsvad.method  wsvad.retrain_key  wsvad.selected_on
      └ seed child  wsvad.kind=retrain  wsvad.seed   mlflow.parentRunId=<parent>      (same tags)
"""

from __future__ import annotations

from sweeps.tracking import METHOD_TAG, PARENT_TAG, SWEEP_TAG, Tracker, search_runs

KIND = "retrain"
KEY_TAG = "wsvad.retrain_key"
SEED_TAG = "wsvad.seed"


def parent_run(tracker: Tracker, sweep: str, method: str, key: str, params: dict, tags: dict) -> str:
    found = [r for r in search_runs(tracker.client, [tracker.experiment_id],
                                    **{"wsvad.kind": KIND, SWEEP_TAG: sweep, METHOD_TAG: method, KEY_TAG: key})
             if SEED_TAG not in r.data.tags]
    if found:
        return found[-1].info.run_id  # the oldest: the first attempt's
    return tracker.create_run(f"retrain-{method}", {"wsvad.kind": KIND, SWEEP_TAG: sweep, METHOD_TAG: method,
                                                    KEY_TAG: key, **tags}, params)


def seed_run(tracker: Tracker, parent_id: str, sweep: str, method: str, seed: int, params: dict, tags: dict) -> str:
    found = search_runs(tracker.client, [tracker.experiment_id], **{PARENT_TAG: parent_id, SEED_TAG: seed})
    if found:
        tracker.reopen(found[-1].info.run_id)
        return found[-1].info.run_id
    return tracker.create_run(f"{method}-seed{seed}", {"wsvad.kind": KIND, PARENT_TAG: parent_id, SWEEP_TAG: sweep,
                                                       METHOD_TAG: method, SEED_TAG: seed, **tags},
                              {**params, "seed": seed})


def seed_runs(tracker: Tracker, parent_id: str) -> dict[int, object]:
    """seed -> its child run (the MLflow Run object)."""
    runs = search_runs(tracker.client, [tracker.experiment_id], **{PARENT_TAG: parent_id, "wsvad.kind": KIND})
    return {int(r.data.tags[SEED_TAG]): r for r in runs if SEED_TAG in r.data.tags}  # oldest wins
