"""Progress of a long extraction: videos done / total, videos/s, snippets/s, ETA.

A line at most every ``every`` seconds (and one at the end), to stderr, so a log of a
multi-hour run shows its pace without flooding.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, skipped: int = 0, every: float = 10.0, stream=None, clock=time.monotonic):
        self.total, self.skipped, self.every = total, skipped, every
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.start = clock()
        self.last_print = self.start
        self.done = self.rejected = self.snippets = 0
        self.first: tuple[float, int] | None = None   # (seconds, snippets) when the first video finished

    def update(self, snippets: int = 0, rejected: bool = False) -> None:
        self.done += 1
        self.rejected += int(rejected)
        self.snippets += snippets
        if self.first is None:
            self.first = (self.clock() - self.start, self.snippets)
        if self.every >= 0 and self.clock() - self.last_print >= self.every:
            self.print()

    def line(self) -> str:
        elapsed = max(self.clock() - self.start, 1e-9)
        videos_s, snippets_s = self.done / elapsed, self.snippets / elapsed
        left = self.total - self.done
        eta = _duration(left / videos_s) if videos_s > 0 else "?"
        rejected = f" ({self.rejected} rejected)" if self.rejected else ""
        return (f"[extract] {self.done}/{self.total} videos{rejected} | {videos_s:.2f} videos/s | "
                f"{snippets_s:.1f} snippets/s | elapsed {_duration(elapsed)} | ETA {eta}")

    def print(self) -> None:
        self.last_print = self.clock()
        print(self.line(), file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")
