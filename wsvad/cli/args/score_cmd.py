from wsvad.cli.args.common import positive_int


def add_arguments(p):
    p.add_argument("--features", required=True, metavar="FILE.npy", help="one video's features, (T, D) or (T, crops, D)")
    p.add_argument("--layout", choices=("crops-last", "crops-first"), default="crops-last")
    p.add_argument("--model", required=True, metavar="CKPT")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--frames-per-snippet", type=positive_int, default=16)
