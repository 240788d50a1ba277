"""kerasdl's ImageNet builders against ``keras.applications`` (issue #15, 6; target: training step
time ratio >= 0.98, i.e. kerasdl at most 2% slower).

For each pair (``vgg16`` / ``VGG16``, ``resnet50`` / ``ResNet50``): both built with random
weights (``weights=None``) for the same input (224x224x3) and 1,000 classes, float32, compiled
the same way (SGD, sparse categorical cross-entropy, no metrics), trained on the same random batch
with ``train_on_batch``. Each side's first ``--warmup`` steps (tracing) are left out; then per
round each side runs ``--steps`` steps, the sides alternating and swapping who goes first; a
round's ratio is keras.applications' median step time over kerasdl's (> 1: kerasdl faster). The
median ratio is printed with its interquartile range over the rounds, and the parameter counts.

    python bench/builders_vs_applications.py [--rounds 9] [--steps 3] [--batch-size 8]
    python bench/builders_vs_applications.py --models resnet50 --rounds 1 --steps 1   # smoke
"""
from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasdl  # noqa: E402

from timing import alternate_steps, quartiles  # noqa: E402

PAIRS = {"vgg16": keras.applications.VGG16, "resnet50": keras.applications.ResNet50}


def compiled(model):
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.random((args.batch_size, 224, 224, 3), dtype=np.float32)
    y = rng.integers(0, 1000, size=(args.batch_size,))
    for name in args.models:
        keras.utils.set_random_seed(0)
        sides = {"kerasdl": compiled(kerasdl.build(name, style="functional",
                                                   input_shape=(224, 224, 3), num_classes=1000)),
                 "keras.applications": compiled(PAIRS[name](weights=None,
                                                            input_shape=(224, 224, 3)))}
        counts = {side: model.count_params() for side, model in sides.items()}
        times = alternate_steps(sides, x, y, args.rounds, args.steps, args.warmup,
                                log=lambda line, name=name: print(f"  {name} {line}"))
        ratios = [a / k for a, k in zip(times["keras.applications"], times["kerasdl"])]
        print(f"{name}: parameters kerasdl {counts['kerasdl']:,}, keras.applications "
              f"{counts['keras.applications']:,}; median s/step kerasdl "
              f"{statistics.median(times['kerasdl']):.3f}, keras.applications "
              f"{statistics.median(times['keras.applications']):.3f} (batch {args.batch_size}); "
              f"ratio applications/kerasdl {quartiles(ratios, 3, unit='x')}")


if __name__ == "__main__":
    main()
