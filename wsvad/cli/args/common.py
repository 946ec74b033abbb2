"""Options shared by several subcommands."""

import argparse

# Weakly-supervised formats, then the one-class family's (wsvad/annotations_oneclass.py).
ANNOTATION_FORMATS = ("ucf-crime", "xd-violence", "csv", "shanghaitech", "ucsd-ped", "avenue")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key.strip(), value.strip()


def add_annotations(p: argparse.ArgumentParser) -> None:
    p.add_argument("--annotations", metavar="FILE|DIR",
                   help="official annotations giving test videos' frame ground truth (a folder for shanghaitech, avenue)")
    p.add_argument("--annotation-format", choices=ANNOTATION_FORMATS,
                   help="ucf-crime: 'Name.mp4  Class  s1  e1  s2  e2' (-1 none); xd-violence: 'name s1 e1 [s2 e2 ...]'; "
                        "csv: video_id,start_frame,end_frame; shanghaitech: test_frame_mask/*.npy; "
                        "ucsd-ped: UCSDped2.m gt_frame ranges; avenue: testing_label_mask/*_label.mat")


def add_protocol(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("evaluation protocol (wsvad/protocol.py documents each choice)")
    g.add_argument("--frames-per-snippet", type=positive_int, default=16)
    g.add_argument("--gt-length", choices=("snippets", "frames"), default="snippets")
    g.add_argument("--gt-end", choices=("inclusive", "exclusive"), default="inclusive")
    g.add_argument("--threshold", type=float, default=0.5, help="for far and video-level accuracy/precision/recall/F1")
