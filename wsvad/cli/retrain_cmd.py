"""`wsvad retrain`: each method's best sweep configuration over N seeds; the best seed registered (sweeps/retrain.py)."""


def run(args) -> int:
    from sweeps.retrain import run_retrain
    from sweeps.retrain_options import from_args

    summaries = run_retrain(from_args(args))
    print(f"\n{'method':<9} {'seeds':>5} {'failed':>6}  {'test auc (mean ± std)':<22} registered model")
    for s in summaries:
        print(f"{s['method']:<9} {s['seeds_finished']:>5} {s['seeds_failed']:>6}  {s['test_auc']:<22} "
              f"{s['model_uri'] or '—'}")
    return 0 if all(s["seeds_finished"] for s in summaries) else 1
