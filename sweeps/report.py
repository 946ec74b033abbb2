"""What a finished sweep prints."""

from __future__ import annotations


def print_summary(record: dict) -> None:
    print(f"\nsweep {record['name']} (feature set {record['feature_set_hash'][:12]}), "
          f"MLflow parent run {record['parent_run_id']} at {record['tracking_uri']}")
    print(f"{'method':<12} {'trials':>6} {'failed':>6} {'objective':>9} {'test auc':>9}  best trial")
    for method, m in record["completed"].items():
        sel = m.get("selected", {})
        auc = sel.get("test/auc", float("nan"))
        obj = m.get("objective", float("nan"))
        print(f"{method:<12} {m['trials']:>6} {m['failed']:>6} {obj:>9.4f} {auc:>9.4f}  {m.get('best_trial_id', '-')}")
    uri = record["tracking_uri"]
    if uri.startswith("sqlite:"):
        print(f"\nopen the MLflow UI: mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000")
    else:
        print(f"\nopen the MLflow UI: {uri}")
