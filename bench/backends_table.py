"""Which builders run on which Keras backend: every family, in every style it declares, under
TensorFlow, JAX and PyTorch (issue 26, 5).

Run from the repository root:
    python bench/backends_table.py                 # the Markdown table, every backend installed
    python bench/backends_table.py lenet5 seq2seq  # some families only
    KERAS_BACKEND=jax python bench/backends_table.py --probe   # one backend's JSON (the tests')

The torch column needs torch importable by this Python; the CPU wheel (about 190 MB, no CUDA
libraries) in a venv that sees the other packages leaves the global site-packages alone:
    python -m venv --system-site-packages /tmp/torchenv
    /tmp/torchenv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    /tmp/torchenv/bin/python bench/backends_table.py

Each backend is probed in a fresh process of its own (Keras reads ``KERAS_BACKEND`` once, at
import). A probe builds each model with its class's ``test_kwargs`` (the small configurations of
tests/test_zoo.py), predicts on its ``example_inputs`` (a NumPy batch of 2), then trains one step
with ``model.fit`` on NumPy arrays (SGD, MSE against zeros shaped as the output) and checks that
the predictions and the loss are finite and that the step changed a trainable weight. Cells:
``ok``; ``needs TF`` where the builder refused with its one-line ModelError (the model's
``tensorflow_only`` hook); ``error: ...`` otherwise; a backend whose package is not installed for
this Python is "not measured".
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BACKENDS = ("tensorflow", "jax", "torch")
#: the Python package each backend needs
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
OK, NEEDS_TF = "ok", "needs TF"
REPO = Path(__file__).resolve().parent.parent


def probe_one(name: str, style: str) -> dict[str, str]:
    """Build, predict and fit one step: ``{"status": "ok" | "needs TF" | "error", "error": ...}``."""
    import keras
    import numpy as np

    from kerasdl.errors import ModelError
    from kerasdl.models import build, get_model_class

    cls = get_model_class(name)
    try:
        model = build(name, style=style, **cls.test_kwargs)
    except ModelError as error:
        if "needs the TensorFlow backend" in str(error):
            return {"status": NEEDS_TF, "error": str(error)}
        raise
    inputs = cls.example_inputs(2, cls.test_kwargs.get("input_shape"))
    outputs = np.asarray(model.predict(inputs, verbose=0))
    if not np.all(np.isfinite(outputs)):
        return {"status": "error", "error": f"predict gave non-finite values: {outputs.ravel()[:4]}"}
    model.compile(optimizer="sgd", loss="mse")
    before = [keras.ops.convert_to_numpy(weight) for weight in model.trainable_weights]
    loss = model.fit(inputs, np.zeros_like(outputs), batch_size=2, epochs=1,
                     verbose=0).history["loss"][-1]
    if not np.isfinite(loss):
        return {"status": "error", "error": f"fit's loss is {loss}"}
    if all(np.array_equal(old, keras.ops.convert_to_numpy(weight))
           for old, weight in zip(before, model.trainable_weights)):
        return {"status": "error", "error": "fit's step changed no trainable weight"}
    return {"status": OK}


def probe(names: list[str]) -> dict[str, dict[str, dict[str, str]]]:
    """``{name: {style: result}}`` for ``names`` (all registered ones if empty), this backend."""
    import keras

    from kerasdl.models import get_model_class, list_models

    table: dict[str, dict[str, dict[str, str]]] = {}
    for name in names or list_models():
        table[name] = {}
        for style in get_model_class(name).styles:
            start = time.perf_counter()
            try:
                table[name][style] = probe_one(name, style)
            except Exception as error:  # noqa: BLE001 - the table reports every failure
                first_line = (str(error).strip().splitlines() or [""])[0][:300]
                table[name][style] = {"status": "error",
                                      "error": f"{type(error).__name__}: {first_line}"}
            keras.backend.clear_session()
            print(f"{keras.backend.backend()} {name} {style}: {table[name][style]['status']} "
                  f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    return table


def probe_in_a_fresh_process(backend: str, names: list[str], timeout: float = 1800) -> dict:
    """:func:`probe` run under ``KERAS_BACKEND=backend`` in a fresh Python process."""
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--probe", *names],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"the {backend} probe failed (exit {result.returncode}):\n"
                           f"{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def cell(result: dict[str, str] | None) -> str:
    if result is None:
        return "not measured"
    return result["status"] if result["status"] != "error" else f"error: {result['error'][:80]}"


def markdown(tables: dict[str, dict | None]) -> str:
    """The Markdown table: one row per family and style, one column per backend; a family whose
    styles all give the same cells is one row naming its styles."""
    measured = next(table for table in tables.values() if table is not None)
    lines = [f"| model | style | {' | '.join(tables)} |", "|---|---|" + "---|" * len(tables)]
    for name, styles in measured.items():
        rows = {style: [cell(table[name][style] if table is not None else None)
                        for table in tables.values()] for style in styles}
        if len({tuple(cells) for cells in rows.values()}) == 1:
            rows = {", ".join(styles): next(iter(rows.values()))}
        lines += [f"| {name} | {style} | {' | '.join(cells)} |" for style, cells in rows.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="families to probe (default: every one)")
    parser.add_argument("--probe", action="store_true",
                        help="probe this process's KERAS_BACKEND only; print JSON")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="comma-separated backends for the table (default: %(default)s)")
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args.names)))
        return
    tables = {}
    for backend in args.backends.split(","):
        package = BACKEND_PACKAGES[backend]
        if importlib.util.find_spec(package) is None:
            tables[backend] = None
            print(f"{backend}: not measured ({package} is not installed for {sys.executable})")
            continue
        start = time.perf_counter()
        tables[backend] = probe_in_a_fresh_process(backend, args.names)
        print(f"{backend}: {package} {importlib.metadata.version(package)}, keras "
              f"{importlib.metadata.version('keras')}, probe {time.perf_counter() - start:.0f} s")
    print(markdown(tables))


if __name__ == "__main__":
    main()
