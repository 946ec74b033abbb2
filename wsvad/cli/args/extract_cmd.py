from wsvad.cli.args.common import add_annotations, positive_int


def add_arguments(p):
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--videos", metavar="DIR",
                        help="a folder of videos (recursive); labels from UCF-Crime-style names")
    source.add_argument("--manifest", metavar="CSV",
                        help="CSV path,label,class_name,split[,source] (paths relative to the CSV)")
    p.add_argument("--dataset", required=True, metavar="NAME", help="e.g. ucf-crime, xd-violence, toy")
    p.add_argument("--backbone", required=True, metavar="SPEC",
                   help="effnet-lite0 | clip:<open_clip model>[:<tag|checkpoint path|random>] | "
                        "snippet-mean:<image spec>")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the feature set; re-running the same command resumes it")
    g = p.add_argument_group("splits of a --videos folder (docs/extraction.md)")
    g.add_argument("--split", choices=("train", "test", "val"), help="split of every video (not named by the lists)")
    g.add_argument("--train-list", metavar="FILE", help="official train list, e.g. UCF-Crime Anomaly_Train.txt")
    g.add_argument("--test-list", metavar="FILE", help="official test list, e.g. UCF-Crime Anomaly_Test.txt")
    s = p.add_argument_group("sampling")
    s.add_argument("--crops", type=int, choices=(1, 5, 10), default=1,
                   help="1: centre crop; 5/10: centre + corners (+ flips), short side resized to 256/224 of the input")
    s.add_argument("--frames-per-snippet", type=positive_int, default=16)
    s.add_argument("--decoder", choices=("decord", "pyav"), default="decord")
    e = p.add_argument_group("embedding (Ray actor pool)")
    e.add_argument("--batch-size", type=positive_int, default=32, help="snippets per backbone forward")
    e.add_argument("--workers", type=positive_int, default=1, help="backbone actors")
    e.add_argument("--cpus-per-worker", type=float, default=1.0,
                   help="Ray CPUs per actor; torch runs ceil(this) threads")
    e.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPU fraction per actor, e.g. 0.25")
    e.add_argument("--decode-cpus", type=float, default=0.25,
                   help="Ray CPUs per decode task; a fraction lets decoding overlap the actors on the same cores "
                        "(on a CPU-only box of N cores: --workers N --cpus-per-worker 0.75, benchmarks/RESULTS.md)")
    e.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                   help="autocast dtype of the backbone")
    e.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="stored feature dtype")
    r = p.add_argument_group("Ray")
    r.add_argument("--address", metavar="ADDR",
                   help="a running cluster (auto, host:port); default: a new embedded local Ray")
    r.add_argument("--num-cpus", type=positive_int, help="CPUs of the embedded local Ray (default: all)")
    p.add_argument("--progress-every", type=float, default=10.0, metavar="SEC", help="seconds between progress lines")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when any video is rejected or decodes short (rejects.parquet has rows)")
    add_annotations(p)
