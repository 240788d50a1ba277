"""A GPU proof, ready to run (issue 28, 5): every GPU path of kerasdl in one unattended run.

Run from the repository root (a checkout with ``pip install -e .``; no network needed):
    python bench/gpu_proof.py --json gpu_proof.json          # on a GPU machine: < 8 minutes
    python bench/gpu_proof.py --json gpu_proof.json          # on a CPU machine: ~1 minute

Sections, each a row group of the table, each in a fresh process with its own time limit, so a
failure or a hang is a row of the table and the next section still runs:

1. environment: TensorFlow and Keras versions, the GPUs TensorFlow sees, their compute capability,
   what ``device.precision="auto"`` resolves to there.
2. zoo: one training step of every registered model (its functional style where it has one, as
   ``bench/zoo_step_time.py`` builds it) under ``device.policy="gpu"``, float32, no XLA
   (``--zoo-xla``: kerasdl's ``jit_compile="auto"``); small models first.
3. ResNet-50: ``keras.applications.ResNet50(weights=None)`` on synthetic 224x224x3 images, batch
   128 (or the largest of 64, 32 that fits), ``device.precision="auto"``, ``jit_compile=True``;
   images/s after warm-up against NVIDIA's TF ResNet-50 AMP+XLA figure, 2,375 img/s on one A100.
4. LeNet-5: ``experiments/lenet5.py`` through ``kerasdl.run`` with ``device.policy="gpu"`` on the
   embedded MNIST: test accuracy and wall time.
5. mnist_fast: ``experiments/mnist_fast.py`` the same way, where that file exists.

Where TensorFlow sees no GPU, sections 2-5 are skipped with that reason, and a CPU smoke runs by
default instead: sections 2-4 at toy size on the CPU (two zoo models; ResNet-50 at batch 2 for 2
steps, without XLA; the LeNet-5 --smoke run), so every code path but the device name runs.
``--quick`` leaves the LeNet-5 smoke out, ``--no-cpu-smoke`` all of it. ``--budget-s`` caps the
whole run: a section that would start after it is spent is skipped with that reason. Prints the
table as Markdown (and as JSON to ``--json``); exits 0 when every section that ran passed, 1
otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
NVIDIA_A100_IMAGES_PER_S = 2375     # NVIDIA DeepLearningExamples, TF ResNet-50 v1.5, AMP + XLA
NO_GPU = "skipped: no GPU visible to TensorFlow"
MIN_SECTION_S = 15                  # a section is not started with less of the budget left
STOP_MARGIN_S = 20                  # a worker starts no new item this close to its limit
SMOKE_ZOO_MODELS = ("lenet5", "lstm")


@dataclass(frozen=True)
class Section:
    """One row group: the worker that runs it, where, and its time limit."""

    key: str            # the worker: environment, zoo, resnet50, lenet5, mnist_fast
    title: str
    budget_s: float
    on: str = "gpu"     # "gpu", or "cpu" for the CPU smoke

    @property
    def smoke(self) -> bool:
        return self.on == "cpu"


ENVIRONMENT = Section("environment", "1. environment", 40, on="any")
GPU_SECTIONS = (
    Section("zoo", "2. zoo: one train step each (GPU)", 175),
    Section("resnet50", "3. ResNet-50, precision auto, XLA (GPU)", 125),
    Section("lenet5", "4. LeNet-5 default run (GPU)", 85),
    Section("mnist_fast", "5. mnist_fast.py run (GPU)", 45),
)
SMOKE_SECTIONS = (    # limits for a shared 2-core VM, where importing TensorFlow alone took 18 s
    Section("zoo", "2s. zoo (CPU smoke: lenet5, lstm; batch 2)", 120, on="cpu"),
    Section("resnet50", "3s. ResNet-50 (CPU smoke: batch 2, 2 steps)", 180, on="cpu"),
    Section("lenet5", "4s. LeNet-5 (CPU smoke: --smoke run)", 120, on="cpu"),
)
EXPERIMENT_FILES = {"lenet5": REPO / "experiments" / "lenet5.py",
                    "mnist_fast": REPO / "experiments" / "mnist_fast.py"}


def one_line(error: BaseException, limit: int = 160) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# === Workers: each section's code, run in its own process ===

class Worker:
    """A section's side of the run: appends its rows to a JSON-lines file as they come, so rows
    finished before a hang or a crash survive it."""

    def __init__(self, section: Section, rows_path: Path, deadline: float, zoo_xla: bool):
        self.section, self.rows_path, self.deadline, self.zoo_xla = (section, rows_path, deadline,
                                                                     zoo_xla)

    def add(self, item: str, status: str, result: str = "", seconds: float | None = None,
            **facts) -> None:
        row = {"item": item, "status": status, "result": result,
               "seconds": None if seconds is None else round(seconds, 2), **facts}
        with open(self.rows_path, "a") as handle:
            handle.write(json.dumps(row) + "\n")

    def time_left(self) -> bool:
        return time.time() < self.deadline - STOP_MARGIN_S

    def device_setup(self, precision: str):
        """kerasdl's device setup for this section: ``device.policy`` gpu, or cpu in the smoke."""
        from kerasdl.config import Device
        from kerasdl.devices import setup_devices

        return setup_devices(Device(policy="cpu" if self.section.smoke else "gpu",
                                    precision=precision))


