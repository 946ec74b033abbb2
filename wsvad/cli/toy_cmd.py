"""`wsvad toy-features`: a feature set with planted anomalies, for demos and tests."""

from wsvad.toy import make_toy_feature_set


def run(args) -> int:
    manifest = make_toy_feature_set(args.out, videos=args.videos, dim=args.dim, snippets=args.snippets,
                                    crops=args.crops, seed=args.seed, strength=args.strength, dtype=args.dtype)
    counts = manifest["counts"]
    splits = ", ".join(f"{s}: {c['videos']}" for s, c in counts.items())
    print(f"wrote {manifest['num_videos']} videos ({splits}), "
          f"dim {manifest['dim']}, {manifest['crops']} crop(s) to {args.out}")
    print(f"feature_set_hash {manifest['feature_set_hash']}")
    return 0
