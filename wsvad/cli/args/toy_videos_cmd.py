from wsvad.cli.args.common import positive_int


def add_arguments(p):
    p.add_argument("--out", required=True, metavar="DIR",
                   help="writes DIR/videos/*.mp4, DIR/manifest.csv, DIR/annotations.csv")
    p.add_argument("--videos", type=positive_int, default=24, help="number of clips (at least 4; half anomalous)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-fraction", type=float, default=0.4)
