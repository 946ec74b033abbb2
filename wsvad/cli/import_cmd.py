"""`wsvad import-features`: existing .npy dumps → a feature set."""

from wsvad.errors import ConfigError


def run(args) -> int:
    from extraction.importers import import_features

    kwargs = dict(annotations=args.annotations, annotation_format=args.annotation_format, dtype=args.dtype)
    if args.fmt == "rtfm":
        kwargs.update(train_list=args.train_list, test_list=args.test_list, layout=args.layout)
    elif args.fmt == "vadclip":
        lists = [(p, s) for p, s in ((args.train_csv, "train"), (args.test_csv, "test")) if p]
        if not lists:
            raise ConfigError("--format vadclip needs --train-csv and/or --test-csv")
        kwargs["lists"] = lists
    else:
        kwargs.update(npy_dir=args.npy_dir, labels_csv=args.labels, layout=args.layout)
    manifest = import_features(args.fmt, args.out, args.dataset, **kwargs)
    counts = ", ".join(f"{s}: {c['videos']} ({c['anomalous']} anomalous)" for s, c in manifest["counts"].items())
    print(f"imported {manifest['num_videos']} videos [{counts}], dim {manifest['dim']}, "
          f"{manifest['crops']} crop(s) into {args.out}")
    print(f"feature_set_hash {manifest['feature_set_hash']}")
    return 0
