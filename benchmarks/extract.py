"""Extraction throughput and memory: the Ray Data pipeline against a plain loop and the decode ceiling.

On the same toy clips (real H.264 mp4 files, ``wsvad toy-videos``) it measures snippets/s of

- decode only, one process (decode + sample + crop, no backbone);
- decode only, as Ray tasks on every CPU (with the one-process figure: the ceiling — the
  pipeline cannot beat decoding);
- a plain sequential loop: decode a video, embed its snippets in batches, next video, the way a
  one-off script extracts — with torch on every CPU thread, and on one (on a shared, loaded
  box a multi-threaded torch can stall; the better of the two is the baseline);
- the Ray Data pipeline (``extraction.extract``: decode tasks → actor pool → parts on disk),

each including the backbone's construction where it has one, none including Ray's start-up
(printed apart; Ray's worker processes are warmed up by a small decode-only run first). Where
the pipeline gains: decoding overlaps embedding, its batches span videos (the backbone sees
one batch shape, not a new slow first-call shape for each video's tail), and actors scale out
over GPUs and nodes. Where it loses on a small CPU box: a whole CPU goes to decoding, which
needs far less when the backbone dominates. Rounds interleave the four paths and the best of
each is reported, since the machine may be shared; the load average is printed.

Then the peak RSS of a whole ``extract`` run (driver alone, and driver + every Ray process it
started) at 10 and at 40 videos, each in a fresh process with its own embedded Ray: streaming
must keep memory flat in the number of videos.

    python benchmarks/extract.py [--videos 40] [--backbone effnet-lite0] [--rss-videos 10,40] [--repeat 2]
                                 [--workers 1 --cpus-per-worker 1 --decode-cpus 1] [--smoke-test]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def toy_manifest(root: Path, videos: int, seed: int = 0) -> Path:
    from extraction.toy_videos import make_toy_videos

    return make_toy_videos(root, videos=videos, seed=seed, test_fraction=0.25)["manifest"]


def first_n(manifest: Path, n: int, path: Path) -> Path:
    lines = manifest.read_text().splitlines()
    base = manifest.parent
    rows = [lines[0]] + [f"{base / line.split(',', 1)[0]},{line.split(',', 1)[1]}" for line in lines[1:n + 1]]
    path.write_text("\n".join(rows) + "\n")
    return path


def setup(manifest: Path, backbone: str, crops: int, decoder: str):
    from extraction import backbones
    from extraction.plan import plan_videos
    from extraction.sampling import resize_short_side, snippet_positions
    from extraction.stages import DecodeSpec

    info = backbones.describe(backbone)
    positions = tuple(int(p) for p in snippet_positions(16, info.frames_per_input or 16))
    spec = DecodeSpec(decoder, 16, positions, resize_short_side(info.input_size, crops), info.input_size, crops)
    return plan_videos(manifest=manifest), spec, info


def decode_only_sequential(entries, spec) -> tuple[int, float]:
    from extraction.stages import decode_video

    start, snippets = time.perf_counter(), 0
    for e in entries:
        snippets += sum(int((b["snippet"] >= 0).sum()) for b in decode_video(e.path, e.key, spec))
    return snippets, time.perf_counter() - start


def _count_snippets(batch, spec):
    import numpy as np

    from extraction.stages import decode_batch

    return {"snippets": np.array([sum(int((b["snippet"] >= 0).sum()) for b in decode_batch(batch, spec))])}


def decode_only_ray(entries, spec) -> tuple[int, float]:
    import ray.data

    from extraction.pipeline import quiet_ray_data

    quiet_ray_data()
    start = time.perf_counter()
    ds = ray.data.from_items([{"path": e.path, "key": e.key} for e in entries], override_num_blocks=len(entries))
    ds = ds.map_batches(_count_snippets, fn_kwargs={"spec": spec}, batch_size=1, batch_format="numpy")
    snippets = sum(int(b["snippets"].sum()) for b in ds.iter_batches(batch_size=None, batch_format="numpy"))
    return snippets, time.perf_counter() - start


def sequential_loop(entries, spec, info, batch_size: int, threads: int, first: list | None = None) -> tuple[int, float]:
    """The plain loop; ``first`` receives (seconds, snippets) when the first video is done."""

    from extraction.stages import EmbedSnippets, decode_video

    start = time.perf_counter()
    embed = EmbedSnippets(info.__dict__, crops=spec.crops, threads=threads)
    snippets = 0
    for e in entries:
        for rows in decode_video(e.path, e.key, spec):
            for i in range(0, len(rows["snippet"]), batch_size):
                batch = {k: v[i:i + batch_size] for k, v in rows.items()}
                snippets += int((embed(batch)["snippet"] >= 0).sum())
        if first is not None and not first:
            first.extend((time.perf_counter() - start, snippets))
    return snippets, time.perf_counter() - start


def ray_pipeline(manifest: Path, annotations: Path, out: Path, args, first: list | None = None) -> tuple[int, float]:
    from extraction.extract import extract

    summary = extract(out, "bench", args.backbone, manifest=manifest, crops=args.crops, decoder=args.decoder,
                      batch_size=args.batch_size, workers=args.workers, cpus_per_worker=args.cpus_per_worker,
                      decode_cpus=args.decode_cpus, annotations=annotations, annotation_format="csv",
                      stream=io.StringIO())
    if first is not None and summary.first_video:
        first.extend(summary.first_video)
    return summary.snippets, summary.seconds


# --- peak RSS of a whole run, in a child process ------------------------------------------------


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


def peak_rss(manifest: Path, n: int, args) -> dict:
    """Run one extraction of n videos in a child; sample RSS of it and its process tree."""
    with tempfile.TemporaryDirectory() as tmp:
        sub = first_n(manifest, n, Path(tmp) / "m.csv")
        cmd = [sys.executable, __file__, "--_child", str(sub), "--_annotations",
               str(manifest.parent / "annotations.csv"), "--out", str(Path(tmp) / "out"),
               *(f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                 if k in ("backbone", "decoder", "crops", "batch_size", "num_cpus", "workers", "cpus_per_worker",
                          "decode_cpus"))]
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        peak = {"driver": 0, "all": 0}
        while child.poll() is None:
            tree = _descendants(child.pid)
            peak["driver"] = max(peak["driver"], _rss_kib(child.pid))
            peak["all"] = max(peak["all"], sum(_rss_kib(p) for p in tree))
            time.sleep(0.2)
        result = json.loads(child.stdout.read().strip().splitlines()[-1])
        if child.returncode:
            raise SystemExit(f"child run failed ({child.returncode})")
    return {**result, "driver_mib": peak["driver"] / 1024, "all_mib": peak["all"] / 1024}


def child(args) -> None:
    import ray

    ray.init(num_cpus=args.num_cpus, include_dashboard=False, object_store_memory=512 << 20, logging_level="ERROR")
    try:
        snippets, seconds = ray_pipeline(Path(args._child), Path(args._annotations), Path(args.out), args)
    finally:
        ray.shutdown()
    print(json.dumps({"snippets": snippets, "seconds": seconds}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=int, default=40, help="clips for the throughput comparison")
    p.add_argument("--rss-videos", default="10,40", help="video counts for the peak-RSS runs")
    p.add_argument("--backbone", default="effnet-lite0")
    p.add_argument("--decoder", default="decord", choices=("decord", "pyav"))
    p.add_argument("--crops", type=int, default=1, choices=(1, 5, 10))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-cpus", type=int, default=os.cpu_count())
    p.add_argument("--repeat", type=int, default=2, help="rounds; the best of each path is reported")
    p.add_argument("--workers", type=int, default=1, help="pipeline: backbone actors")
    p.add_argument("--cpus-per-worker", type=float, default=1.0, help="pipeline: Ray CPUs per actor")
    p.add_argument("--decode-cpus", type=float, default=1.0, help="pipeline: Ray CPUs per decode task")
    p.add_argument("--smoke-test", action="store_true", help="tiny sizes, to check the script runs")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    p.add_argument("--_annotations", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._child:
        return child(args)
    if args.smoke_test:
        args.videos, args.rss_videos, args.repeat = 4, "2,4", 1
    rss_sizes = [int(x) for x in args.rss_videos.split(",") if x.strip()]   # "": skip the RSS runs

    import ray
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        manifest = toy_manifest(tmp / "toy", max(args.videos, *rss_sizes, 0))
        print(f"made {max(args.videos, *rss_sizes, 0)} toy clips in {time.perf_counter() - start:.1f}s; "
              f"{args.num_cpus} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), "
              f"backbone {args.backbone}, {args.crops} crop(s), decoder {args.decoder}; pipeline: {args.workers} "
              f"actor(s) x {args.cpus_per_worker:g} CPU, decode tasks {args.decode_cpus:g} CPU; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        sub = first_n(manifest, args.videos, tmp / "bench.csv")
        entries, spec, info = setup(sub, args.backbone, args.crops, args.decoder)

        start = time.perf_counter()
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, object_store_memory=512 << 20, logging_level="ERROR")
        print(f"ray.init: {time.perf_counter() - start:.1f}s (not counted below)", flush=True)
        names = ("decode only, one process", f"sequential decode->embed loop, torch {args.num_cpus} threads",
                 f"decode only, Ray tasks on {args.num_cpus} CPUs", "Ray Data pipeline (wsvad extract)",
                 "sequential decode->embed loop, torch 1 thread")
        best: dict[str, tuple[int, float]] = {}
        steady: dict[str, float] = {}   # snippets/s after the first video: start-up (model load ...) excluded
        try:
            decode_only_ray(entries[:4], spec)                 # warm up Ray's worker processes
            # Rounds interleave the four paths; the best of each is reported (the machine may be shared).
            for round_ in range(args.repeat):
                out, firsts = tmp / f"out{round_}", {name: [] for name in names}
                runs = (lambda: decode_only_sequential(entries, spec),
                        lambda: sequential_loop(entries, spec, info, args.batch_size, args.num_cpus,
                                                firsts[names[1]]),  # noqa: B023
                        lambda: decode_only_ray(entries, spec),
                        lambda: ray_pipeline(sub, manifest.parent / "annotations.csv", out, args,  # noqa: B023
                                             firsts[names[3]]),  # noqa: B023
                        lambda: sequential_loop(entries, spec, info, args.batch_size, 1, firsts[names[4]]))  # noqa: B023
                for name, run in zip(names, runs, strict=True):
                    n, s = run()
                    after = ""
                    if firsts[name] and n - firsts[name][1] >= n / 2:   # meaningful only with work left
                        t0, n0 = firsts[name]
                        steady[name] = max(steady.get(name, 0.0), (n - n0) / (s - t0))
                        after = f" ({(n - n0) / (s - t0):.1f} after its first video, at {t0:.1f}s)"
                    print(f"  round {round_ + 1}: {name}: {n / s:.1f} snippets/s{after}", flush=True)
                    if name not in best or s < best[name][1]:
                        best[name] = (n, s)
        finally:
            ray.shutdown()
        rows = [(name, *best[name]) for name in names]

        print(f"\nbest of {args.repeat}; {len(entries)} videos; {'path':<56} {'snippets':>8} {'seconds':>8} "
              f"{'snippets/s':>11}")
        rate = {}
        for name, n, s in rows:
            rate[name] = n / s
            print(f"{'':<{len(str(len(entries))) + 9}}{name:<56} {n:>8} {s:>8.1f} {n / s:>11.1f}")
        pipe = rate[names[3]]
        seq_name = max((names[1], names[4]), key=lambda k: rate[k])          # the better of the two loops
        seq = rate[seq_name]
        ceiling = max(rate[names[0]], rate[names[2]])       # decoding alone: the most the pipeline could do
        print(f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        print(f"\nratio pipeline / best sequential loop ({seq_name.split(', ')[1]}): {pipe / seq:.2f}x end to end",
              end="")
        if seq_name in steady and names[3] in steady:
            print(f"; {steady[names[3]] / steady[seq_name]:.2f}x after the first video "
                  f"({steady[names[3]]:.1f} vs {steady[seq_name]:.1f} snippets/s: start-up excluded)", end="")
        print()
        print(f"ratio pipeline / decode-only ceiling ({ceiling:.1f} snippets/s, the faster decode-only path): "
              f"{pipe / ceiling:.2f}x (the gap is the backbone's share of the CPU)")

        if not rss_sizes:
            return
        print("\npeak RSS of a whole extraction run (fresh process, embedded Ray, 1 actor):")
        peaks = {}
        for n in rss_sizes:
            peaks[n] = peak_rss(manifest, n, args)
            r = peaks[n]
            print(f"  {n:>3} videos ({r['snippets']} snippets): driver {r['driver_mib']:.0f} MiB, "
                  f"driver + Ray processes {r['all_mib']:.0f} MiB", flush=True)
        lo, hi = min(rss_sizes), max(rss_sizes)
        print(f"ratio {hi} / {lo} videos: driver {peaks[hi]['driver_mib'] / peaks[lo]['driver_mib']:.2f}x, "
              f"all processes {peaks[hi]['all_mib'] / peaks[lo]['all_mib']:.2f}x "
              f"(videos {hi / lo:.1f}x, snippets {peaks[hi]['snippets'] / max(1, peaks[lo]['snippets']):.1f}x)")


if __name__ == "__main__":
    main()
