"""``kerasdl sweep`` wall time: sequential against ``--parallel 2``, and with against without
``--prune`` (issue #16).

Each side is the real command, ``python -m kerasdl sweep experiments/mlp_digits.py ...``, in a
fresh sweep directory, timed from start to exit. The sampler's seed is fixed, so both sides of a
pair draw the same settings (Optuna's TPE samples its first 10 trials at random from the seed) and
do the same work; sides alternate round by round and each round's ratio is reported, with the
median and the interquartile range over rounds.

    python bench/sweep_parallel.py [--rounds 5] [--trials 6] [--epochs 20]
    python bench/sweep_parallel.py --quick       # smoke check: 2 trials, 1 round, 2 epochs
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import quartiles

REPO = Path(__file__).resolve().parents[1]


def sweep(workdir: Path, trials: int, epochs: int, *extra: str) -> tuple[float, list[dict]]:
    """(wall seconds, trials.csv rows) of one sweep in a fresh ``workdir``."""
    command = [sys.executable, "-m", "kerasdl", "sweep", str(REPO / "experiments/mlp_digits.py"),
               "--trials", str(trials), "--workdir", str(workdir), "--seed", "0",
               "--param", "trainer.learning_rate=loguniform(1e-5, 1e-2)",
               "--param", "data.batch_size=choice(16, 64)",
               "--set", f"trainer.epochs={epochs}",
               "--set", "callbacks.early_stopping.enabled=False", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=workdir.parent, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"sweep failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    with open(workdir / "mlp_digits" / "trials.csv") as handle:
        return wall, list(csv.DictReader(handle))


def compare(name: str, rounds: int, baseline, candidate, root: Path) -> None:
    ratios, walls = [], {"baseline": [], "candidate": []}
    for index in range(rounds):
        pair = [("baseline", baseline), ("candidate", candidate)]
        if index % 2:
            pair.reverse()                          # alternate which side goes first
        measured = {}
        for side, run in pair:
            measured[side] = run(Path(tempfile.mkdtemp(dir=root)) / "sweeps")
            walls[side].append(measured[side][0])
            print(f"  {name} round {index + 1}/{rounds} {side}: {measured[side][0]:.1f} s")
        ratios.append(measured["baseline"][0] / measured["candidate"][0])
        if name == "prune":
            pruned = [r for r in measured["candidate"][1] if r["state"] == "PRUNED"]
            print(f"    {len(pruned)} of {len(measured['candidate'][1])} trials pruned")
    print(f"{name}: baseline {statistics.median(walls['baseline']):.1f} s, candidate "
          f"{statistics.median(walls['candidate']):.1f} s (medians); speed-up "
          f"{quartiles(ratios)}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["parallel", "prune"])
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.trials, args.epochs = 1, 2, 2
    root = Path(tempfile.mkdtemp(prefix="kerasdl-sweep-bench-"))
    print(f"mlp_digits, {args.trials} trials of {args.epochs} epochs, {os.cpu_count()} cores")
    if args.only in (None, "parallel"):
        compare("parallel", args.rounds,
                lambda d: sweep(d, args.trials, args.epochs),
                lambda d: sweep(d, args.trials, args.epochs, "--parallel", "2"), root)
    if args.only in (None, "prune"):
        compare("prune", args.rounds,
                lambda d: sweep(d, args.trials + 2, args.epochs),
                lambda d: sweep(d, args.trials + 2, args.epochs, "--prune"), root)


if __name__ == "__main__":
    main(sys.argv[1:])
