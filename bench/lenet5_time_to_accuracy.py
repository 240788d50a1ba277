"""Time to accuracy of the LeNet-5 default run against a seed-style script (issue #15, 1).

A user waits for an accuracy, not for an epoch (DAWNBench, airbench). Per trainer seed (0, 1, 2
by default), each side runs in a fresh process, one after the other:

* kerasdl: ``python -m kerasdl run experiments/lenet5.py --set trainer.seed=S`` (embedded MNIST,
  the default everything, nothing published): the process's wall time, the test accuracy, and the
  time to 97% - the first epoch whose val_accuracy reaches 0.97, in seconds since ``fit`` started
  (the run's ``manifest.json`` ``epoch_end_s``, what ``kerasdl report --time-to`` prints);
* the seed-style script of bench/lenet5_vs_seed.py (numpy arrays, ``fit(batch_size=32)``, SGD 0.05
  with momentum, no augmentation) on the same 3,600 training and 400 validation images, with the
  early stopping a seed script would use (val_accuracy, patience 10, best weights restored, at most
  80 epochs): its time to 97% and its time to its own best epoch, and its test accuracy.

    python bench/lenet5_time_to_accuracy.py [--seeds 0 1 2] [--target 0.97]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from kerasdl.reports import read_run

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}


def first_reaching(values: list[float], times: list[float], target: float):
    """(epoch, seconds) of the first value >= target, or (None, None)."""
    for epoch, (value, seconds) in enumerate(zip(values, times), start=1):
        if value >= target:
            return epoch, seconds
    return None, None


def reached(run: dict) -> str:
    """Where a side's run first reached the target: "epoch E at S s", or "never"."""
    return f"epoch {run['epoch']} at {run['time_to_target']:.1f} s" if run["epoch"] else "never"


def kerasdl_side(seed: int, target: float, settings: Sequence[str] = (),
                 experiment: str = "experiments/lenet5.py") -> dict:
    """Run ``experiment`` at ``seed`` (plus ``--set`` ``settings``) in a fresh process."""
    workdir = Path(tempfile.mkdtemp(prefix="kerasdl-tta-"))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "kerasdl", "run", str(REPO / experiment),
         "--set", f"trainer.seed={seed}", "--set", "output.publish=never",
         "--set", "trainer.verbose=0", "--workdir", str(workdir),
         *[arg for setting in settings for arg in ("--set", setting)]],
        cwd=workdir, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        sys.exit(result.stdout[-2000:] + result.stderr[-2000:])
    (run_dir,) = workdir.iterdir()
    run = read_run(run_dir)
    shutil.rmtree(workdir, ignore_errors=True)          # read: the run folder is not kept
    epoch, seconds = first_reaching(run["history"].get("val_accuracy", []),   # none: no validation
                                    run["manifest"]["epoch_end_s"], target)
    return {"accuracy": run["metrics"]["accuracy"], "wall": wall, "epoch": epoch,
            "time_to_target": seconds, "epochs": run["manifest"]["epochs_run"],
            "fit_s": run["manifest"]["epoch_end_s"][-1]}


SEED_SCRIPT = """
import json, sys
sys.path.insert(0, {bench!r})
import keras
import numpy as np
from lenet5_vs_seed import embedded_arrays, seed_style_model
from kerasdl.callbacks import FitClock          # each epoch's end, in seconds since fit started

x_train, y_train, x_test, y_test, x_val, y_val = embedded_arrays(with_validation=True)
model = seed_style_model({seed})
clock = FitClock()
history = model.fit(x_train, y_train, batch_size=32, epochs=80, verbose=0,
                    validation_data=(x_val, y_val),
                    callbacks=[clock, keras.callbacks.EarlyStopping(
                        monitor="val_accuracy", patience=10, restore_best_weights=True)])
val = history.history["val_accuracy"]
best = int(np.argmax(val))
ends = clock.epoch_end_s
print(json.dumps({{"val": val, "ends": ends, "best_epoch": best + 1, "best_s": ends[best],
                  "accuracy": model.evaluate(x_test, y_test, verbose=0)[1]}}))
"""


def seed_script_side(seed: int, target: float) -> dict:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", SEED_SCRIPT.format(
        bench=str(REPO / "bench"), seed=seed)], cwd=REPO, env=ENV,
        capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(result.stderr[-3000:])
    found = json.loads(result.stdout.strip().splitlines()[-1])
    epoch, seconds = first_reaching(found["val"], found["ends"], target)
    return {"accuracy": found["accuracy"], "wall": wall, "epoch": epoch, "time_to_target": seconds,
            "best_epoch": found["best_epoch"], "best_s": found["best_s"],
            "epochs": len(found["val"])}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target", type=float, default=0.97)
    args = parser.parse_args(argv)
    ours, theirs = [], []
    for seed in args.seeds:
        ours.append(kerasdl_side(seed, args.target))
        theirs.append(seed_script_side(seed, args.target))
        o, t = ours[-1], theirs[-1]
        print(f"seed {seed}: kerasdl test accuracy {o['accuracy']:.4f}, wall {o['wall']:.1f} s "
              f"(fit {o['fit_s']:.1f} s, {o['epochs']} epochs), val_accuracy {args.target} "
              f"reached {reached(o)}")
        print(f"        seed-style script test accuracy {t['accuracy']:.4f}, wall {t['wall']:.1f} s"
              f", best epoch {t['best_epoch']} at {t['best_s']:.1f} s of {t['epochs']}, "
              f"val_accuracy {args.target} reached {reached(t)}")
    for name, side in (("kerasdl", ours), ("seed-style script", theirs)):
        accuracies = [r["accuracy"] for r in side]
        print(f"{name}: mean test accuracy {statistics.mean(accuracies):.4f} "
              f"(range {min(accuracies):.4f}-{max(accuracies):.4f}), max wall "
              f"{max(r['wall'] for r in side):.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
