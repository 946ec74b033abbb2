"""`wsvad watch`: score a video or a live stream as its frames arrive; alarms at the threshold.

Memory is bounded (one snippet of frames + a ring buffer of snippet features); the summary line
reports frames/s and the process's RSS at the start and the end.
"""

from __future__ import annotations

import collections
import tempfile
from pathlib import Path

import numpy as np


def run(args) -> int:
    import torch

    from extraction import backbones
    from extraction.embed_video import plan_from_provenance
    from extraction.watch import LiveScorer
    from wsvad.cli.score_cmd import resolve_model
    from wsvad.train import load_checkpoint, model_from_checkpoint

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="wsvad-watch-") as scratch:
        payload = load_checkpoint(resolve_model(args.model, args.tracking_uri, Path(scratch)))
    model = model_from_checkpoint(payload)
    extra = payload.get("extra", {})
    threshold = args.threshold if args.threshold is not None else float(extra.get("threshold", 0.5))
    decode, info = plan_from_provenance(payload.get("feature_set_provenance", {}), args.backbone, decoder="pyav")
    backbone = backbones.load(info)
    scorer = LiveScorer(model, decode, backbone, threshold, window=args.window)
    how = f" ({extra['threshold_method']}, FAR {extra['threshold_far']:.2g})" if "threshold_method" in extra else ""
    print(f"watching {args.source} with {payload['method']} ({info.spec}, {decode.frames_per_snippet}-frame snippets, "
          f"window {args.window}); alarm at score >= {threshold:g}{how}", flush=True)

    recent = collections.deque(maxlen=100_000)   # scores kept for the plot: bounded on endless streams
    events = scorer.run(args.source, max_frames=args.max_frames)
    in_alarm = False
    while True:
        try:
            event = next(events)
        except StopIteration as done:
            summary = done.value
            break
        recent.append(event.score)
        if event.alarm and not in_alarm:
            print(f"ALARM  t={event.seconds:8.2f}s  snippet {event.snippet:>6}  score {event.score:.4f}", flush=True)
        elif not event.alarm and in_alarm:
            print(f"clear  t={event.seconds:8.2f}s  snippet {event.snippet:>6}  score {event.score:.4f}", flush=True)
        elif not args.alarms_only:
            print(f"       t={event.seconds:8.2f}s  snippet {event.snippet:>6}  score {event.score:.4f}"
                  f"{'  (alarm)' if event.alarm else ''}", flush=True)
        in_alarm = event.alarm
    rss = summary.rss_bytes
    print(f"watched {summary.frames} frames / {summary.snippets} snippets in {summary.wall_seconds:.1f}s: "
          f"{summary.frames_per_second:.1f} frames/s; {summary.alarms} snippet(s) in alarm; "
          f"RSS {rss[0][1] / 2**20:.0f} MiB after snippet {rss[0][0]}, {rss[-1][1] / 2**20:.0f} MiB at the end",
          flush=True)
    if args.plot and recent:
        from wsvad.plots import score_timeline

        frames = np.repeat(np.asarray(recent, np.float32), decode.frames_per_snippet)
        score_timeline(frames, args.plot, threshold=threshold, fps=summary.fps, title=f"{args.source} (live)")
        print(f"wrote {args.plot}")
    return 0
