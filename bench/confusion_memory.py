"""Peak memory of a run's figures against the number of classes (issue 24, 8).

Run from the repository root:
    python bench/confusion_memory.py [--classes 10 100 1000 2000]
Each class count is drawn in a fresh process: ``plot_confusion`` of a test set with 2 images per
class (half of them confused with a random class), then the predictions grid of 32 images titled
with long class names. Prints the process's peak resident memory (``ru_maxrss``) after importing
matplotlib and kerasdl.plots, and after each figure; the difference is what the figure cost.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

MEASURE = """
import json, resource, sys, tempfile
from pathlib import Path
import numpy as np
from kerasdl.plots import image_grid, plot_confusion, pyplot

pyplot()
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # MB (Linux: KB)
classes = int(sys.argv[1])
rng = np.random.default_rng(0)
truth = np.repeat(np.arange(classes), 2)
predicted = np.where(rng.random(len(truth)) < 0.5, truth, rng.integers(0, classes, len(truth)))
names = [f"class number {i} with a long name" for i in range(classes)]
out = Path(tempfile.mkdtemp())
facts = {"classes": classes, "baseline_mb": peak()}
plot_confusion(truth, predicted, classes, out / "confusion.png", class_names=names)
facts["confusion_mb"] = peak()
image_grid(rng.random((32, 28, 28, 1)), [f"{names[-1]} (true {names[0]})"] * 32,
           out / "predictions.png", "test predictions")
facts["predictions_mb"] = peak()
facts["confusion_png_kb"] = (out / "confusion.png").stat().st_size / 1024
print(json.dumps(facts))
"""


def measure(classes: int) -> dict:
    """The peak memory facts of one class count, from a fresh process."""
    result = subprocess.run([sys.executable, "-c", MEASURE, str(classes)], capture_output=True,
                            text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[10, 100, 1000, 2000])
    args = parser.parse_args()
    print(f"{'classes':>8}  {'baseline MB':>11}  {'after confusion MB':>18}  "
          f"{'after predictions MB':>20}  {'confusion.png KB':>16}")
    for classes in args.classes:
        facts = measure(classes)
        print(f"{classes:>8}  {facts['baseline_mb']:>11.0f}  {facts['confusion_mb']:>18.0f}  "
              f"{facts['predictions_mb']:>20.0f}  {facts['confusion_png_kb']:>16.0f}")


if __name__ == "__main__":
    main()
