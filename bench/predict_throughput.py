"""``kerasdl predict`` on a folder of images against ``model.predict`` on the same images held as
one preprocessed tensor (issue #13, 7; target >= 0.9x).

A folder of N generated PNGs (default 10,000, 32x32 RGB, 10 classes; the writer of
bench/folder_source.py) trains each model for one epoch (the experiment's ``--smoke`` run on
``folder:PATH``), so that a real run directory is loaded (``kerasdl.deploy.load_trained``). Then,
per round, with the sides in rotating order:

* predict: ``kerasdl.deploy.predict(trained, [folder])``, end to end (listing the folder,
  reading, decoding, preprocessing, inference, the top classes of every image);
* model.predict: ``trained.model.predict(x, batch_size=64)`` on the same images already decoded
  and preprocessed (done once, before the rounds);
* decode only, for reference: iterating ``kerasdl.deploy.image_batches`` without a model.

Images/s per side (median over rounds) and the ratio predict / model.predict (median of the
rounds' ratios, with their range and every round's); then each side's CPU seconds per 1,000
images (this process's, all threads) and how many cores other processes used meanwhile, since
on a shared machine that load moves the wall-clock figures. Each side is called once before the
rounds (tracing).

    python bench/predict_throughput.py [--images 10000] [--rounds 5] [--models lenet5 resnet20]
    python bench/predict_throughput.py --quick          # smoke check: 256 images, 1 round
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from folder_source import make_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = {"lenet5": "lenet5.py", "resnet20": "resnet.py"}


def train(model: str, folder: Path, runs: Path) -> Path:
    """The run directory of the model's experiment, run with --smoke on ``folder``."""
    import contextlib
    import io

    from kerasdl.experiment import load_experiment
    from kerasdl.runner import run

    experiment = load_experiment(REPO / "experiments" / EXPERIMENTS[model], smoke=True, overrides={
        "data.name": f"folder:{folder}", "output.runs_dir": str(runs), "trainer.verbose": 0})
    with contextlib.redirect_stdout(io.StringIO()):     # Keras's early-stopping notice
        return run(experiment, log=lambda line: None).run_dir


def seconds(call) -> tuple[float, float]:
    """(wall, CPU) seconds of ``call()``; CPU is this process's, every thread's."""
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def machine_cpu() -> float:
    """CPU seconds all processes on this machine have used (Linux /proc/stat; 0 elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().split()[1:9]
    except OSError:
        return 0.0
    busy = fields[:3] + fields[5:7]         # user, nice, system, irq, softirq (not idle, steal)
    return sum(map(int, busy)) / os.sysconf("SC_CLK_TCK")


def measure(model: str, folder: Path, runs: Path, images: int, rounds: int) -> None:
    import tensorflow as tf

    from kerasdl.data.pipeline import feature_transform
    from kerasdl.deploy import PREDICT_BATCH, image_batches, load_trained, predict

    trained = load_trained(train(model, folder, runs))
    paths = sorted(p for p in folder.rglob("*.png"))
    channels = int(trained.model.inputs[0].shape[-1])
    x = feature_transform(trained.experiment.data)(tf.stack(
        [tf.io.decode_image(tf.io.read_file(str(p)), channels=channels, expand_animations=False)
         for p in paths]))

    def decode_only():
        for _ in image_batches(trained, paths):
            pass

    sides = {"predict": lambda: predict(trained, [str(folder)]),
             "model.predict": lambda: trained.model.predict(x, batch_size=PREDICT_BATCH,
                                                            verbose=0),
             "decode only": decode_only}
    for call in sides.values():
        call()
    times = {name: [] for name in sides}
    names = list(sides)
    started, machine = time.perf_counter(), machine_cpu()
    for round_index in range(rounds):
        for name in names[round_index % 3:] + names[:round_index % 3]:
            times[name].append(seconds(sides[name]))
    ours = sum(cpu for side in times.values() for _, cpu in side)
    others = (machine_cpu() - machine - ours) / (time.perf_counter() - started)
    rate = {name: statistics.median(images / wall for wall, _ in side)
            for name, side in times.items()}
    cpu = {name: statistics.median(1000 * c / images for _, c in side)
           for name, side in times.items()}
    ratios = [b / a for (a, _), (b, _) in zip(times["predict"], times["model.predict"])]
    print(f"{model} ({trained.model.count_params():,} parameters, input "
          f"{tuple(trained.model.inputs[0].shape[1:])}): predict {rate['predict']:,.0f} images/s,"
          f" model.predict {rate['model.predict']:,.0f} images/s, decode only "
          f"{rate['decode only']:,.0f} images/s; ratio {statistics.median(ratios):.2f} (range "
          f"{min(ratios):.2f}-{max(ratios):.2f}; rounds {', '.join(f'{r:.2f}' for r in ratios)})"
          f" [{rounds} rounds, {images:,} images, batch {PREDICT_BATCH}, {os.cpu_count()} CPUs]",
          flush=True)
    print(f"{model} CPU seconds per 1,000 images: predict {cpu['predict']:.3f}, model.predict "
          f"{cpu['model.predict']:.3f}, decode only {cpu['decode only']:.3f}; other processes "
          f"used {max(others, 0):.2f} cores meanwhile", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", nargs="+", choices=sorted(EXPERIMENTS),
                        default=["lenet5", "resnet20"])
    parser.add_argument("--quick", action="store_true", help="256 images, 1 round (smoke check)")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.rounds = 256, 1

    from kerasdl.quiet import import_tensorflow

    import_tensorflow()
    with tempfile.TemporaryDirectory() as scratch:
        folder = make_folder(Path(scratch) / "images", args.images)
        for model in args.models:
            measure(model, folder, Path(scratch) / "runs", args.images, args.rounds)


if __name__ == "__main__":
    main(sys.argv[1:])
