"""Training step time of zoo models at their default input size (random data, SGD).

Run from the repository root:
    python bench/zoo_step_time.py                              # alexnet vgg11 vgg16 vgg19, batch 32
    python bench/zoo_step_time.py alexnet --batch-size 64 --steps 10
    python bench/zoo_step_time.py vgg16 --input-shape 32,32,3 --num-classes 10

For each model: build (functional), compile with SGD and sparse categorical cross-entropy, run
``--warmup`` steps (tracing, graph building), then time ``--steps`` calls of ``train_on_batch``
and print the median and the fastest step, and images per second from the median.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def step_times(name: str, batch_size: int, steps: int, warmup: int, input_shape, num_classes: int,
               jit_compile) -> tuple[list[float], int, tuple[int, ...]]:
    import keras
    import numpy as np

    from kerasdl.models import build, get_model_class

    kwargs = {"num_classes": num_classes}
    if input_shape:
        kwargs["input_shape"] = input_shape
    model = build(name, style="functional", **kwargs)
    shape = tuple(model.input_shape[1:])
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="sparse_categorical_crossentropy",
                  jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    x = get_model_class(name).example_inputs(batch_size, shape)
    y = rng.integers(0, num_classes, batch_size)
    for _ in range(warmup):
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return times, model.count_params(), shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["alexnet", "vgg11", "vgg16", "vgg19"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--input-shape", default=None, help="e.g. 32,32,3 (default: the model's)")
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--jit", choices=["auto", "on", "off"], default="auto")
    args = parser.parse_args()

    import tensorflow as tf

    input_shape = tuple(int(v) for v in args.input_shape.split(",")) if args.input_shape else None
    jit = {"auto": "auto", "on": True, "off": False}[args.jit]
    devices = ", ".join(d.name for d in tf.config.list_logical_devices()) or "?"
    print(f"devices: {devices}; CPU cores: {os.cpu_count()}; batch {args.batch_size}; "
          f"{args.warmup} warm-up + {args.steps} timed steps; jit_compile={jit}")
    print(f"{'model':<10} {'input':<14} {'parameters':>12} {'median s/step':>14} "
          f"{'min s/step':>11} {'images/s':>9}")
    for name in args.models:
        times, params, shape = step_times(name, args.batch_size, args.steps, args.warmup,
                                          input_shape, args.num_classes, jit)
        median = statistics.median(times)
        print(f"{name:<10} {'x'.join(map(str, shape)):<14} {params:>12,} {median:>14.3f} "
              f"{min(times):>11.3f} {args.batch_size / median:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
