from wsvad.cli.args.common import positive_int


def add_arguments(p):
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--videos", type=positive_int, default=128)
    p.add_argument("--dim", type=positive_int, default=64)
    p.add_argument("--snippets", type=positive_int, default=48, help="mean snippets per video (T varies ±50%%)")
    p.add_argument("--crops", type=positive_int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strength", type=float, default=6.0, help="shift of the planted events, in noise std units")
    p.add_argument("--dtype", choices=("float32", "float16"), default="float32")
