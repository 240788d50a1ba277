"""Start-up time of the CLI: `python -m kerasdl --help` and `list` (target: < 1 s wall).

Run from the repository root:
    python bench/startup.py [--repeat 10]
Prints the median and worst wall time of each command over fresh processes.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def wall_times(argv: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kerasdl", *argv], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    for argv in (["--help"], ["list"]):
        times = wall_times(argv, args.repeat)
        print(f"python -m kerasdl {' '.join(argv):<8} median {statistics.median(times):.3f} s   "
              f"max {max(times):.3f} s   ({args.repeat} runs)")


if __name__ == "__main__":
    main()
