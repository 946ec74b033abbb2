"""The reproduction table from hand-made runs: references, rows, the four formats, the chart."""

import csv
import io

import numpy as np
import pytest

from wsvad.methods import list_methods
from sweeps.table_chart import write_chart
from sweeps.table_format import FORMATS, render
from sweeps.table_references import load_references, paper_dataset
from sweeps.table_rows import RunRecord, build_table


def test_references_cover_every_registered_method_with_sourced_numbers():
    datasets, refs = load_references()
    assert set(refs) == set(list_methods()) and len(refs) == 11  # the ten + temporal_mae (one-class)
    assert datasets["ucf-crime"]["metric"] == "auc" and datasets["xd-violence"]["metric"] == "pr_auc_trapz"
    for ref in refs.values():
        # every weakly-supervised method has a published number; the one-class one has none here
        assert ref.name and (bool(ref.numbers) != (ref.method == "temporal_mae")), ref.method
        assert all(r.source and 0 < r.value < 100 for r in ref.numbers.values())
    # FACTS.md "Headline numbers", spot-checked
    assert refs["rtfm"].numbers["ucf-crime"].value == 84.30 and refs["rtfm"].numbers["xd-violence"].value == 77.81
    assert refs["gsmoe"].numbers["ucf-crime"].value == 91.58 and "xd-violence" not in refs["gsmoe"].numbers
    assert all(r.unconfirmed for r in refs["tpwng"].numbers.values())
    assert not any(r.unconfirmed for m, x in refs.items() if m != "tpwng" for r in x.numbers.values())


@pytest.mark.parametrize("name, expected", [("ucf-crime", "ucf-crime"), ("UCF_Crime", "ucf-crime"), ("ucf", "ucf-crime"),
                                            ("xd-violence", "xd-violence"), ("XD", "xd-violence"), ("toy", None),
                                            ("shanghaitech", None), ("ucf101", None), ("", None)])
def test_dataset_names_map_to_the_benchmark_they_stand_for(name, expected):
    assert paper_dataset(name) == expected


def trial(run_id, method, auc, objective, seconds, status="FINISHED", best=False, selected_on="val", ap=None):
    metrics = {"selected/test/auc": auc, "objective": objective, "train_seconds": seconds}
    if ap is not None:
        metrics["selected/test/pr_auc_trapz"] = ap
    tags = {"wsvad.kind": "trial", "wsvad.method": method, "wsvad.selected_on": selected_on,
            "wsvad.feature_set_hash": "ab" * 32, "mlflow.parentRunId": "sweep0"}
    if best:
        tags["wsvad.best_of_method"] = "true"
    return RunRecord(run_id, status, 0, tags, metrics)


def retrain(run_id, method, mean, std, seeds, start, selected_on="val", status="FINISHED", key="auc"):
    metrics = {f"mean/test/{key}": mean, "seeds_finished": seeds}
    if std is not None:
        metrics[f"std/test/{key}"] = std
    return RunRecord(run_id, status, start, {"wsvad.kind": "retrain", "wsvad.method": method,
                                             "wsvad.selected_on": selected_on}, metrics)


def sweep_runs(dataset="ucf-crime"):
    return [
        RunRecord("sweep0", "FINISHED", 0, {"wsvad.kind": "sweep", "wsvad.dataset": dataset}, {}),
        trial("t1", "mil", 0.80, 0.95, 10.0, best=True, ap=0.6),
        trial("t2", "mil", 0.90, 0.90, 20.0, ap=0.7),         # higher test AUC, lower objective: not the best
        trial("t3", "mil", float("nan"), float("nan"), 5.0, status="FAILED"),
        retrain("r1", "mil", 0.78, 0.01, 3, start=1),
        retrain("r2", "mil", 0.99, 0.0, 3, start=2, selected_on="test"),  # newer, but test-selected
        RunRecord("s1", "FINISHED", 3, {"wsvad.kind": "retrain", "wsvad.method": "mil", "wsvad.seed": "1"},
                  {"mean/test/auc": 0.5}),                                 # a seed run, never a retrain row
        trial("t4", "rtfm", 0.86, 0.86, 4000.0, best=True, selected_on="test"),
        retrain("r3", "rtfm", 0.70, None, 1, start=1, status="FAILED"),  # unfinished retrains do not count
    ]


def test_rows_for_all_ten_methods_with_paper_best_trial_retrain_delta_and_compute():
    table = build_table(sweep_runs(), "sweep s")
    assert [r.method for r in table.rows] == list(load_references()[1])  # references.yaml order, all ten
    assert table.compared_to == "ucf-crime" and table.metric == "auc"
    mil = table.rows[0]
    assert mil.paper["ucf-crime"].value == 75.41
    assert mil.best_trial == pytest.approx(80.0) and mil.best_trial_run_id == "t1"  # the sweep's own choice
    assert mil.retrain_mean == pytest.approx(78.0) and mil.retrain_std == pytest.approx(1.0)
    assert mil.retrain_seeds == 3 and mil.retrain_run_id == "r1" and mil.retrain_selected_on == "val"
    assert mil.delta == pytest.approx(78.0 - 75.41) and mil.delta_from == "retrain"
    assert mil.trials == 3 and mil.trials_failed == 1 and mil.compute_seconds == pytest.approx(35.0)
    assert mil.feature_set == "ucf-crime/abababab"
    rtfm = next(r for r in table.rows if r.method == "rtfm")
    assert rtfm.retrain_mean is None and rtfm.best_trial_selected_on == "test"
    assert rtfm.delta == pytest.approx(86.0 - 84.30) and rtfm.delta_from == "trial"
    empty = next(r for r in table.rows if r.method == "vadclip")
    assert empty.best_trial is None and empty.retrain_mean is None and empty.trials == 0 and empty.delta is None


