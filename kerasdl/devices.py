"""Device policies: which devices a run uses and in which precision, then a tf.distribute strategy.

The resolution is pure (device names and GPU capabilities in, a :class:`DevicePlan` out), so every
case, GPU ones included, is unit-tested on a CPU-only machine. :func:`setup_devices` applies it.

Batch size semantics: ``data.batch_size`` is the GLOBAL batch, split over the replicas; the
learning rate is scaled with the number of replicas only if ``trainer.scale_learning_rate``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from kerasdl.errors import ConfigError, KerasdlError


class DeviceError(KerasdlError):
    """The device policy asks for hardware this machine does not have."""


@dataclass(frozen=True)
class DevicePlan:
    """What a policy resolves to: a strategy kind, its devices, and the precision."""

    strategy: str                 # "one_device", "mirrored" or "multiworker"
    devices: tuple[str, ...]
    precision: str = "float32"    # a Keras dtype policy name
    note: str = ""

    def describe(self) -> str:
        where = "all workers of TF_CONFIG" if self.strategy == "multiworker" else ", ".join(self.devices)
        note = f"; {self.note}" if self.note else ""
        return f"{self.strategy} on {where}, precision {self.precision}{note}"


def plan_devices(policy: str, gpus: Sequence[str], cpus: Sequence[str] = ("/cpu:0",),
                 devices: Sequence[str] = (), precision: str = "auto",
                 gpu_capabilities: Sequence[tuple[int, int]] = ()) -> DevicePlan:
    """Resolve a device policy against what the machine has.

    Args:
        policy: one of :data:`kerasdl.config.DEVICE_POLICIES` (auto, cpu, gpu, gpu:N, ...),
            which says what each uses.
        gpus, cpus: visible device names, e.g. ["/gpu:0", "/gpu:1"], ["/cpu:0"].
        devices: explicit devices for ``mirrored``.
        precision: auto, float32, mixed_float16 or mixed_bfloat16.
        gpu_capabilities: compute capability (major, minor) of each GPU, for ``precision=auto``.

    Asking for a GPU that is not there is a DeviceError, never a silent CPU run.
    """
    note = ""
    if policy == "cpu" or (policy in ("auto", "prefer:gpu") and not gpus):
        plan = ("one_device", (cpus[0],))
        if policy == "prefer:gpu":
            note = "no GPU found, preferred GPU fell back to the CPU"
    elif policy in ("auto", "prefer:gpu"):
        plan = ("mirrored" if len(gpus) > 1 and policy == "auto" else "one_device",
                tuple(gpus) if policy == "auto" else (gpus[0],))
    elif policy == "mirrored":
        chosen = tuple(devices) or tuple(gpus) or tuple(cpus)
        unknown = [d for d in chosen if d not in (*gpus, *cpus)]
        if unknown:
            raise DeviceError(f"device.devices names {', '.join(unknown)}, which this machine does "
                              f"not have; it has {', '.join((*gpus, *cpus))}")
        plan = ("mirrored", chosen)
    elif policy == "multiworker":
        plan = ("multiworker", tuple(gpus) or (cpus[0],))
    else:
        index = 0 if policy == "gpu" else int(policy.split(":")[1])
        if index >= len(gpus):
            have = f"{len(gpus)} GPU(s): {', '.join(gpus)}" if gpus else "no GPU"
            raise DeviceError(f"device.policy={policy!r} asks for GPU {index}, but this machine "
                              f"has {have}; use device.policy='auto', 'prefer:gpu' or 'cpu'")
        plan = ("one_device", (gpus[index],))
    on_gpu = any(d.startswith("/gpu") for d in plan[1])
    return DevicePlan(plan[0], plan[1], resolve_precision(precision, on_gpu, gpu_capabilities), note)


def resolve_precision(requested: str, on_gpu: bool,
                      gpu_capabilities: Sequence[tuple[int, int]] = ()) -> str:
    """The precision policy to use: ``requested``, or what "auto" means on these devices.

    auto: bfloat16 mixed precision on GPUs of compute capability >= 8.0 (Ampere and later),
    float16 with loss scaling on >= 7.0 (Volta, Turing), float32 elsewhere: CPUs included, those
    with AMX-BF16/AVX512-BF16 units too, where measurement found no gain in the experiments' fit
    time nor accuracy (bench/README.md, "bfloat16 on this CPU"); ask for mixed_bfloat16 there.
    """
    if requested != "auto":
        return requested
    if not on_gpu or not gpu_capabilities:
        return "float32"
    lowest = min(gpu_capabilities)
    if lowest >= (8, 0):
        return "mixed_bfloat16"
    return "mixed_float16" if lowest >= (7, 0) else "float32"


def resolve_jit(requested, plan: DevicePlan) -> bool:
    """jit_compile="auto": XLA on GPUs; not on CPUs, where it measured slower (bench/README.md)."""
    if requested != "auto":
        return bool(requested)
    return any(d.startswith("/gpu") for d in plan.devices)


def resolve_steps_per_execution(requested, plan: DevicePlan) -> int:
    """The steps per execution to use: ``requested``, or what "auto" means for ``plan``.

    steps_per_execution="auto": 32 on one device (one tf.function call runs 32 steps, so small
    models stop paying Python per step); 1 under mirrored/multi-worker strategies, where Keras 3
    (3.15, TF 2.21) fails to run several steps per call ("You must feed a value for placeholder").
    """
    if requested != "auto":
        return requested
    return 32 if plan.strategy == "one_device" else 1


# === Multi-worker clusters ===

def cluster_from_workers(workers: Sequence[str], index: int) -> dict[str, Any]:
    """The TF_CONFIG of worker ``index`` in a cluster of ``host:port`` workers."""
    if not 0 <= index < len(workers):
        raise ConfigError(f"--worker-index {index} is outside the {len(workers)} workers given "
                          "(indices start at 0)")
    for address in workers:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"worker address {address!r} must be host:port (e.g. 10.0.0.2:2222)")
    return {"cluster": {"worker": list(workers)}, "task": {"type": "worker", "index": index}}


def is_chief(tf_config: Optional[Mapping[str, Any]]) -> bool:
    """True for the task that writes the final artifacts: the chief, else worker 0."""
    if not tf_config:
        return True
    task = tf_config.get("task", {})
    if task.get("type") == "chief":
        return True
    return (task.get("type") == "worker" and task.get("index", 0) == 0
            and "chief" not in tf_config.get("cluster", {}))


def tf_config_from_env() -> Optional[dict[str, Any]]:
    """The ``TF_CONFIG`` environment variable parsed from JSON, or None where it is not set."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({error}); see the README section "
                          "'Running on GPUs and clusters'") from None


