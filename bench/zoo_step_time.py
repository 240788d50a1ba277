"""Training step time (forward + backward) of zoo models at their default size (random data, SGD).

Run from the repository root:
    python bench/zoo_step_time.py --all --markdown       # every registered model but ImageNet-size
    python bench/zoo_step_time.py --all --include-imagenet   # also alexnet, vgg*, resnet18/34/50,
                                                             # googlenet (tens of seconds a step)
    python bench/zoo_step_time.py                        # alexnet vgg11 vgg16 vgg19, batch 32
    python bench/zoo_step_time.py lenet5 lstm tagger --batch-size 64 --steps 10
    python bench/zoo_step_time.py vgg16 --input-shape 32,32,3 --num-classes 10

For each model: build it with its builder defaults (tagger and transformer_classifier also with
the vocabulary of their ``test_kwargs``, which their ``example_inputs`` draw from) in ``--style``
where it has it, else in its first style (recursive: subclassed only); take a batch from the
class's ``example_inputs``; pick the loss and random targets from the model's output:

* output shaped as the input (autoencoders): MSE against the input;
* softmax head: sparse categorical cross-entropy on integer labels (per token: tagger, seq2seq);
* sigmoid units (mlp, perceptron by default): binary cross-entropy on 0/1 labels;
* linear head (the recurrent sequence regressors by default): MSE on random values.

Compile with SGD, run ``--warmup`` steps (tracing), time ``--steps`` calls of ``train_on_batch``
and print the median and fastest step and the throughput from the median: images/s for image
inputs; tokens/s for sequences, counting batch x positions per example, padding included (steps of
a real-valued sequence, token ids, source + target tokens of seq2seq, the vectorizer's sequence
length for raw text); samples/s otherwise (feature vectors, recursive's trees).
"""
from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from timing import step_times  # noqa: E402

COLUMNS = ("model", "style", "input", "parameters", "median s/step", "min s/step", "throughput",
           "unit")


def imagenet_sized(cls) -> bool:
    shape = cls.default_input_shape
    return len(shape) == 3 and all(isinstance(d, int) for d in shape) and shape[0] >= 200


def loss_and_targets(model, x, rng):
    """The loss that fits the model's output, and random targets for it (see the docstring)."""
    import numpy as np

    y = np.asarray(model.predict_on_batch(x))
    activation = getattr(getattr(model.layers[-1], "activation", None), "__name__", "linear")
    if not isinstance(x, tuple) and y.shape == np.shape(x):
        return "mean_squared_error", x
    if activation == "softmax":
        return "sparse_categorical_crossentropy", rng.integers(0, y.shape[-1], y.shape[:-1])
    if activation == "sigmoid":
        return "binary_crossentropy", rng.integers(0, 2, y.shape).astype("float32")
    return "mean_squared_error", rng.standard_normal(y.shape).astype("float32")


def input_and_unit(model, x) -> tuple[str, str, int]:
    """(the input per example, the throughput unit, units per example)."""
    import keras
    import numpy as np

    parts = [np.asarray(p) for p in (x if isinstance(x, tuple) else (x,))]
    shown = "+".join("x".join(map(str, p.shape[1:])) for p in parts)
    kind, rank = parts[0].dtype.kind, parts[0].ndim
    if kind in "OSU":                                     # raw text, vectorized in the model
        vectorizer = next(layer for layer in model.layers
                          if isinstance(layer, keras.layers.TextVectorization))
        length = vectorizer.get_config()["output_sequence_length"]
        return f"text ({length})", "tokens/s", length
    if kind == "f" and rank == 4:
        return shown, "images/s", 1
    if (kind == "f" and rank == 3) or (kind in "iu" and rank == 2):
        return shown, "tokens/s", sum(p.shape[1] for p in parts)
    return shown, "samples/s", 1


def measure(name: str, style: str, batch_size: int, steps: int, warmup: int, input_shape,
            num_classes, jit_compile) -> tuple[str, ...]:
    import keras
    import numpy as np

    from kerasdl.models import build, get_model_class
    from kerasdl.models.registry import builder_parameters

    keras.backend.clear_session()                      # free the previous model's graphs
    cls = get_model_class(name)
    style = style if style in cls.styles else cls.styles[0]
    kwargs = {k: v for k, v in cls.test_kwargs.items() if k in ("vocab_size", "vocabulary")}
    if input_shape:
        kwargs["input_shape"] = input_shape
    if num_classes and "num_classes" in builder_parameters(cls):
        kwargs["num_classes"] = num_classes
    model = build(name, style=style, **kwargs)
    x = cls.example_inputs(batch_size, input_shape)
    loss, y = loss_and_targets(model, x, np.random.default_rng(0))
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss=loss, jit_compile=jit_compile)
    step_times(model, x, y, warmup)
    times = step_times(model, x, y, steps)
    median = statistics.median(times)
    shown, unit, per_example = input_and_unit(model, x)
    return (name, style, shown, f"{model.count_params():,}", f"{median:.4f}", f"{min(times):.4f}",
            f"{batch_size * per_example / median:,.1f}", unit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="registered names (default: alexnet vgg11 "
                        "vgg16 vgg19, or every model with --all)")
    parser.add_argument("--all", action="store_true", help="every registered model")
    parser.add_argument("--include-imagenet", action="store_true",
                        help="with --all, also the ImageNet-size models (224x224 and up)")
    parser.add_argument("--style", choices=["functional", "sequential", "subclassed"],
                        default="functional", help="where a model has it; else its first style")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--input-shape", default=None,
                        help="e.g. 32,32,3, for every model named (default: each model's)")
    parser.add_argument("--num-classes", type=int, default=None,
                        help="for every model that takes num_classes (default: each model's)")
    parser.add_argument("--jit", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()

    import tensorflow as tf

    from kerasdl.models import get_model_class, list_models

    tf.get_logger().setLevel("ERROR")                  # each new model's functions "retrace"

    if args.all:
        names = [n for n in list_models()
                 if args.include_imagenet or not imagenet_sized(get_model_class(n))]
    else:
        names = args.models or ["alexnet", "vgg11", "vgg16", "vgg19"]
    input_shape = tuple(int(v) for v in args.input_shape.split(",")) if args.input_shape else None
    jit = {"auto": "auto", "on": True, "off": False}[args.jit]
    devices = ", ".join(d.name for d in tf.config.list_logical_devices()) or "?"
    print(f"devices: {devices}; CPU cores: {os.cpu_count()}; batch {args.batch_size}; "
          f"{args.warmup} warm-up + {args.steps} timed steps; jit_compile={jit}\n")
    widths = (22, 10, 14, 12, 13, 10, 12, 9)
    if args.markdown:
        print("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS))
    else:
        print(" ".join(f"{c:<{w}}" for c, w in zip(COLUMNS, widths)))
    for name in names:
        row = measure(name, args.style, args.batch_size, args.steps, args.warmup, input_shape,
                      args.num_classes, jit)
        if args.markdown:
            print("| " + " | ".join(row) + " |", flush=True)
        else:
            print(" ".join(f"{c:<{w}}" if i < 3 or i == 7 else f"{c:>{w}}"
                           for i, (c, w) in enumerate(zip(row, widths))), flush=True)


if __name__ == "__main__":
    main()
