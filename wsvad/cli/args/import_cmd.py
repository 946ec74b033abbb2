from wsvad.cli.args.common import add_annotations


def add_arguments(p):
    p.add_argument("--format", required=True, choices=("rtfm", "vadclip", "npy-dir"), dest="fmt")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--dataset", required=True, metavar="NAME", help="e.g. ucf-crime, xd-violence, shanghaitech")
    p.add_argument("--train-list", metavar="FILE", help="rtfm: text file of training .npy paths")
    p.add_argument("--test-list", metavar="FILE", help="rtfm: text file of test .npy paths")
    p.add_argument("--layout", choices=("crops-last", "crops-first"), default="crops-last",
                   help="rtfm: arrays are (T, crops, D) (crops-last) or (crops, T, D)")
    p.add_argument("--train-csv", metavar="FILE", help="vadclip: CSV path,label of training per-crop files")
    p.add_argument("--test-csv", metavar="FILE", help="vadclip: CSV path,label of test per-crop files")
    p.add_argument("--npy-dir", metavar="DIR", help="npy-dir: folder of <video_id>.npy")
    p.add_argument("--labels", metavar="CSV", help="npy-dir: CSV video_id,label,class_name,split[,source]")
    p.add_argument("--dtype", choices=("float32", "float16"), default="float32")
    add_annotations(p)
