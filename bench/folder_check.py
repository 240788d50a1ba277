"""What checking an image folder costs before a run folder is made (issue 24, 1).

``folder:PATH`` reads every image's header and decodes every image once, in parallel, before
training (:mod:`kerasdl.data.folders`), so a truncated or undecodable file is named before a run
folder exists; where the decoded images fit in memory, those pixels are the splits. Timed on N
generated PNGs (default 10,000, 32x32 RGB, 10 classes, the writer of ``bench/folder_source.py``):

* headers: the header scan alone (what the check was before issue 24);
* check: ``load_local("folder", ...)``: scan, decode every image, split, tf.data splits ready;
* one decode epoch: a ``tf.io.decode_image`` map over the same files, which the pipeline spent in
  its first epoch before and now spares (the splits are decoded pixels).

Median seconds over ``--rounds`` rounds (the operating system's file cache warm after the first).

    python bench/folder_check.py [--images 10000] [--rounds 5]
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from folder_source import make_folder  # noqa: E402


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    from kerasdl.quiet import import_tensorflow

    tf = import_tensorflow()

    from kerasdl.config import Data
    from kerasdl.data.folders import _scan
    from kerasdl.data.local import load_local
    from kerasdl.data.splits import class_folders

    with tempfile.TemporaryDirectory() as scratch:
        root = make_folder(Path(scratch) / "images", args.images)
        cfg = Data(name=f"folder:{root}")
        names = tuple(p.name for p in class_folders(root))
        paths = sorted(str(p) for p in root.glob("*/*.png"))

        def headers():
            _scan(root, names, lambda line: None, "train", root)

        def check():
            load_local("folder", root, cfg, log=lambda line: None)

        def decode_epoch():
            for _ in tf.data.Dataset.from_tensor_slices(paths).map(
                    lambda p: tf.io.decode_image(tf.io.read_file(p), channels=3,
                                                 expand_animations=False),
                    num_parallel_calls=tf.data.AUTOTUNE).batch(64):
                pass

        timed = {"headers": headers, "check": check, "one decode epoch": decode_epoch}
        seconds = {name: [] for name in timed}
        for _ in range(args.rounds):
            for name, job in timed.items():
                started = time.perf_counter()
                job()
                seconds[name].append(time.perf_counter() - started)
    print(", ".join(f"{name} {statistics.median(values):.3f} s (range {min(values):.3f}-"
                    f"{max(values):.3f})" for name, values in seconds.items())
          + f" [{args.rounds} rounds, {args.images:,} 32x32 RGB PNGs, {os.cpu_count()} CPUs]")


if __name__ == "__main__":
    main(sys.argv[1:])
