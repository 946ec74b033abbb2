from wsvad.cli.args.common import add_protocol, key_value, positive_int


def add_arguments(p):
    p.add_argument("--features", required=True, metavar="DIR", help="a feature set directory")
    p.add_argument("--method", required=True, metavar="NAME", help="see `wsvad methods`")
    p.add_argument("--set", action="append", default=[], type=key_value, metavar="KEY=VALUE",
                   help="override a method option (type-checked against its Config); repeatable")
    p.add_argument("--seed", type=int, default=0)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--max-steps", type=positive_int, help="override the official schedule (quick runs)")
    budget.add_argument("--max-epochs", type=positive_int)
    p.add_argument("--eval-every", type=positive_int, help="steps between evaluations (default: 10 per run)")
    p.add_argument("--select-on", choices=("val", "test", "last"), default="val",
                   help="model selection: a validation split carved from training videos (default, honest), "
                        "the test set (the papers' habit, recorded as such), or the last step")
    p.add_argument("--select-metric", help="metric to select on (default: auc with frame truth, video_auc on a carved split)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of training videos carved for validation")
    p.add_argument("--vlr", type=float, help="GV-VAD synthetic-sample loss scaling: loss × (frac_real + frac_synthetic·VLR)")
    p.add_argument("--learnable-vlr", action="store_true", help="learn VLR (starting at --vlr)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", choices=("off", "bf16", "fp16"), default="off",
                   help="mixed-precision forward pass (the loss, the update and evaluation stay fp32); off by default, "
                        "as the official code trains in fp32")
    p.add_argument("--out", required=True, metavar="DIR")
    add_protocol(p)