# === Applying a plan ===

@dataclass
class DeviceSetup:
    """The strategy in use and what the manifest records about it.

    One device needs no tf.distribute strategy: ``strategy`` is then TensorFlow's default one, and
    :meth:`scope` pins variables and computation with ``tf.device``. (A OneDeviceStrategy would
    run every step through the distributed code path of Keras: LeNet-5 epochs took 1.5-1.8x as
    long on a CPU, ``bench/strategy_overhead.py``.)
    """

    plan: DevicePlan
    strategy: Any
    chief: bool
    replicas: int

    def scope(self):
        """The context to build, compile, fit, evaluate and predict in.

        The strategy's scope, or ``tf.device`` of the one device.
        """
        import tensorflow as tf

        if self.plan.strategy == "one_device":
            return tf.device(self.plan.devices[0])
        return self.strategy.scope()

    def manifest(self) -> dict[str, Any]:
        import tensorflow as tf

        return {"strategy": self.plan.strategy, "devices": list(self.plan.devices),
                # device.threads as applied (0: TensorFlow's default, all cores)
                "threads": tf.config.threading.get_intra_op_parallelism_threads(),
                "precision": self.plan.precision, "replicas": self.replicas, "chief": self.chief,
                "note": self.plan.note, "tf_config": tf_config_from_env()}


def setup_devices(cfg) -> DeviceSetup:
    """Configure TensorFlow for the ``device`` config section and build its strategy.

    Must run before TensorFlow creates any tensor: logical CPU devices, GPU memory growth or caps,
    and the multi-worker collective setup can only be set then.
    """
    import keras
    import tensorflow as tf

    physical_gpus = tf.config.list_physical_devices("GPU")
    try:
        if cfg.threads:          # e.g. sweep trials side by side, one core each
            tf.config.threading.set_intra_op_parallelism_threads(cfg.threads)
            tf.config.threading.set_inter_op_parallelism_threads(cfg.threads)
        if cfg.logical_cpus > 1:
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * cfg.logical_cpus)
        for gpu in physical_gpus:
            if cfg.memory_limit_mb:
                tf.config.set_logical_device_configuration(
                    gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=cfg.memory_limit_mb)])
            else:                          # take memory as needed, not the whole card
                tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError as error:          # TensorFlow was initialised before this call
        raise DeviceError(f"device settings must be applied before TensorFlow starts: {error}; "
                          "call kerasdl.run in a fresh process") from None
    capabilities = []
    for gpu in physical_gpus:
        details = tf.config.experimental.get_device_details(gpu)
        if details.get("compute_capability"):
            capabilities.append(tuple(details["compute_capability"]))
    gpus = [f"/gpu:{i}" for i in range(len(physical_gpus))]
    cpus = [f"/cpu:{i}" for i in range(max(1, cfg.logical_cpus))]
    tf_config = tf_config_from_env()
    if cfg.policy == "multiworker" and not tf_config:
        raise ConfigError("device.policy='multiworker' needs the cluster: set TF_CONFIG, or pass "
                          "--workers host:port,host:port --worker-index N")
    plan = plan_devices(cfg.policy, gpus, cpus, cfg.devices, cfg.precision, capabilities)
    keras.mixed_precision.set_dtype_policy(plan.precision)
    if plan.strategy == "multiworker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif plan.strategy == "mirrored":
        strategy = tf.distribute.MirroredStrategy(list(plan.devices))
    else:
        strategy = tf.distribute.get_strategy()       # the default strategy; see DeviceSetup
    return DeviceSetup(plan, strategy, is_chief(tf_config), strategy.num_replicas_in_sync)
