"""`wsvad train`: one method on one feature set → metrics.json, frame_scores.parquet, checkpoint.pt."""

import json
import math
from pathlib import Path

from wsvad.cli.protocol_args import protocol_from_args
from wsvad.features import load_feature_set
from wsvad.train import TrainOptions, Trainer, save_checkpoint
from wsvad.train.outputs import write_frame_scores


def run(args) -> int:
    fs = load_feature_set(args.features)
    options = TrainOptions(seed=args.seed, max_steps=args.max_steps, max_epochs=args.max_epochs,
                           eval_every=args.eval_every, select_on=args.select_on, select_metric=args.select_metric, amp=args.amp,
                           val_fraction=args.val_fraction, protocol=protocol_from_args(args), device=args.device,
                           vlr=args.vlr, learnable_vlr=args.learnable_vlr)
    trainer = Trainer(fs, args.method, dict(args.set), options)
    one_class = getattr(trainer.method_cls, "one_class", False)
    batch = (f"batch {trainer.batch_size} normal windows (one-class)" if one_class
             else f"batch {trainer.batch_size}+{trainer.batch_size}")
    print(f"training {args.method} on {fs.dataset or args.features} ({fs.num_videos} videos, dim {fs.dim}) for "
          f"{trainer.total_steps} steps, {batch}, selecting on {options.select_on}/{trainer.select_metric}")
    shown_keys = ("loss/total", "test/auc", f"{options.select_on}/{trainer.select_metric}")

    def report(step, record, _trainer):
        shown = {k: v for k, v in record.items() if k in shown_keys}
        print(f"  step {step:>6}  " + "  ".join(f"{k} {v:.4f}" for k, v in shown.items()), flush=True)

    result = trainer.fit(report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(_json_safe(result.metrics), indent=2, sort_keys=True) + "\n")
    if result.evaluation is not None:
        write_frame_scores(out / "frame_scores.parquet", result.evaluation, fs, trainer.test_idx)
        from wsvad.plots import write_run_plots

        write_run_plots(result.evaluation, fs.video_ids[trainer.test_idx], out / "plots",
                        threshold=options.protocol.threshold)
    save_checkpoint(out / "checkpoint.pt", model=result.model, feature_set_hash=fs.hash, dataset=fs.dataset,
                    metrics=result.metrics, feature_set_provenance=fs.manifest.get("provenance"),
                    extra={"selected_on": options.select_on, "frames_per_snippet": options.protocol.frames_per_snippet,
                           "amp": options.amp})
    m = result.metrics
    print(f"{args.method}: auc {m['auc']:.4f}  auc_abnormal {m['auc_abnormal']:.4f}  ap {m['ap']:.4f}  "
          f"pr_auc_trapz {m['pr_auc_trapz']:.4f}  far {m['far']:.4f}  video_auc {m['video_auc']:.4f}  "
          f"(selected on {m['selected_on']} at step {m['selected_step']})")
    print(f"wrote {out}/metrics.json, frame_scores.parquet, checkpoint.pt"
          + (", plots/ (ROC, PR, per-class AUC, score timelines)" if result.evaluation is not None else ""))
    return 0


def _json_safe(metrics: dict) -> dict:
    """NaN (an undefined metric) becomes null: strict JSON readers reject NaN."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}
