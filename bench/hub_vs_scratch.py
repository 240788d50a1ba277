"""A fine-tuned tiny keras-hub preset against the same network from scratch (issue 26).

    python bench/hub_vs_scratch.py [--seeds 0 1 2] [--epochs 60] [--pretrain-epochs 10]
                                   [--stages 3] [--quick]

1. Build a tiny keras-hub ResNet (3 stages of one basic block, 64/64/128 filters; ``--stages 1``:
   the tests' one block of 64) with an ImageNet-normalising ImageConverter and save it with
   ``save_to_preset`` into a temporary folder (random weights); pretrain it through
   ``kerasdl.run`` on the embedded MNIST digits 0-4 as RGB (``experiments/transfer_finetune.py``
   with ``data.name=mnist_0to4``, ``retrain_all`` from random weights, trainer seed 0), then save
   the trained backbone as a second preset: the pretrained one (the same for every seed).
2. Per trainer seed, through ``kerasdl.run`` on ``experiments/transfer_finetune.py`` (10 images
   per digit 5-9, all 500 test images, its epochs and learning rate) with
   ``finetune.backbone=hub:<pretrained preset>``: ``two_phase`` and ``retrain_all`` from the
   preset's weights, and ``scratch``: the same preset architecture from random weights
   (``finetune.weights=None``, ``retrain_all``: everything trained at the full rate), same data,
   epochs and learning rate.
3. Print, per seed and recipe, the validation accuracy (the demo's held-out 10 images per digit,
   :func:`bench.transfer_demo.validation_arrays`) and the test accuracy and wall time of the run,
   then per recipe the mean, the standard deviation and the range over seeds, and each recipe's
   test accuracy minus scratch's, paired by seed.

``--quick`` (the smoke test): pretraining 1 epoch, fine-tuning 2 epochs, seed 0.

Reference: Yosinski, Clune, Bengio, Lipson. "How transferable are features in deep neural
networks?" NIPS 2014; keras-hub presets: https://keras.io/keras_hub/api/models/backbone/.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from transfer_demo import FINETUNE, RUN_OVERRIDES, train_and_test  # noqa: E402

#: --stages -> the preset's ResNetBackbone: 3 (the default) grows tests/test_backbones_hub.py's
#: one-block ResNet (1) to three stages
ARCHITECTURES: dict[int, dict[str, Any]] = {
    stages: dict(input_conv_filters=[64], input_conv_kernel_sizes=[3],
                 stackwise_num_filters=[64, 64, 128][:stages], stackwise_num_blocks=[1] * stages,
                 stackwise_num_strides=[1, 2, 2][:stages], block_type="basic_block",
                 image_shape=(None, None, 3))
    for stages in (1, 3)}
#: recipe label -> overrides of the fine-tuning run (the preset is set per run)
RECIPES: dict[str, dict[str, Any]] = {
    "two_phase": {"finetune.recipe": "two_phase", "finetune.weights": "preset"},
    "retrain_all": {"finetune.recipe": "retrain_all", "finetune.weights": "preset"},
    "scratch": {"finetune.recipe": "retrain_all", "finetune.weights": None},
}
#: every run: RGB digits (the preset takes 3 channels), 10 images per digit for fine-tuning
COMMON: dict[str, Any] = {**RUN_OVERRIDES, "data.channels": 3}
PER_CLASS = 10


def save_preset(directory: Path, stages: int, backbone=None) -> Path:
    """A ResNet image classifier preset of ``ARCHITECTURES[stages]``, its backbone's weights taken
    from ``backbone`` (default: random), with an ImageNet-normalising 32x32 ImageConverter."""
    import keras_hub
    import numpy as np

    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    fresh = keras_hub.models.ResNetBackbone(**ARCHITECTURES[stages])
    if backbone is not None:
        fresh.set_weights(backbone.get_weights())
    converter = keras_hub.layers.ResNetImageConverter(
        image_size=(32, 32), scale=list(1 / (255 * std)), offset=list(-mean / std))
    preprocessor = keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter)
    task = keras_hub.models.ResNetImageClassifier(backbone=fresh, num_classes=5,
                                                  preprocessor=preprocessor)
    task.save_to_preset(str(directory))
    return directory


def pretrain(folder: Path, stages: int, epochs: int) -> tuple[Path, float, float]:
    """Pretrain the preset on digits 0-4 through ``kerasdl.run``; return (preset, test accuracy
    on digits 0-4, seconds)."""
    import kerasdl

    random_preset = save_preset(folder / "random_preset", stages)
    experiment = kerasdl.load_experiment(FINETUNE, overrides={
        **COMMON, "data.name": "mnist_0to4", "finetune.backbone": f"hub:{random_preset}",
        "finetune.weights": None, "finetune.recipe": "retrain_all", "trainer.epochs": epochs,
        "trainer.seed": 0})
    started = time.time()
    result = kerasdl.run(experiment, workdir=folder / "pretrain")
    preset = save_preset(folder / "pretrained_preset", stages,
                         result.model.get_layer("backbone"))
    return preset, result.test_metrics["accuracy"], time.time() - started


def spread(values: list[float]) -> str:
    """``mean ± standard deviation (min-max)`` over seeds."""
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {deviation:.4f} ({min(values):.3f}-{max(values):.3f})"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None,
                        help="fine-tuning epochs, every recipe (default: the experiment's 60)")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--stages", type=int, default=3, choices=sorted(ARCHITECTURES),
                        help="the preset ResNet's stages of one basic block (1: the tests' one)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke: pretrain 1 epoch, fine-tune 2, seed 0")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.pretrain_epochs = [0], 2, 1
    import kerasdl

    folder = Path(tempfile.mkdtemp(prefix="kerasdl-hub-vs-scratch-"))
    try:
        preset, accuracy, seconds = pretrain(folder, args.stages, args.pretrain_epochs)
        print(f"pretrained {args.stages}-stage preset: test accuracy {accuracy:.4f} on digits 0-4 "
              f"({args.pretrain_epochs} epochs, {seconds:.0f} s)", flush=True)
        epochs = {"trainer.epochs": args.epochs} if args.epochs else {}
        rows = {name: [] for name in RECIPES}
        print("| seed | recipe | validation acc | test acc | wall s |\n|---|---|---|---|---|")
        for seed in args.seeds:
            for name, overrides in RECIPES.items():
                experiment = kerasdl.load_experiment(FINETUNE, overrides={
                    **COMMON, **overrides, **epochs, "finetune.backbone": f"hub:{preset}",
                    "data.name": f"mnist_5to9_{PER_CLASS}", "trainer.seed": seed})
                row = train_and_test(experiment, name, PER_CLASS, folder / "runs")
                rows[name].append(row)
                print(f"| {seed} | {name} | {row.validation_accuracy:.4f} | "
                      f"{row.test_accuracy:.4f} | {row.wall_s:.1f} |", flush=True)
        print(f"\nover seeds {args.seeds}: mean ± standard deviation (range); fine-tuning "
              f"{rows['scratch'][0].epochs} epochs")
        print("| recipe | validation acc | test acc | test acc - scratch's (paired) | wall s |\n"
              "|---|---|---|---|---|")
        for name, runs in rows.items():
            gain = [r.test_accuracy - s.test_accuracy for r, s in zip(runs, rows["scratch"])]
            print(f"| {name} | {spread([r.validation_accuracy for r in runs])} | "
                  f"{spread([r.test_accuracy for r in runs])} | "
                  f"{'-' if name == 'scratch' else f'{statistics.mean(gain):+.4f}'} | "
                  f"{statistics.mean([r.wall_s for r in runs]):.1f} |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