def environment(worker: Worker) -> None:
    import keras
    import tensorflow as tf

    from kerasdl.devices import resolve_precision

    build = tf.sysconfig.get_build_info()
    worker.add("TensorFlow, Keras", "ok", f"{tf.__version__}, {keras.__version__}; built with CUDA "
               f"{build.get('cuda_version', 'none')}, cuDNN {build.get('cudnn_version', 'none')}")
    gpus = tf.config.list_physical_devices("GPU")
    details = [tf.config.experimental.get_device_details(gpu) for gpu in gpus]
    names = "; ".join(d.get("device_name", gpu.name) for d, gpu in zip(details, gpus))
    worker.add("GPUs seen", "ok", f"{len(gpus)}" + (f": {names}" if gpus else ""), gpus=len(gpus))
    capabilities = [tuple(d["compute_capability"]) for d in details if d.get("compute_capability")]
    shown = ", ".join(f"{major}.{minor}" for major, minor in capabilities) or "none"
    worker.add("compute capability", "ok", shown)
    worker.add("device.precision auto on GPU", "ok",
               resolve_precision("auto", bool(gpus), capabilities) if gpus else "n/a (no GPU)")


def zoo(worker: Worker) -> None:
    """One train step of each registered model, timed by bench/zoo_step_time.py's ``measure``."""
    from kerasdl.devices import resolve_jit
    from kerasdl.models import get_model_class, list_models
    from zoo_step_time import imagenet_sized, measure

    setup = worker.device_setup("float32")    # measure() clears the session: Keras's dtype
    jit = resolve_jit("auto", setup.plan) if worker.zoo_xla else False   # policy is float32
    names = SMOKE_ZOO_MODELS if worker.section.smoke else sorted(
        list_models(), key=lambda name: imagenet_sized(get_model_class(name)))
    batch_size, steps = (2, 1) if worker.section.smoke else (16, 3)
    for name in names:
        if not worker.time_left():
            worker.add(name, "skipped: the zoo section's time limit is spent")
            continue
        started = time.perf_counter()
        try:
            with setup.scope():
                row = measure(name, "functional", batch_size, steps, 1, None, None, jit)
        except Exception as error:          # one model's failure is its row, not the section's end
            worker.add(name, f"error: {one_line(error)}", seconds=time.perf_counter() - started)
            continue
        worker.add(name, "ok", f"{row[4]} s/step ({row[1]}, batch {batch_size}, {row[6]} {row[7]}"
                   f"{', XLA' if jit else ''})", seconds=time.perf_counter() - started)


def resnet50_images_per_s(model, batch_size: int, warmup: int, steps: int) -> float:
    """Training images/s of ``model`` on one synthetic batch, after ``warmup`` steps (XLA)."""
    import statistics

    import tensorflow as tf
    from timing import step_times

    x = tf.random.uniform((batch_size, 224, 224, 3))
    y = tf.random.uniform((batch_size,), maxval=1000, dtype=tf.int32)
    step_times(model, x, y, warmup)
    return batch_size / statistics.median(step_times(model, x, y, steps))


