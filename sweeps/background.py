"""Driver work nobody waits for (a trial's plots): one thread at the lowest CPU priority.

The driver shares the head node's cores with trials; a trial worker's speed is the sweep's speed.
Drawing one trial's ROC, PR and timelines costs 1.3 s of CPU at 1.2 M test frames, and Ray runs
trial workers at nice 15, so at the driver's normal priority the plot thread won every contest for
a core. At the lowest priority the kernel runs it mostly on cycles the trials leave idle: between
trials, during their I/O, and at the sweep's end, when the driver waits for the last plots. (With
leaner checkpoints it raised the sweep benchmark's slot efficiency from 0.86 to 0.88; the trials' remaining slowdown
beside the driver and Ray's daemons is measured in docs/scaling.md.)
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor


def lowest_priority() -> None:
    """SCHED_IDLE (else nice 19) for the calling thread. Linux schedules threads separately, and
    both calls on a thread id change that thread only; elsewhere the thread keeps its priority.

    Nice 19 is not low enough on its own: Ray starts its workers at nice 15 (`worker_niceness`),
    so a nice-19 thread would still take ~30 % of a core from the trial beside it; a SCHED_IDLE
    thread's weight is 3 against the trial's 36."""
    if sys.platform != "linux":
        return
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, 19)
        except OSError:
            pass


class Background:
    """A one-thread queue of jobs at the lowest priority, in submission order."""

    def __init__(self, name: str = "wsvad-background"):
        self._name = name
        self._executor: ThreadPoolExecutor | None = None
        self._jobs: list[Future] = []

    def submit(self, fn, *args) -> Future:
        if self._executor is None:  # started on first use: a sweep with nothing to draw has no thread
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name,
                                                initializer=lowest_priority)
        job = self._executor.submit(fn, *args)
        self._jobs.append(job)
        return job

    def wait(self) -> None:
        """Every job submitted so far has run; a job's exception is raised here."""
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.result()

    def close(self, wait: bool = True) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=wait, cancel_futures=not wait)
            self._executor = None
        self._jobs = []
