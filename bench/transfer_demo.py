"""The offline demonstration that transfer learning works: MNIST digits 0-4 -> digits 5-9.

    python bench/transfer_demo.py                           # pretrain, then every recipe
    python bench/transfer_demo.py --seeds 0 1 2             # mean of 3 seeds
    python bench/transfer_demo.py --pretrained saved_models/transfer_pretrain.keras

1. Pretrain LeNet-5 on digits 0-4 (the experiment ``transfer_pretrain``, through
   ``kerasdl.run``), or load a pretrained ``.keras``.
2. For 10 and 50 training images per digit 5-9 (``mnist_5to9_10``, ``mnist_5to9_50``), run
   the experiment ``transfer_finetune`` with each recipe, and the same LeNet-5 from scratch on the
   same images (``finetune.recipe=None``), for the same number of epochs, at the same learning
   rate, each through ``kerasdl.run`` (its runs go to ``<run directory>/runs``). Every model is
   scored once, after its last epoch, on a validation set and on all 500 held-out test images of
   5-9.
3. Select the best transfer variant by its validation accuracy (mean over seeds) and report that
   variant's test accuracy against training from scratch. The test set plays no part in the
   choice. The validation set (:func:`validation_arrays`) holds as many labelled images per digit
   as training does (10 or 50), drawn from the target digits' training pool: disjoint from the
   training images and from the test images, and never trained on.
4. Write ``results.csv``, ``results.md`` (accuracy per recipe and data size, wall time) and
   ``accuracy.png`` into the demo's run directory.

Only kerasdl's public API trains: ``kerasdl.load_experiment`` and ``kerasdl.run`` (the experiment
files come with kerasdl, found by name from any folder); the validation images are prepared by
the data section's own ``feature_transform``, as ``kerasdl predict`` prepares images.

Reference:
    Yosinski, Clune, Bengio, Lipson. "How transferable are features in deep neural networks?"
    NIPS 2014.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from kerasdl.logs import Log, quiet

#: the experiments (files that come with kerasdl, loaded by name)
PRETRAIN = "transfer_pretrain"
FINETUNE = "transfer_finetune"
#: what every fine-tuning run of the demo changes: nothing published, no files it does not read
RUN_OVERRIDES: dict[str, Any] = {
    "output.publish": "never", "trainer.verbose": 0, "callbacks.tensorboard.enabled": False,
    "callbacks.checkpoint.enabled": False, "callbacks.backup": False}

#: label -> overrides of experiments/transfer_finetune.py; "scratch" is the baseline
VARIANTS: dict[str, dict[str, Any]] = {
    "scratch": {"finetune.recipe": None},
    "linear_probe": {"finetune.recipe": "linear_probe"},
    "linear_probe (cached)": {"finetune.recipe": "linear_probe", "finetune.cache_features": True},
    "cut_and_probe (s4)": {"finetune.cut_at": "s4", "finetune.recipe": "cut_and_probe"},
    "finetune_all": {"finetune.recipe": "finetune_all"},
    "retrain_all": {"finetune.recipe": "retrain_all"},
    "two_phase": {"finetune.recipe": "two_phase"},
    # ULMFiT-style discriminative rates: the head at the full rate, each layer below at half
    "retrain_all + layer LR x0.5": {"finetune.recipe": "retrain_all", "finetune.layer_lr_decay": 0.5},
}
SIZES = (10, 50)


@dataclass
class Row:
    variant: str
    per_class: int
    seed: int
    validation_accuracy: float
    test_accuracy: float
    test_loss: float
    train_images: int
    epochs: int
    wall_s: float


@dataclass
class DemoResult:
    run_dir: Path
    pretrained: Path
    pretrain_accuracy: Optional[float]
    rows: list[Row] = field(default_factory=list)
    wall_s: float = 0.0

    def mean_accuracy(self, variant: str, per_class: int, split: str = "test") -> float:
        """Mean over seeds of ``split`` ("test" or "validation") accuracy."""
        values = [getattr(r, f"{split}_accuracy") for r in self.rows
                  if r.variant == variant and r.per_class == per_class]
        return sum(values) / len(values)

    def best_transfer(self, per_class: int) -> tuple[str, float]:
        """(variant, its mean test accuracy) of the best transfer variant at ``per_class``.

        The best has the highest mean *validation* accuracy; a tie goes to the variant listed
        first. The test accuracy is reported, never used to choose.
        """
        variants = [v for v in _variants(self) if v != "scratch"]
        best = max(variants, key=lambda v: self.mean_accuracy(v, per_class, "validation"))
        return best, self.mean_accuracy(best, per_class)

    def margin(self, per_class: int) -> float:
        """Test accuracy of the selected transfer variant minus that of training from scratch."""
        return self.best_transfer(per_class)[1] - self.mean_accuracy("scratch", per_class)


def run_demo(workdir: str | Path = "runs", pretrained: Optional[str | Path] = None,
             sizes: Sequence[int] = SIZES, seeds: Sequence[int] = (0,),
             variants: Sequence[str] = tuple(VARIANTS), overrides: Optional[dict] = None,
             log: Optional[Log] = None) -> DemoResult:
    """Pretrain (unless ``pretrained``), fine-tune every variant at every size, write the results.

    Args:
        workdir: receives the run directory ``transfer_demo-<stamp>/``.
        pretrained: a pretrained ``.keras`` (or run directory); None: pretrain now.
        sizes: training images per digit (10 and 50 exist as datasets).
        seeds: trainer seeds; each (variant, size) is trained once per seed.
        variants: labels of :data:`VARIANTS`.
        overrides: more overrides of the fine-tuning experiment (e.g. ``{"trainer.epochs": 5}``).
        log: receives progress lines (default: none; the command line prints them).
    """
    import kerasdl

    log = log or quiet
    started = time.time()
    run_dir = Path(workdir) / f"transfer_demo-{dt.datetime.now():%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=False)
    pretrain_accuracy = None
    if pretrained is None:
        log(f"[demo] pretraining LeNet-5 on digits 0-4 ({PRETRAIN})")
        experiment = kerasdl.load_experiment(PRETRAIN, overrides={"output.publish": "never"})
        result = kerasdl.run(experiment, workdir=run_dir)
        pretrained = result.model_path
        pretrain_accuracy = result.test_metrics.get("accuracy")
        log(f"[demo] pretrained: test accuracy {pretrain_accuracy:.4f} on digits 0-4 "
            f"({result.epochs_run} epochs, {result.wall_time_s:.0f} s): {pretrained}")
    demo = DemoResult(run_dir=run_dir, pretrained=Path(pretrained),
                      pretrain_accuracy=pretrain_accuracy)
    for per_class in sizes:
        for seed in seeds:
            for variant in variants:
                experiment = kerasdl.load_experiment(FINETUNE, overrides={
                    **RUN_OVERRIDES, **VARIANTS[variant], "finetune.backbone": str(pretrained),
                    "data.name": f"mnist_5to9_{per_class}", "trainer.seed": seed,
                    **(overrides or {})})
                row = train_and_test(experiment, variant, per_class, run_dir / "runs")
                demo.rows.append(row)
                log(f"[demo] {per_class:>3} per digit, seed {seed}, {variant:<26} "
                    f"validation {row.validation_accuracy:.4f}  test {row.test_accuracy:.4f}  "
                    f"({row.wall_s:.1f} s)")
    demo.wall_s = time.time() - started
    write_results(demo, sizes)
    for per_class in sizes:
        best, accuracy = demo.best_transfer(per_class)
        log(f"[demo] {per_class} per digit: {best} selected by validation accuracy; test "
            f"accuracy {accuracy:.4f} vs scratch {demo.mean_accuracy('scratch', per_class):.4f}: "
            f"margin {demo.margin(per_class):+.4f}")
    log(f"[demo] done in {demo.wall_s:.0f} s: {run_dir / 'results.md'}, {run_dir / 'accuracy.png'}")
    return demo


def validation_arrays(per_class: int, split_seed: int):
    """``per_class`` images of each digit 5-9 (labels 0-4) for choosing among the variants.

    Drawn (seeded by ``split_seed``) from the embedded training images of 5-9 that the
    ``mnist_5to9_<per_class>`` training set does not use, so they are disjoint from its training
    images and from the test images. Returns ``(x, y)``: uint8 ``(N, 28, 28, 1)``, int64 ``(N,)``.
    """
    import numpy as np

    from kerasdl.data.mnist_subsets import SECOND_DIGITS, digit_subset

    pool = digit_subset(SECOND_DIGITS, split_seed)
    used = {x.tobytes() for x in digit_subset(SECOND_DIGITS, split_seed, per_class).x_train}
    free = np.array([x.tobytes() not in used for x in pool.x_train])
    rng = np.random.default_rng([split_seed, per_class, 1])
    index = np.concatenate([rng.choice(np.flatnonzero(free & (pool.y_train == label)),
                                       size=per_class, replace=False)
                            for label in range(len(SECOND_DIGITS))])
    return pool.x_train[index], pool.y_train[index]


def train_and_test(experiment, variant: str, per_class: int, workdir: Path) -> Row:
    """Run ``experiment`` (a transfer recipe, or from scratch) with ``kerasdl.run`` and score it.

    The test scores are the run's own (its test split, after the last epoch); the validation
    scores are on :func:`validation_arrays`, prepared as the data section prepares images.
    """
    import kerasdl
    from kerasdl.data.pipeline import feature_transform

    started = time.time()
    result = kerasdl.run(experiment, workdir=workdir)
    x, y = validation_arrays(per_class, experiment.data.split_seed)
    validation = result.model.evaluate(feature_transform(experiment.data)(x), y, verbose=0,
                                       batch_size=experiment.data.batch_size, return_dict=True)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    return Row(variant=variant, per_class=per_class, seed=experiment.trainer.seed,
               validation_accuracy=float(validation["accuracy"]),
               test_accuracy=result.test_metrics["accuracy"], test_loss=result.test_metrics["loss"],
               train_images=manifest["data"]["counts"]["train"], epochs=result.epochs_run,
               wall_s=round(time.time() - started, 2))


def write_results(demo: DemoResult, sizes: Sequence[int]) -> None:
    """results.csv (one row per training), results.md (the table), accuracy.png, demo.json."""
    with open(demo.run_dir / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(asdict(demo.rows[0])))
        writer.writeheader()
        writer.writerows(asdict(row) for row in demo.rows)
    (demo.run_dir / "results.md").write_text(markdown_table(demo, sizes))
    plot_results(demo, sizes, demo.run_dir / "accuracy.png")
    (demo.run_dir / "demo.json").write_text(json.dumps({
        "pretrained": str(demo.pretrained), "pretrain_test_accuracy_0to4": demo.pretrain_accuracy,
        "wall_time_s": round(demo.wall_s, 1),
        "margin_over_scratch": {str(n): round(demo.margin(n), 4) for n in sizes},
        "best_transfer": {str(n): demo.best_transfer(n)[0] for n in sizes},
        "best_transfer_selected_by": "mean validation accuracy"}, indent=2) + "\n")


def _variants(demo: DemoResult) -> list[str]:
    return list(dict.fromkeys(r.variant for r in demo.rows))


def markdown_table(demo: DemoResult, sizes: Sequence[int]) -> str:
    """Validation and test accuracy on digits 5-9 per variant (rows) and images per digit."""
    seeds = sorted({r.seed for r in demo.rows})
    header = "| variant | " + " | ".join(f"{n} per digit: validation | test" for n in sizes) + \
        " | wall s |"
    lines = [f"Accuracy on digits 5-9, mean over seeds {seeds}: validation on {sizes[0]}"
             + "".join(f"/{n}" for n in sizes[1:]) + " held-out images per digit (used to select "
             "the best transfer variant), test on the 500 held-out test images (reported only); "
             f"pretrained backbone: {demo.pretrained}"
             + (f" (test accuracy {demo.pretrain_accuracy:.4f} on digits 0-4)"
                if demo.pretrain_accuracy is not None else "") + ".", "",
             header, "|" + "---|" * (2 * len(sizes) + 2)]
    for variant in _variants(demo):
        wall = sum(r.wall_s for r in demo.rows if r.variant == variant)
        lines.append(f"| {variant} | " + " | ".join(
            f"{demo.mean_accuracy(variant, n, 'validation'):.4f} | "
            f"{demo.mean_accuracy(variant, n):.4f}" for n in sizes) + f" | {wall:.1f} |")
    lines.append("")
    for n in sizes:
        best, accuracy = demo.best_transfer(n)
        lines.append(f"{n} per digit: `{best}` has the best validation accuracy "
                     f"({demo.mean_accuracy(best, n, 'validation'):.4f}); its test accuracy "
                     f"{accuracy:.4f} vs from scratch {demo.mean_accuracy('scratch', n):.4f}: "
                     f"margin {demo.margin(n):+.4f}.")
    lines.append(f"\nWall time of the whole demonstration: {demo.wall_s:.0f} s.")
    return "\n".join(lines) + "\n"


def plot_results(demo: DemoResult, sizes: Sequence[int], path: Path) -> Path:
    """Plot test accuracy against training images per digit, one line per variant.

    Each line is the mean with the spread over seeds; training from scratch is the dashed black
    line.
    """
    import numpy as np

    from kerasdl.plots import pyplot, save_figure

    fig, ax = pyplot().subplots(figsize=(8.5, 4.5))
    for variant in _variants(demo):
        runs = [[r.test_accuracy for r in demo.rows if r.variant == variant and r.per_class == n]
                for n in sizes]
        mean = [float(np.mean(values)) for values in runs]
        spread = [float(np.std(values)) for values in runs]
        style = dict(color="black", linestyle="--", linewidth=2) if variant == "scratch" else {}
        ax.errorbar(sizes, mean, yerr=spread, marker="o", capsize=3, label=variant, **style)
    ax.set_xscale("log")
    ax.set_xticks(list(sizes), [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training images per digit (log scale)")
    ax.set_ylabel("test accuracy, digits 5-9 (500 images)")
    seeds = sorted({r.seed for r in demo.rows})
    ax.set_title(f"LeNet-5 pretrained on digits 0-4, transferred to 5-9 (seeds {seeds})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return save_figure(fig, path, dpi=110)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: run the transfer demo (``python bench/transfer_demo.py``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="runs", help="parent of the demo's run directory")
    parser.add_argument("--pretrained", default=None, help="a pretrained .keras (skip pretraining)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), choices=SIZES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    run_demo(args.workdir, args.pretrained, sizes=args.sizes, seeds=args.seeds, log=print)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
