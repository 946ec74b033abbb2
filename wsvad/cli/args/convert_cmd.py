from wsvad.cli.args.common import positive_int


def add_arguments(p):
    p.add_argument("--method", required=True, metavar="NAME")
    p.add_argument("--official", required=True, metavar="FILE", help="torch.save(model.state_dict()) from the official code")
    p.add_argument("--out", required=True, metavar="CKPT")
    p.add_argument("--feature-dim", type=positive_int, help="default: the method's official feature dimension")
    p.add_argument("--dictionary", metavar="NPY", help="s3r: the task-aware dictionary (S, D) float32")
    p.add_argument("--dataset", default="", help="recorded in the checkpoint")
