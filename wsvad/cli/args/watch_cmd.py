import argparse

from wsvad.cli.args.common import positive_int


def add_arguments(p: argparse.ArgumentParser):
    p.add_argument("source", metavar="VIDEO|STREAM", help="a video file or anything FFmpeg opens (rtsp://, http://)")
    p.add_argument("--model", required=True, metavar="CKPT|models:/NAME@ALIAS")
    p.add_argument("--tracking-uri", default="", help="MLflow tracking URI for models:/ (default: $MLFLOW_TRACKING_URI, "
                                                      "else sqlite:///./mlflow.db)")
    p.add_argument("--threshold", type=float, default=None,
                   help="alarm threshold (default: the calibrated one stored with the model, else 0.5)")
    p.add_argument("--window", type=positive_int, default=32, help="snippets of context the model sees (ring buffer)")
    p.add_argument("--plot", metavar="FILE.png", help="write the score timeline here when the source ends")
    p.add_argument("--backbone", help="the extraction backbone spec, when its weights sit at another path here")
    p.add_argument("--threads", type=positive_int, default=2)
    p.add_argument("--max-frames", type=positive_int, help="stop after this many frames (streams never end)")
    p.add_argument("--alarms-only", action="store_true", help="print only snippets at or over the threshold")
