"""`wsvad <subcommand>`: argument parsing is cheap; each command's module is imported lazily."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module under wsvad.cli, one-line help). Order is the order of `wsvad --help`.
COMMANDS = {
    "methods": ("methods_cmd", "list the registered methods with their official defaults"),
    "toy-features": ("toy_cmd", "write a toy feature set with planted anomalies and frame ground truth"),
    "import-features": ("import_cmd", "turn existing .npy feature dumps (RTFM, VadCLIP, a folder) into a feature set"),
    "extract": ("extract_cmd", "turn videos into a feature set with a backbone (Ray Data job; resumable)"),
    "extract-objects": ("extract_objects_cmd", "turn videos into an object-level feature set: detector + ByteTrack, "
                        "one row per track (Ray Data job; resumable)"),
    "toy-videos": ("toy_videos_cmd", "write small procedural surveillance mp4 clips with planted events and annotations"),
    "train": ("train_cmd", "train one method on a feature set; writes metrics.json, frame scores, checkpoint"),
    "convert": ("convert_cmd", "turn an official checkpoint (state_dict) into a wsvad checkpoint"),
    "score": ("score_cmd", "score videos end to end (or one video's features) with a checkpoint or registered model: CSV + timeline PNG"),
    "calibrate": ("calibrate_cmd", "an alarm threshold from normal videos' scores (EVT, percentile, fixed) with its false-alarm rate"),
    "watch": ("watch_cmd", "score a video or live stream as frames arrive (ring buffer, bounded memory); print alarms"),
    "sweep": ("sweep_cmd", "Ray Tune + Optuna + ASHA sweep of methods on a feature set, tracked in MLflow"),
    "retrain": ("retrain_cmd", "retrain each method's best sweep configuration over seeds; register the best as @champion"),
    "table": ("table_cmd", "the reproduction table (paper vs best trial vs retrained mean ± std) as md/csv/html/latex + PNG"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsvad",
        description="wsvad-sweeps: reproduce and tune weakly-supervised video anomaly detection methods.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(f"wsvad.cli.args.{module}").add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from wsvad.errors import WsvadError

    try:
        run = importlib.import_module(f"wsvad.cli.{args._module}").run
        return int(run(args) or 0)
    except WsvadError as exc:
        print(f"wsvad {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wsvad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