def resnet50(worker: Worker) -> None:
    import keras

    from kerasdl.devices import resolve_jit

    setup = worker.device_setup("auto")
    jit = resolve_jit("auto", setup.plan)     # XLA on the GPU; on the CPU it compiles for minutes
    batch_sizes, warmup, steps = ((2,), 1, 2) if worker.section.smoke else ((128, 64, 32), 3, 30)
    for batch_size in batch_sizes:
        started = time.perf_counter()
        try:
            with setup.scope():
                keras.backend.clear_session()    # which resets Keras's dtype policy, so:
                keras.mixed_precision.set_dtype_policy(setup.plan.precision)
                model = keras.applications.ResNet50(weights=None)
                model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), jit_compile=jit,
                              loss="sparse_categorical_crossentropy")
                images_per_s = resnet50_images_per_s(model, batch_size, warmup, steps)
            break
        except Exception as error:
            if "RESOURCE_EXHAUSTED" not in str(error) or batch_size == batch_sizes[-1]:
                raise
            worker.add(f"batch {batch_size}", "skipped: out of GPU memory, trying a smaller batch")
    placed = model.weights[0].value.device.split("device:")[-1]
    computes = model.get_layer("conv1_conv").compute_dtype
    worker.add("placement, precision", "ok", f"variables on {placed}; {setup.plan.precision} "
               f"(convolutions compute in {computes}), jit_compile={jit}")
    worker.add(f"images/s (batch {batch_size}, median of {steps} steps after {warmup})", "ok",
               f"{images_per_s:,.1f}", seconds=time.perf_counter() - started)
    worker.add("vs NVIDIA's 2,375 img/s (A100, TF AMP+XLA)", "ok",
               f"{images_per_s / NVIDIA_A100_IMAGES_PER_S:.2f}x" + (
                   " (CPU smoke: not comparable)" if worker.section.smoke else ""))


def experiment_run(worker: Worker) -> None:
    """The experiment file through ``kerasdl.run`` on the embedded data, nothing published."""
    import kerasdl

    with tempfile.TemporaryDirectory() as scratch:
        experiment = kerasdl.load_experiment(
            EXPERIMENT_FILES[worker.section.key], smoke=worker.section.smoke, overrides={
                "device.policy": "cpu" if worker.section.smoke else "gpu",
                "data.source": "embedded", "output.runs_dir": scratch, "output.publish": "never",
                "output.saved_models_dir": str(Path(scratch) / "saved_models")})
        result = kerasdl.run(experiment, log=lambda line: None)
        devices = json.loads((result.run_dir / "manifest.json").read_text())["devices"]
    worker.add("test accuracy", "ok", f"{result.test_metrics.get('accuracy', float('nan')):.4f} "
               f"after {result.epochs_run} epochs ({result.data_source} data)",
               seconds=result.wall_time_s)
    worker.add("placement, precision", "ok",
               f"{', '.join(devices['devices'])}; {devices['precision']}")


WORKERS = {"environment": environment, "zoo": zoo, "resnet50": resnet50,
           "lenet5": experiment_run, "mnist_fast": experiment_run}


def run_worker(args: argparse.Namespace) -> None:
    section = next(s for s in (ENVIRONMENT, *GPU_SECTIONS, *SMOKE_SECTIONS)
                   if s.key == args.worker and s.on == args.on)
    worker = Worker(section, Path(args.rows), args.deadline, args.zoo_xla)
    try:
        WORKERS[section.key](worker)
    except Exception as error:
        worker.add(section.key, f"error: {one_line(error)}")
        traceback.print_exc()           # to the driver, which keeps it in the JSON's logs
        sys.exit(1)


# === The driver: sections in fresh processes, under one budget ===

