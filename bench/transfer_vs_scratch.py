"""Transfer vs training from scratch: the default fine-tuning experiment per seed (issue #15, 4).

Pretrain LeNet-5 on digits 0-4 once (``experiments/transfer_pretrain.py``, nothing published) or
take ``--pretrained FILE``; then, per trainer seed (0, 1, 2 by default), run in a fresh process
each, one after the other:

* transfer: ``python -m kerasdl run experiments/transfer_finetune.py --set trainer.seed=S
  --set finetune.backbone=FILE`` - the default recipe, data (10 images per digit 5-9), epochs and
  learning rate;
* scratch: the same command with ``--set finetune.recipe=None`` - the same LeNet-5, data,
  augmentation, epochs and learning rate, from random weights.

It prints, per seed, both test accuracies (all 500 held-out test images of 5-9), their difference
and both wall times (the run's own ``wall_time_s``, what its "done in" line says, and the
process's), then the means. Target: transfer ahead by >= 0.05 on the mean.

    python bench/transfer_vs_scratch.py [--seeds 0 1 2] [--pretrained FILE] [--set KEY=VALUE ...]

``--set`` goes to both sides' fine-tuning runs (e.g. ``--set data.name=folder:sample_digits``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kerasdl.reports import read_run

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}


def kerasdl_run(experiment: str, *overrides: str) -> dict:
    """``python -m kerasdl run experiments/<experiment>`` in a fresh process and a fresh workdir."""
    workdir = Path(tempfile.mkdtemp(prefix="kerasdl-transfer-"))
    command = [sys.executable, "-m", "kerasdl", "run", str(REPO / "experiments" / experiment),
               "--set", "output.publish=never", "--set", "trainer.verbose=0",
               "--workdir", str(workdir)]
    for override in overrides:
        command += ["--set", override]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=workdir, env=ENV, capture_output=True, text=True)
    process_s = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(result.stdout[-2000:] + result.stderr[-2000:])
    (run_dir,) = workdir.iterdir()
    run = read_run(run_dir)
    return {"accuracy": run["metrics"]["accuracy"], "wall": run["manifest"]["wall_time_s"],
            "process": process_s, "epochs": run["manifest"]["epochs_run"],
            "model": run_dir / "model.keras"}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pretrained", default=None,
                        help="a pretrained .keras (default: pretrain now, publishing nothing)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="an override of both fine-tuning runs")
    args = parser.parse_args(argv)
    pretrained = args.pretrained
    if pretrained is None:
        source = kerasdl_run("transfer_pretrain.py")
        pretrained = str(source["model"])
        print(f"pretrained: test accuracy {source['accuracy']:.4f} on digits 0-4, "
              f"{source['epochs']} epochs, {source['wall']:.1f} s: {pretrained}")
    rows = []
    print("seed | transfer test acc | scratch test acc | difference | transfer wall s "
          "(process) | scratch wall s (process)")
    for seed in args.seeds:
        transfer = kerasdl_run("transfer_finetune.py", f"trainer.seed={seed}",
                               f"finetune.backbone={pretrained}", *args.overrides)
        scratch = kerasdl_run("transfer_finetune.py", f"trainer.seed={seed}",
                              "finetune.recipe=None", *args.overrides)
        rows.append((transfer, scratch))
        print(f"{seed:>4} | {transfer['accuracy']:>17.4f} | {scratch['accuracy']:>16.4f} | "
              f"{transfer['accuracy'] - scratch['accuracy']:>+10.4f} | "
              f"{transfer['wall']:>6.1f} ({transfer['process']:.1f}) | "
              f"{scratch['wall']:>6.1f} ({scratch['process']:.1f})", flush=True)
    mean = lambda values: statistics.mean(values)  # noqa: E731
    print(f"mean | {mean([t['accuracy'] for t, _ in rows]):>17.4f} | "
          f"{mean([s['accuracy'] for _, s in rows]):>16.4f} | "
          f"{mean([t['accuracy'] - s['accuracy'] for t, s in rows]):>+10.4f} | "
          f"{mean([t['wall'] for t, _ in rows]):>6.1f} | {mean([s['wall'] for _, s in rows]):>6.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
