"""Wall time and peak memory of a command and all its child processes (the test suite).

``/usr/bin/time -v`` reports the largest single process; the suite also runs models in
subprocesses next to pytest's own, so this samples the memory of the whole process tree every
0.2 s (Linux /proc) as the sum of each process's proportional set size (PSS: a page shared by k
processes, such as TensorFlow's 0.5 GB of libraries, counts 1/k in each), which is what the
machine must hold. Summed RSS, which counts shared pages once per process, is printed beside it
and overstates that.

    python bench/suite_footprint.py                       # the default suite: python -m pytest -q
    python bench/suite_footprint.py -- python -m pytest -q tests/test_zoo.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry))
    return tree


def tree_memory_bytes(root: int) -> tuple[int, int]:
    """(summed PSS, summed RSS) of ``root`` and all its descendants, in bytes."""
    tree, todo, pss, rss = _children(), [root], 0, 0
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith(("Pss:", "Rss:")):
                        value = int(line.split()[1]) * 1024
                        if line.startswith("Pss:"):
                            pss += value
                        else:
                            rss += value
        except (OSError, IndexError, ValueError):
            pass
    return pss, rss


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1:] if "--" in argv else [sys.executable, "-m", "pytest",
                                                                   "-q"]
    started = time.time()
    process = subprocess.Popen(command)
    peak, peak_at, peak_rss = 0, 0.0, 0
    while process.poll() is None:
        pss, rss = tree_memory_bytes(process.pid)
        peak_rss = max(peak_rss, rss)
        if pss > peak:
            peak, peak_at = pss, time.time() - started
        time.sleep(0.2)
    wall = time.time() - started
    print(f"[suite_footprint] {' '.join(command)}: exit {process.returncode}, wall {wall:.0f} s "
          f"({wall / 60:.1f} min), peak memory of the process tree {peak / 2**30:.2f} GiB PSS "
          f"at {peak_at:.0f} s (summed RSS peak {peak_rss / 2**30:.2f} GiB, shared pages "
          f"counted once per process), on {os.cpu_count()} CPUs")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
