import argparse


def add_arguments(p: argparse.ArgumentParser):
    p.add_argument("--model", required=True, metavar="CKPT", help="a wsvad checkpoint")
    p.add_argument("--features", required=True, metavar="DIR",
                   help="the feature set the model was trained on (its hash must match the checkpoint's)")
    p.add_argument("--split", default="val", choices=("train", "val", "test"),
                   help="whose normal videos give the normal scores (default val: held out from training; "
                        "train scores are optimistic, test would peek)")
    p.add_argument("--method", default="evt", choices=("evt", "percentile", "fixed"))
    p.add_argument("--far", type=float, default=1e-3, help="target false-alarm rate per frame (evt, percentile)")
    p.add_argument("--threshold", type=float, help="with --method fixed")
    p.add_argument("--tail-quantile", type=float, default=0.9, help="evt: the tail starts at this quantile")
    p.add_argument("--evt-origin", default="0", metavar="X|tail",
                   help="evt: where the Weibull's support starts (0 suits non-negative scores; 'tail' fits the "
                        "exceedances over the tail quantile, for scores that can be negative)")
    p.add_argument("--frames-per-snippet", type=int, default=16)
    p.add_argument("--out", required=True, metavar="CKPT", help="the checkpoint with its threshold stored")