def test_xd_violence_compares_the_official_trapezoid_ap():
    table = build_table(sweep_runs("xd-violence"), "sweep s")
    assert table.metric == "pr_auc_trapz" and table.metric_label == "XD-Violence AP %"
    mil = table.rows[0]
    assert mil.best_trial == pytest.approx(60.0)
    assert mil.paper == {} and mil.delta is None      # MIL published no XD-Violence number
    assert mil.retrain_mean is None                   # the retrains logged no AP here


def test_markdown_lists_every_method_marks_and_footnotes():
    text = render(build_table(sweep_runs(), "sweep s"), "md")
    lines = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert len(lines) == 12                            # header + ten methods + temporal_mae
    assert "Paper (UCF-Crime AUC %)" in lines[0]
    mil = next(ln for ln in lines if ln.startswith("| Sultani MIL"))
    assert "| 75.41 |" in mil and "| 80.00 |" in mil and "78.00 ± 1.00 (n=3)" in mil and "+2.59" in mil
    assert "3 (1 failed)" in mil and "35.0 s" in mil
    rtfm = next(ln for ln in lines if ln.startswith("| RTFM"))
    assert "86.00†" in rtfm and "+1.70‡" in rtfm and "1.11 h" in rtfm
    assert "87.79 (unconfirmed)" in next(ln for ln in lines if ln.startswith("| TPWNG"))
    assert next(ln for ln in lines if ln.startswith("| VadCLIP")).count("—") == 6
    assert "† selected on the test set" in text and "‡ delta of the best sweep trial" in text


def test_csv_holds_raw_numbers_for_all_ten_methods():
    rows = list(csv.DictReader(io.StringIO(render(build_table(sweep_runs(), "sweep s"), "csv"))))
    assert len(rows) == 11 and {r["method"] for r in rows} == set(list_methods())
    mil = rows[0]
    assert float(mil["paper_ucf_crime"]) == 75.41 and mil["paper_xd_violence"] == ""
    assert float(mil["retrain_mean"]) == pytest.approx(78.0) and float(mil["delta"]) == pytest.approx(2.59)
    assert mil["best_trial_run_id"] == "t1" and mil["retrain_run_id"] == "r1" and mil["trials"] == "3"
    assert next(r for r in rows if r["method"] == "tpwng")["paper_unconfirmed"] == "1"


def test_html_and_latex_are_escaped():
    table = build_table(sweep_runs(), "sweep s & co")
    page = render(table, "html")
    assert page.count("<tr>") == 12 and "sweep s &amp; co" in page and "<caption>" in page
    tex = render(table, "latex")
    assert r"\toprule" in tex and tex.count(r" \\") == 12
    assert r"AUC \%" in tex and r"sweep s \& co" in tex and r"$\pm$" in tex and r"\dag" in tex
    assert "±" not in tex and "%)" not in tex.replace(r"\%)", "")


def test_a_dataset_without_published_numbers_shows_both_and_no_delta():
    table = build_table(sweep_runs("toy"), "sweep s")
    assert table.compared_to is None and table.metric == "auc"
    rtfm = next(r for r in table.rows if r.method == "rtfm")
    assert set(rtfm.paper) == {"ucf-crime", "xd-violence"} and rtfm.delta is None
    text = render(table, "md")
    assert "UCF-Crime 84.30 · XD-Violence 77.81" in text and "no published numbers" in text
    assert "| n/a |" in text
    forced = build_table(sweep_runs("toy"), "sweep s", paper="ucf-crime")
    assert forced.rows[0].delta == pytest.approx(78.0 - 75.41)
    assert "compared as asked by --paper" in render(forced, "md")


def test_every_format_renders_an_empty_sweep():
    table = build_table([RunRecord("p", tags={"wsvad.kind": "sweep", "wsvad.dataset": "ucf-crime"})], "sweep e")
    for fmt in FORMATS:
        assert all(r.name in render(table, fmt) for r in table.rows), fmt


def test_chart_is_a_real_png_plot(tmp_path):
    import matplotlib.image

    path = write_chart(build_table(sweep_runs(), "sweep s"), tmp_path / "out" / "table.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 800
    assert np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0] > 20  # bars, text, not a blank canvas
    assert not list((tmp_path / "out").glob(".*"))  # no temporary file left behind


def test_the_cli_refuses_an_unknown_sweep_in_one_line(capsys, tmp_path):
    from wsvad.cli.main import main

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["table", "--sweep", "ghost", "--storage", str(tmp_path), "--tracking-uri", uri]) == 2
    assert capsys.readouterr().err.strip().endswith(f"no sweep 'ghost' at {uri} (no run tagged wsvad.sweep=ghost)")
    assert main(["table", "--sweep", "s", "--out", str(tmp_path / "t.png"), "--tracking-uri", uri]) == 2
    assert "that is where the chart goes" in capsys.readouterr().err
    assert not list(tmp_path.glob("table-*"))
