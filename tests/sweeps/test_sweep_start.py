"""The sweep's overlapped start-up: the feature set loads while MLflow is set up and Ray starts, yet a
feature set that fails to load still stops the sweep before anything is recorded."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow


def _tamper_one_value(features_dir):
    """Change one feature value after the manifest was written: the content hash no longer matches."""
    part = sorted(features_dir.glob("part-*.parquet"))[0]
    table = pq.read_table(part)
    rows = table.column("features").to_pylist()
    rows[0][0] += 1.0
    column = pa.array(rows, type=table.schema.field("features").type)
    pq.write_table(table.set_column(table.schema.get_field_index("features"), "features", column), part)


def test_a_feature_set_that_fails_to_load_records_no_sweep(tmp_path):
    import ray
    from mlflow.tracking import MlflowClient

    from sweeps import state as sweep_state
    from sweeps.driver import run_sweep
    from sweeps.options import SweepOptions
    from wsvad.errors import FeatureSetError
    from wsvad.toy import make_toy_feature_set

    features = tmp_path / "features"
    make_toy_feature_set(features, videos=8, dim=4, snippets=4, crops=1, seed=1)
    _tamper_one_value(features)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    opts = SweepOptions(features=str(features), methods=["mil"], trials=1, name="tampered", max_concurrent=1,
                        cpus_per_trial=1, gpus_per_trial="0", search="random", scheduler="none", max_steps=2,
                        evals_per_trial=1, storage=str(tmp_path / "runs"), tracking_uri=uri, num_cpus=1)
    try:
        with pytest.raises(FeatureSetError, match="does not match the manifest's feature_set_hash"):
            run_sweep(opts)
    finally:
        ray.shutdown()  # started while the features loaded
    assert sweep_state.load_state(opts.storage, opts.name) is None   # a re-run needs no --resume
    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert not client.search_runs(experiments)                        # no parent run left RUNNING
