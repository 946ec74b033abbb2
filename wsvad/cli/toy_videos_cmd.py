"""`wsvad toy-videos`: procedural surveillance-like mp4 clips with planted events, for demos and tests."""

from wsvad.errors import ConfigError


def run(args) -> int:
    from extraction.toy_videos import make_toy_videos

    if args.videos < 4:
        raise ConfigError(f"--videos must be at least 4 (both labels in both splits), got {args.videos}")
    if not 0 < args.test_fraction < 1:
        raise ConfigError(f"--test-fraction must be between 0 and 1, got {args.test_fraction}")
    made = make_toy_videos(args.out, videos=args.videos, seed=args.seed, test_fraction=args.test_fraction)
    print(f"wrote {made['num_videos']} clips ({made['num_test']} test) to {made['videos']}")
    print(f"manifest {made['manifest']}  annotations {made['annotations']} (--annotation-format csv)")
    print(f"next: wsvad extract --manifest {made['manifest']} --annotations {made['annotations']} "
          f"--annotation-format csv --dataset toy --backbone effnet-lite0 --out FEATURES")
    return 0
