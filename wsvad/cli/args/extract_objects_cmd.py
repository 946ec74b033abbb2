from wsvad.cli.args.common import add_annotations, positive_int


def add_arguments(p):
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--videos", metavar="DIR",
                        help="a folder of videos (recursive); labels from UCF-Crime-style names")
    source.add_argument("--manifest", metavar="CSV",
                        help="CSV path,label,class_name,split[,source] (paths relative to the CSV)")
    p.add_argument("--dataset", required=True, metavar="NAME", help="e.g. shanghaitech, avenue, toy")
    p.add_argument("--detector", required=True, metavar="SPEC",
                   help="[objects:]<detector>:<weights file | random>, detector one of fasterrcnn_mobilenet_v3_large_fpn, "
                        "fasterrcnn_mobilenet_v3_large_320_fpn, fasterrcnn_resnet50_fpn, fasterrcnn_resnet50_fpn_v2 "
                        "(random: untrained, tests only)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the feature set (one row per track); re-running the same command resumes it")
    g = p.add_argument_group("splits of a --videos folder (docs/extraction.md)")
    g.add_argument("--split", choices=("train", "test", "val"), help="split of every video (not named by the lists)")
    g.add_argument("--train-list", metavar="FILE", help="official train list")
    g.add_argument("--test-list", metavar="FILE", help="official test list")
    o = p.add_argument_group("objects (docs/object-level.md)")
    o.add_argument("--pooling", choices=("gap", "attention", "hybrid"), default="gap",
                   help="of each RoIAlign window: gap (D=256), attention (D=256; untrained unless the checkpoint "
                        "holds pooling.* weights), hybrid (both, D=512)")
    o.add_argument("--proposals", choices=("detector", "blobs"), default="detector",
                   help="boxes to track: the detector's, or moving blobs under a fixed camera (tests, no weights)")
    o.add_argument("--input-size", type=positive_int, metavar="PX",
                   help="short side of the frames the detector sees (default: the detector's own, 800 or 320)")
    o.add_argument("--frame-stride", type=positive_int, default=1, help="track every s-th frame")
    o.add_argument("--min-score", type=float, default=0.1, help="detections below it are not given to the tracker")
    o.add_argument("--track-threshold", type=float, default=0.5,
                   help="ByteTrack: detections at least this confident are matched first (new tracks need +0.1)")
    o.add_argument("--track-buffer", type=positive_int, default=30, help="ByteTrack: frames (at 30 fps) a lost track is kept")
    o.add_argument("--match-threshold", type=float, default=0.8, help="ByteTrack: IoU distance of a match (IoU >= 1 - this)")
    o.add_argument("--min-track-length", type=positive_int, default=16,
                   help="tracks seen on fewer frames are dropped (16: one temporal window of the seed's model)")
    e = p.add_argument_group("running (Ray actor pool; one video per call)")
    e.add_argument("--batch-size", type=positive_int, default=8, help="frames per detector forward")
    e.add_argument("--workers", type=positive_int, default=1, help="actors")
    e.add_argument("--cpus-per-worker", type=float, default=1.0,
                   help="Ray CPUs per actor; torch and the decoder run ceil(this) threads")
    e.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPU fraction per actor, e.g. 0.25")
    e.add_argument("--decoder", choices=("decord", "pyav"), default="decord")
    e.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32", help="autocast dtype of the detector")
    e.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="stored feature dtype")
    e.add_argument("--local", action="store_true", help="run in this process, without Ray (a few videos, debugging)")
    r = p.add_argument_group("Ray")
    r.add_argument("--address", metavar="ADDR", help="a running cluster (auto, host:port); default: a new embedded local Ray")
    r.add_argument("--num-cpus", type=positive_int, help="CPUs of the embedded local Ray (default: all)")
    p.add_argument("--progress-every", type=float, default=10.0, metavar="SEC", help="seconds between progress lines")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when any video is rejected or decodes short (rejects.parquet has rows)")
    add_annotations(p)
