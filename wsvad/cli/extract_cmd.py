"""`wsvad extract`: videos → a feature set (a Ray Data job; resumable; bad videos → rejects.parquet)."""


def run(args) -> int:
    from extraction.extract import extract

    summary = extract(args.out, args.dataset, args.backbone, videos=args.videos, manifest=args.manifest,
                      split=args.split, train_list=args.train_list, test_list=args.test_list, crops=args.crops,
                      frames_per_snippet=args.frames_per_snippet, batch_size=args.batch_size, workers=args.workers,
                      cpus_per_worker=args.cpus_per_worker, gpus_per_worker=args.gpus_per_worker,
                      decode_cpus=args.decode_cpus, decoder=args.decoder, precision=args.precision,
                      dtype=args.dtype, annotations=args.annotations,
                      annotation_format=args.annotation_format, address=args.address, num_cpus=args.num_cpus,
                      progress_every=args.progress_every)
    m = summary.manifest
    rate = summary.snippets / summary.seconds if summary.seconds > 0 else 0.0
    steady = summary.steady_snippets_per_s
    after = (f", {steady:.1f}/s after the first video at {summary.first_video[0]:.1f}s" if steady is not None else "")
    print(f"extracted {summary.extracted} videos ({summary.snippets} snippets, {rate:.1f} snippets/s{after}) in "
          f"{summary.seconds:.1f}s; {summary.skipped} already done; feature set: {m['num_videos']} videos, "
          f"dim {m['dim']}, {m['crops']} crop(s) in {summary.out}")
    for title, rows in (("rejected", summary.rejected), ("decoded short (frames used)", summary.partial)):
        if rows:
            print(f"{len(rows)} {title} (rejects.parquet):")
            for row in rows[:10]:
                print(f"  {row['path']}: {row['reason']}")
            if len(rows) > 10:
                print(f"  ... and {len(rows) - 10} more")
    print(f"feature_set_hash {m['feature_set_hash']}")
    if args.strict and not summary.ok:
        print(f"--strict: {len(summary.rejected)} rejected, {len(summary.partial)} decoded short", flush=True)
        return 1
    return 0
