"""Extraction throughput and memory: the Ray Data pipeline against a plain loop and the decode ceiling.

On the same toy clips (real H.264 mp4 files, ``wsvad toy-videos``, 480-960 frames each) it measures
snippets/s of

- decode only, one process (decode + sample + crop, no backbone);
- decode only, as Ray tasks on every CPU;
- a plain sequential loop: decode a video, embed its snippets in batches of the same size, next
  video, the way a one-off script extracts — same backbone, with torch on every CPU thread, and on
  one (on a shared, loaded box a multi-threaded torch can stall; the better of the two is the
  baseline);
- the Ray Data pipeline (``extraction.extract``: decode tasks → actor pool → parts on disk) in each
  ``--pipelines`` configuration: ``2x0.75+0.25`` = 2 backbone actors of 0.75 Ray CPU (1 torch thread
  each) and decode tasks of 0.25 CPU, so that decoding overlaps embedding on the same 2 cores;
  ``1x1+1`` is the old default (a whole CPU reserved for decoding),

each including the backbone's construction, none including Ray's start-up (printed apart; Ray's
worker processes are warmed up by a small decode-only run first). Rounds interleave the paths and
the best of each is reported, since the machine may be shared; the load average is printed. The
ceilings the measured rates allow are printed too: overlapping decode with embedding can gain at
most (t_decode + t_embed) / max(t_decode, t_embed).

Then the peak RSS of a whole ``extract`` run (driver alone, and driver + every Ray process it
started) at 10 and at 40 videos, each in a fresh process with its own embedded Ray: streaming
must keep memory flat in the number of videos.

    python benchmarks/extract.py [--videos 40] [--pipelines 2x0.75+0.25,1x1.75+0.25] [--rss-videos 10,40]
                                 [--repeat 2] [--smoke-test] [--report FILE.md] [--json FILE.json]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def toy_manifest(root: Path, videos: int, frames: tuple[int, int], seed: int = 0) -> Path:
    from extraction.toy_videos import make_toy_videos

    return make_toy_videos(root, videos=videos, seed=seed, test_fraction=0.25, frames=frames)["manifest"]


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


def parse_pipeline(text: str) -> dict:
    """"2x0.75+0.25" → 2 backbone actors of 0.75 Ray CPU each (1 torch thread), decode tasks of 0.25 CPU."""
    workers, rest = text.split("x", 1)
    cpus, decode = rest.split("+", 1)
    return {"workers": int(workers), "cpus_per_worker": float(cpus), "decode_cpus": float(decode)}


def pipeline_label(text: str) -> str:
    c = parse_pipeline(text)
    threads = max(1, math.ceil(c["cpus_per_worker"] - 1e-9))
    return (f"Ray Data pipeline {text}: {c['workers']} actor(s) x {c['cpus_per_worker']:g} CPU ({threads} torch "
            f"thread{'s' if threads > 1 else ''}), decode tasks {c['decode_cpus']:g} CPU")


def ray_pipeline(manifest: Path, annotations: Path, out: Path, args, config: str,
                 first: list | None = None) -> tuple[int, float]:
    from extraction.extract import extract

    summary = extract(out, "bench", args.backbone, manifest=manifest, crops=args.crops, decoder=args.decoder,
                      batch_size=args.batch_size, **parse_pipeline(config), annotations=annotations,
                      annotation_format="csv", stream=io.StringIO())
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
               f"--pipelines={args.rss_pipeline}",
               *(f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                 if k in ("backbone", "decoder", "crops", "batch_size", "num_cpus"))]
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
        snippets, seconds = ray_pipeline(Path(args._child), Path(args._annotations), Path(args.out), args,
                                         args.pipelines.split(",")[0])
    finally:
        ray.shutdown()
    print(json.dumps({"snippets": snippets, "seconds": seconds}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=int, default=40, help="clips for the throughput comparison")
    p.add_argument("--frames", default="480,960", help="frames per toy clip, min,max (16-frame snippets)")
    p.add_argument("--rss-videos", default="10,40", help="video counts for the peak-RSS runs")
    p.add_argument("--backbone", default="effnet-lite0")
    p.add_argument("--decoder", default="decord", choices=("decord", "pyav"))
    p.add_argument("--crops", type=int, default=1, choices=(1, 5, 10))
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--num-cpus", type=int, default=os.cpu_count())
    p.add_argument("--repeat", type=int, default=2, help="rounds; the best of each path is reported")
    p.add_argument("--pipelines", default="2x0.75+0.25,1x1.75+0.25,1x1+1",
                   help="pipeline configurations WORKERSxCPUS_PER_WORKER+DECODE_CPUS, comma-separated")
    p.add_argument("--rss-pipeline", default="2x0.75+0.25", help="the configuration of the peak-RSS runs")
    p.add_argument("--smoke-test", action="store_true", help="tiny sizes, to check the script runs")
    p.add_argument("--report", help="also write the markdown section here")
    p.add_argument("--json", help="also write the figures as JSON here")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    p.add_argument("--_annotations", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._child:
        return child(args)
    if args.smoke_test:
        args.videos, args.rss_videos, args.repeat, args.frames = 4, "2,4", 1, "96,192"
    rss_sizes = [int(x) for x in args.rss_videos.split(",") if x.strip()]   # "": skip the RSS runs
    frames = tuple(int(x) for x in args.frames.split(","))
    pipelines = [x.strip() for x in args.pipelines.split(",") if x.strip()]

    import ray
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        manifest = toy_manifest(tmp / "toy", max(args.videos, *rss_sizes, 0), frames)
        print(f"made {max(args.videos, *rss_sizes, 0)} toy clips of {frames[0]}-{frames[1]} frames in "
              f"{time.perf_counter() - start:.1f}s; {args.num_cpus} CPUs, torch {torch.__version__}, backbone "
              f"{args.backbone}, {args.crops} crop(s), decoder {args.decoder}, batch {args.batch_size}; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        sub = first_n(manifest, args.videos, tmp / "bench.csv")
        entries, spec, info = setup(sub, args.backbone, args.crops, args.decoder)

        start = time.perf_counter()
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, object_store_memory=512 << 20, logging_level="ERROR")
        ray_start = time.perf_counter() - start
        print(f"ray.init: {ray_start:.1f}s (not counted below)", flush=True)
        seq2, seq1 = (f"sequential decode->embed loop, torch {args.num_cpus} threads",
                      "sequential decode->embed loop, torch 1 thread")
        names = ["decode only, one process", seq2, "decode only, Ray tasks", *map(pipeline_label, pipelines), seq1]
        best: dict[str, tuple[int, float]] = {}
        steady: dict[str, float] = {}   # snippets/s after the first video: start-up (model load ...) excluded
        try:
            decode_only_ray(entries[:4], spec)                 # warm up Ray's worker processes
            # Rounds interleave the paths; the best of each is reported (the machine is shared).
            for round_ in range(args.repeat):
                firsts = {name: [] for name in names}
                runs = [lambda: decode_only_sequential(entries, spec),
                        lambda: sequential_loop(entries, spec, info, args.batch_size, args.num_cpus, firsts[seq2]),  # noqa: B023
                        lambda: decode_only_ray(entries, spec)]
                for k, config in enumerate(pipelines):
                    runs.append(lambda k=k, config=config: ray_pipeline(  # noqa: B023
                        sub, manifest.parent / "annotations.csv", tmp / f"out{round_}-{k}", args, config,
                        firsts[names[3 + k]]))  # noqa: B023
                runs.append(lambda: sequential_loop(entries, spec, info, args.batch_size, 1, firsts[seq1]))  # noqa: B023
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
        rate = {name: best[name][0] / best[name][1] for name in names}
        print(f"\nbest of {args.repeat}; {len(entries)} videos:")
        for name in names:
            print(f"  {name:<92} {best[name][0]:>6} snippets {best[name][1]:>7.1f} s {rate[name]:>8.1f} snippets/s")
        pipe_names = names[3:3 + len(pipelines)]
        pipe = max(pipe_names, key=lambda k: rate[k])
        seq = max((seq2, seq1), key=lambda k: rate[k])                    # the better of the two loops
        decode_rate = rate[names[0]]
        # Overlap ceiling: hiding decode behind embedding saves at most the decode time of the loop.
        t_decode, t_loop = 1 / decode_rate, 1 / rate[seq]
        t_embed = max(t_loop - t_decode, 1e-9)
        overlap_ceiling = t_loop / max(t_decode, t_embed)
        # Two-core ceiling: embedding on 1 thread per core, decode sharing the cores, nothing else.
        t_embed1 = max(1 / rate[seq1] - t_decode, 1e-9)
        two_core_ceiling = (args.num_cpus / (t_embed1 + t_decode)) / rate[seq]
        figures = {
            "videos": len(entries), "snippets": best[seq][0], "ray_start_s": ray_start,
            "rates": rate, "steady": steady, "best_pipeline": pipe, "sequential": seq,
            "ratio": rate[pipe] / rate[seq],
            "ratio_steady": (steady[pipe] / steady[seq]) if pipe in steady and seq in steady else float("nan"),
            "decode_share": t_decode / t_loop, "overlap_ceiling": overlap_ceiling,
            "two_core_ceiling": two_core_ceiling, "pipelines": {k: rate[k] / rate[seq] for k in pipe_names},
        }
        print(f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        print(f"ratio best pipeline ({pipe}) / best sequential loop ({seq}): {figures['ratio']:.2f}x end to end, "
              f"{figures['ratio_steady']:.2f}x after the first video")
        print(f"decode is {100 * figures['decode_share']:.0f}% of the loop's time: overlap ceiling "
              f"{overlap_ceiling:.2f}x; 2-core ceiling (1-thread embedding on each core) {two_core_ceiling:.2f}x")

        peaks = {}
        if rss_sizes:
            print(f"\npeak RSS of a whole extraction run (fresh process, embedded Ray, pipeline {args.rss_pipeline}):")
            for n in rss_sizes:
                peaks[n] = peak_rss(manifest, n, args)
                r = peaks[n]
                print(f"  {n:>3} videos ({r['snippets']} snippets): driver {r['driver_mib']:.0f} MiB, "
                      f"driver + Ray processes {r['all_mib']:.0f} MiB", flush=True)
            lo, hi = min(rss_sizes), max(rss_sizes)
            figures.update(rss=peaks, rss_ratio_driver=peaks[hi]["driver_mib"] / peaks[lo]["driver_mib"],
                           rss_ratio_all=peaks[hi]["all_mib"] / peaks[lo]["all_mib"],
                           rss_snippet_ratio=peaks[hi]["snippets"] / max(1, peaks[lo]["snippets"]))
            print(f"ratio {hi} / {lo} videos: driver {figures['rss_ratio_driver']:.2f}x, all processes "
                  f"{figures['rss_ratio_all']:.2f}x (snippets {figures['rss_snippet_ratio']:.1f}x)")
    text = markdown(figures, names, best, args, rss_sizes)
    print("\n" + text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str))


def markdown(f: dict, names: list[str], best: dict, args, rss_sizes: list[int]) -> str:
    out = [f"{f['videos']} toy clips ({f['snippets']} snippets), {args.backbone} (real weights), {args.crops} crop, "
           f"batch {args.batch_size}, decoder {args.decoder}, {args.num_cpus} CPUs; best of {args.repeat} interleaved "
           f"rounds per path; Ray start-up ({f['ray_start_s']:.1f} s) not counted, actor start and model load counted.",
           "", "| path | snippets/s | after the first video | vs best sequential loop |", "|---|---|---|---|"]
    for name in names:
        steady = f"{f['steady'][name]:.1f}" if name in f["steady"] else "—"
        out.append(f"| {name} | {f['rates'][name]:.1f} | {steady} | {f['rates'][name] / f['rates'][f['sequential']]:.2f}× |")
    out += ["", f"- Best pipeline vs best sequential loop: **{f['ratio']:.2f}×** end to end, {f['ratio_steady']:.2f}× "
            f"after the first video.",
            f"- Ceilings from the measured rates: decoding is {100 * f['decode_share']:.0f} % of the sequential loop's "
            f"time, so overlapping it with embedding gains at most (t_decode + t_embed) / max(t_decode, t_embed) = "
            f"**{f['overlap_ceiling']:.2f}×**; running one 1-thread embedding per core with decode shared gains at most "
            f"**{f['two_core_ceiling']:.2f}×** (it helps only as far as torch's 2 threads scale worse than 2 processes)."]
    if rss_sizes and "rss" in f:
        lo, hi = min(rss_sizes), max(rss_sizes)
        out.append(f"- Peak RSS, whole run in a fresh process ({args.rss_pipeline}): {lo} videos → driver "
                   f"{f['rss'][lo]['driver_mib']:.0f} MiB, all processes {f['rss'][lo]['all_mib']:.0f} MiB; {hi} videos → "
                   f"{f['rss'][hi]['driver_mib']:.0f} / {f['rss'][hi]['all_mib']:.0f} MiB: **{f['rss_ratio_driver']:.2f}×** "
                   f"(driver) and **{f['rss_ratio_all']:.2f}×** (all) for {f['rss_snippet_ratio']:.1f}× the snippets.")
    return "\n".join(out)


if __name__ == "__main__":
    main()
