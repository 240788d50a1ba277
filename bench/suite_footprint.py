"""Wall time and peak memory of a command and all its child processes (the test suite).

``/usr/bin/time -v`` reports the largest single process; the suite also runs models in
subprocesses next to pytest's own, so this samples the summed resident memory of the whole
process tree every 0.2 s (Linux /proc) and reports both.

    python bench/suite_footprint.py                       # the default suite: python -m pytest -q
    python bench/suite_footprint.py -- python -m pytest -q tests/test_zoo.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


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


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, in bytes."""
    tree, todo, total = _children(), [root], 0
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            pass
    return total


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1:] if "--" in argv else [sys.executable, "-m", "pytest",
                                                                   "-q"]
    started = time.time()
    process = subprocess.Popen(command)
    peak, peak_at = 0, 0.0
    while process.poll() is None:
        rss = tree_rss_bytes(process.pid)
        if rss > peak:
            peak, peak_at = rss, time.time() - started
        time.sleep(0.2)
    wall = time.time() - started
    print(f"[suite_footprint] {' '.join(command)}: exit {process.returncode}, wall {wall:.0f} s "
          f"({wall / 60:.1f} min), peak memory of the process tree {peak / 2**30:.2f} GiB "
          f"at {peak_at:.0f} s, on {os.cpu_count()} CPUs")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
