"""The Tune callback of a retrain: the sweep's trial callback, with one child run per *seed*.

Everything else (metrics at each evaluation, plots of the selected model, failure reasons) is the
sweep's own `MLflowTrials`; only where a trial's run comes from differs: it is the retrain
parent's child for the trial's seed, looked up before it is created (sweeps/retrain_runs.py).
"""

from __future__ import annotations

from sweeps.callback import MLflowTrials
from sweeps.retrain_runs import seed_run


class MLflowSeeds(MLflowTrials):
    def run_for(self, trial) -> str:
        if trial.trial_id not in self.runs:
            seed = int(trial.config["seed"])
            self.runs[trial.trial_id] = seed_run(self.tracker, self.parent_id, self.sweep, self.method, seed,
                                                 self.fixed_params, self.tags)
        return self.runs[trial.trial_id]
