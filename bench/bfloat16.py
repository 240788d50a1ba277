"""float32 against ``mixed_bfloat16`` training steps on this CPU (issue #15, 5).

The CI/developer CPU has AMX-BF16 and AVX512-BF16 units (``/proc/cpuinfo`` flags ``amx_bf16``,
``avx512_bf16``), which oneDNN uses for bfloat16 matrix products. For each model: one copy built
under the ``float32`` policy and one under ``mixed_bfloat16`` (variables float32, computation
bfloat16, softmax output float32), the same random batch, SGD, sparse categorical cross-entropy;
the first ``--warmup`` steps (tracing) left out; per round ``--steps`` steps a side, sides
alternating and swapping who goes first. Ratio = float32's median step / bfloat16's (> 1:
bfloat16 faster), median with its interquartile range over the rounds.

    python bench/bfloat16.py [--rounds 9] [--steps 5]
    python bench/bfloat16.py --models lenet5 --rounds 1 --steps 1        # smoke

Accuracy (issue 28, 4): ``--accuracy EXPERIMENT`` runs ``python -m kerasdl run EXPERIMENT --set
trainer.seed=S --set device.precision=P`` in a fresh process per seed and precision, the two
precisions alternating and swapping who goes first per seed (the machine is shared); it prints
each run's test accuracy and fit time, then the medians and interquartile ranges per precision.

    python bench/bfloat16.py --accuracy experiments/lenet5.py [--seeds 0 1 2] [--set KEY=VALUE]

Exports (issue 28, 4): ``--exports RUN_DIR`` exports a run trained in mixed_bfloat16 in every
format (``kerasdl.deploy.export``: its float32 twin), serves each in its own runtime on the run's
whole test split and prints the largest difference of the probabilities from the bfloat16 Keras
model's and from the float32 twin's, and how many examples keep their class.

    python bench/bfloat16.py --exports runs/lenet5-...
"""
from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasdl  # noqa: E402

from timing import alternate_steps, quartiles  # noqa: E402

#: model -> (build kwargs, input shape, batch size)
MODELS = {
    "lenet5": ({}, (32, 32, 1), 64),
    "resnet20": ({"num_classes": 10}, (32, 32, 3), 128),
    "vgg11": ({"input_shape": (32, 32, 3), "num_classes": 10}, (32, 32, 3), 64),
    "resnet50": ({"input_shape": (224, 224, 3), "num_classes": 1000}, (224, 224, 3), 16),
}


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def build(name: str, policy: str):
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        kwargs, _, _ = MODELS[name]
        model = kerasdl.build(name, style="functional", **kwargs)
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
        return model
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def accuracy(experiment: str, seeds: list[int], settings: list[str]) -> None:
    """Test accuracy and fit time of ``experiment`` per seed, float32 against mixed_bfloat16."""
    from lenet5_time_to_accuracy import kerasdl_side

    runs: dict[str, list[dict]] = {"float32": [], "mixed_bfloat16": []}
    for turn, seed in enumerate(seeds):
        for precision in (list(runs) if turn % 2 == 0 else list(runs)[::-1]):
            run = kerasdl_side(seed, 1.0, [*settings, f"device.precision={precision}"],
                               experiment)
            runs[precision].append(run)
            print(f"seed {seed} {precision}: test accuracy {run['accuracy']:.4f}, "
                  f"{run['epochs']} epochs, fit {run['fit_s']:.1f} s", flush=True)
    for precision, done in runs.items():
        print(f"{precision}: test accuracy {quartiles([r['accuracy'] for r in done], 4)}; "
              f"fit {quartiles([r['fit_s'] for r in done], 1, unit=' s')}")


def exports(run_dir: str) -> None:
    """Each format's export of ``run_dir`` against the bfloat16 model and its float32 twin."""
    import tempfile

    from kerasdl.config import LOSSES
    from kerasdl.data import load_data
    from kerasdl.deploy import EXPORT_FORMATS, export, load_trained
    from kerasdl.deploy.exports import float32_twin

    trained = load_trained(run_dir)
    twin, precision = float32_twin(trained.model)
    data = load_data(trained.experiment.data, LOSSES[trained.experiment.trainer.loss][1],
                     log=lambda line: None)
    x = np.concatenate([np.asarray(batch[0]) for batch in data.test]).astype(np.float32)
    mixed, plain = trained.model.predict(x, verbose=0), twin.predict(x, verbose=0)
    print(f"{run_dir}: trained in {precision}; {len(x)} test examples")
    name = trained.model.inputs[0].name
    with tempfile.TemporaryDirectory() as folder:
        for fmt, export_format in EXPORT_FORMATS.items():
            target = Path(folder) / export_format.file_name
            try:
                export(trained, fmt, target)
            except Exception as error:           # noqa: BLE001 - a format not installed here
                print(f"{fmt}: not exported ({error})")
                continue
            (served,) = export_format.run(target, {name: x}, target)
            print(f"{fmt}: |export - {precision} Keras| <= {np.abs(served - mixed).max():.2e}, "
                  f"|export - float32 twin| <= {np.abs(served - plain).max():.2e}, same class "
                  f"{(served.argmax(1) == mixed.argmax(1)).mean():.2%}, served as "
                  f"{served.dtype}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--accuracy", metavar="EXPERIMENT",
                        help="measure test accuracy over seeds instead of step time")
    parser.add_argument("--exports", metavar="RUN_DIR",
                        help="export a mixed_bfloat16 run in every format and compare")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--set", dest="settings", action="append", default=[],
                        metavar="KEY=VALUE", help="an override for every --accuracy run")
    args = parser.parse_args()
    flags = cpu_flags()
    print(f"CPU bfloat16 units: amx_bf16 {'amx_bf16' in flags}, avx512_bf16 "
          f"{'avx512_bf16' in flags}")
    if args.accuracy:
        accuracy(args.accuracy, args.seeds, args.settings)
        return
    if args.exports:
        exports(args.exports)
        return
    rng = np.random.default_rng(0)
    for name in args.models:
        _, shape, batch = MODELS[name]
        x = rng.random((batch, *shape), dtype=np.float32)
        sides = {"float32": build(name, "float32"), "mixed_bfloat16": build(name, "mixed_bfloat16")}
        classes = sides["float32"].output_shape[-1]
        y = rng.integers(0, classes, size=(batch,))
        medians = alternate_steps(sides, x, y, args.rounds, args.steps, args.warmup)
        ratios = [f / b for f, b in zip(medians["float32"], medians["mixed_bfloat16"])]
        print(f"{name} (batch {batch}): float32 {statistics.median(medians['float32']) * 1e3:.1f} "
              f"ms/step, mixed_bfloat16 {statistics.median(medians['mixed_bfloat16']) * 1e3:.1f} "
              f"ms/step; speed-up {quartiles(ratios, 2, unit='x')}")


if __name__ == "__main__":
    main()
