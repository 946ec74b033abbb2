"""`wsvad extract-objects`: videos → an object-level feature set, one row per track (Ray Data job; resumable)."""


def run(args) -> int:
    from extraction.objects.extract import extract_objects
    from extraction.objects.tracker import TrackerSpec

    tracker = TrackerSpec(activation_threshold=args.track_threshold, lost_track_buffer=args.track_buffer,
                          matching_threshold=args.match_threshold)
    summary = extract_objects(args.out, args.dataset, args.detector, videos=args.videos, manifest=args.manifest,
                              split=args.split, train_list=args.train_list, test_list=args.test_list,
                              pooling=args.pooling, proposals=args.proposals, input_size=args.input_size,
                              frame_stride=args.frame_stride, min_score=args.min_score, tracker=tracker,
                              min_track_length=args.min_track_length, batch_size=args.batch_size,
                              workers=args.workers, cpus_per_worker=args.cpus_per_worker,
                              gpus_per_worker=args.gpus_per_worker, decoder=args.decoder, precision=args.precision,
                              dtype=args.dtype, annotations=args.annotations, annotation_format=args.annotation_format,
                              address=args.address, num_cpus=args.num_cpus, local=args.local,
                              progress_every=args.progress_every)
    m = summary.manifest
    print(f"tracked {summary.extracted} videos ({summary.tracks} tracks, {summary.snippets} tracked frames) in "
          f"{summary.seconds:.1f}s; {summary.skipped} already done; feature set: {m['num_videos']} tracks of "
          f"{m.get('num_source_videos', '?')} videos, dim {m['dim']} in {summary.out}")
    if summary.without_tracks:
        shown = ", ".join(summary.without_tracks[:10]) + (" ..." if len(summary.without_tracks) > 10 else "")
        print(f"{len(summary.without_tracks)} video(s) without a track of --min-track-length frames: {shown}")
    for title, rows in (("rejected", summary.rejected), ("decoded short (frames used)", summary.partial)):
        if rows:
            print(f"{len(rows)} {title} (rejects.parquet):")
            for row in rows[:10]:
                print(f"  {row['path']}: {row['reason']}")
            if len(rows) > 10:
                print(f"  ... and {len(rows) - 10} more")
    print(f"feature_set_hash {m['feature_set_hash']}")
    print("train on it with --frames-per-snippet 1 (one snippet per tracked frame; docs/object-level.md)")
    if args.strict and not summary.ok:
        print(f"--strict: {len(summary.rejected)} rejected, {len(summary.partial)} decoded short", flush=True)
        return 1
    return 0
