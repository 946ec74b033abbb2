import argparse

from wsvad.cli.args.common import ANNOTATION_FORMATS, positive_int


def add_arguments(p: argparse.ArgumentParser):
    p.add_argument("videos", nargs="*", metavar="VIDEO",
                   help="video files to score end to end: decoded, sampled and embedded exactly as the model's "
                        "training features were (their provenance rides in the checkpoint)")
    p.add_argument("--features", metavar="FILE.npy", help="instead of videos: one video's features, (T, D) or (T, crops, D)")
    p.add_argument("--layout", choices=("crops-last", "crops-first"), default="crops-last", help="with --features")
    p.add_argument("--model", required=True, metavar="CKPT|models:/NAME@ALIAS",
                   help="a wsvad checkpoint file, or a registered model such as models:/wsvad-ucf-crime-rtfm@champion")
    p.add_argument("--tracking-uri", default="", help="MLflow tracking URI for models:/ (default: $MLFLOW_TRACKING_URI, "
                                                      "else sqlite:///./mlflow.db)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--threshold", type=float, default=None,
                   help="alarm threshold drawn on the timeline and counted in scores.csv (default: the one stored "
                        "with the model, else 0.5)")
    p.add_argument("--annotations", metavar="FILE", help="frame ground truth to shade on the timelines (optional)")
    p.add_argument("--annotation-format", choices=ANNOTATION_FORMATS, default="csv")
    p.add_argument("--backbone", help="the extraction backbone spec, when its weights sit at another path here "
                                      "(their checksum must equal the training features')")
    p.add_argument("--decoder", choices=("decord", "pyav"), help="override the recorded decoder")
    p.add_argument("--batch-size", type=positive_int, default=32, help="snippets per backbone forward")
    p.add_argument("--threads", type=positive_int, default=2, help="torch threads for the backbone and the model")
    p.add_argument("--frames-per-snippet", type=positive_int, default=16, help="with --features (videos use the model's)")