class Proof:
    """Runs sections one after another within ``budget_s`` and collects their rows."""

    def __init__(self, budget_s: float, zoo_xla: bool, scratch: Path):
        self.budget_s, self.zoo_xla, self.scratch = budget_s, zoo_xla, scratch
        self.started = time.time()
        self.rows: list[dict] = []
        self.logs: dict[str, str] = {}     # a failed section's last stderr, for the JSON

    def add(self, section: Section, item: str, status: str, result: str = "",
            seconds: float | None = None) -> None:
        self.rows.append({"section": section.title, "item": item, "status": status,
                          "result": result, "seconds": seconds})

    def run(self, section: Section) -> list[dict]:
        """Run ``section`` in a fresh process, or skip it when the budget is spent; its rows."""
        left = self.budget_s - (time.time() - self.started)
        if left < MIN_SECTION_S:
            self.add(section, section.key, f"skipped: --budget-s {self.budget_s:g} spent")
            return self.rows[-1:]
        limit = min(section.budget_s, left)
        rows_path = self.scratch / f"{section.key}-{section.on}.jsonl"
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", section.key,
                   "--on", section.on, "--rows", str(rows_path),
                   "--deadline", str(time.time() + limit)] + (["--zoo-xla"] if self.zoo_xla else [])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        print(f"-- {section.title} (limit {limit:.0f} s)", flush=True)
        started, count = time.perf_counter(), len(self.rows)
        try:
            finished = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                                      timeout=limit)
            failure, stderr = f"error: its process exited {finished.returncode}", finished.stderr
        except subprocess.TimeoutExpired as stopped:
            failure = f"error: stopped at the section's {limit:.0f} s limit"
            stderr, finished = stopped.stderr or "", None
        written = rows_path.read_text().splitlines() if rows_path.exists() else []
        rows = [{"section": section.title, **json.loads(line)} for line in written]
        self.rows += rows
        if finished is None or finished.returncode != 0:
            self.logs[section.title] = (stderr.decode(errors="replace")
                                        if isinstance(stderr, bytes) else stderr)[-3000:]
            if not any(row["status"].startswith("error") for row in rows):
                self.add(section, section.key, failure,
                         seconds=round(time.perf_counter() - started, 1))
        return self.rows[count:]

    def skip(self, section: Section, reason: str) -> None:
        self.add(section, section.key, reason)

    def failed(self) -> bool:
        return any(row["status"].startswith("error") for row in self.rows)

    def markdown(self) -> str:
        lines = ["| section | item | status | result | s |", "|---|---|---|---|---|"]
        for row in self.rows:
            seconds = "" if row.get("seconds") is None else f"{row['seconds']:.1f}"
            cells = (row["section"], row["item"], row["status"], row["result"], seconds)
            lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
        return "\n".join(lines)


def gpu_count(environment_rows: list[dict]) -> int | None:
    """The GPUs the environment section saw; None where it did not say."""
    return next((row["gpus"] for row in environment_rows if "gpus" in row), None)


def gpu_sections(proof: Proof, gpus: int | None) -> None:
    """Sections 2-5 on the GPU, or each skipped with its reason."""
    for section in GPU_SECTIONS:
        experiment_file = EXPERIMENT_FILES.get(section.key)
        missing = experiment_file is not None and not experiment_file.exists()
        missing_reason = f"experiments/{experiment_file.name} not found" if missing else ""
        if gpus is None:
            proof.skip(section, "skipped: GPUs unknown (the environment section did not report)")
        elif not gpus:
            proof.skip(section, NO_GPU + (f" ({missing_reason} either)" if missing else ""))
        elif missing:
            proof.skip(section, f"skipped: {missing_reason}")
        else:
            proof.run(section)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=470,
                        help="cap on the whole run (default 470 s, inside 8 minutes)")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    parser.add_argument("--no-cpu-smoke", action="store_true",
                        help="where no GPU is visible, skip the CPU smoke too")
    parser.add_argument("--quick", action="store_true",
                        help="CPU smoke of sections 2 and 3 only (the LeNet-5 smoke run left out)")
    parser.add_argument("--zoo-xla", action="store_true",
                        help="zoo steps with jit_compile='auto' (XLA on a GPU) instead of off")
    for hidden in ("--worker", "--on", "--rows"):    # a section's process (set by the driver)
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.worker:
        return run_worker(args)
    with tempfile.TemporaryDirectory() as scratch:
        proof = Proof(args.budget_s, args.zoo_xla, Path(scratch))
        gpus = gpu_count(proof.run(ENVIRONMENT))
        gpu_sections(proof, gpus)
        if not gpus and not args.no_cpu_smoke:
            for section in SMOKE_SECTIONS:
                if args.quick and section.key == "lenet5":
                    proof.skip(section, "skipped: --quick")
                else:
                    proof.run(section)
    elapsed = time.time() - proof.started
    print(f"\n{proof.markdown()}\n\n{elapsed:.0f} s in all (budget {args.budget_s:g} s); "
          f"{'a section failed' if proof.failed() else 'every section that ran passed'}")
    if args.json:
        args.json.write_text(json.dumps({"rows": proof.rows, "elapsed_s": round(elapsed, 1),
                                         "budget_s": args.budget_s, "gpus": gpus,
                                         "passed": not proof.failed(), "logs": proof.logs}, indent=1) + "\n")
    sys.exit(1 if proof.failed() else 0)


if __name__ == "__main__":
    main()
