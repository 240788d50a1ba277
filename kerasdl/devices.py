"""Device policies: which devices a run uses, resolved as a pure function, then a tf.distribute strategy."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from kerasdl.errors import KerasdlError


class DeviceError(KerasdlError):
    """The device policy asks for hardware this machine does not have."""


@dataclass(frozen=True)
class DevicePlan:
    """What a policy resolves to: a strategy kind and its devices."""

    strategy: str                 # "one_device" or "mirrored"
    devices: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.strategy} on {', '.join(self.devices)}"


def plan_devices(policy: str, gpus: Sequence[str]) -> DevicePlan:
    """Resolve ``policy`` against the visible GPU names (``["/gpu:0", ...]``).

    auto: all GPUs (mirrored if several), else the CPU; cpu: the CPU; gpu: the first GPU;
    gpu:N: GPU N. Asking for a GPU that is not there is an error, never a silent CPU run.
    """
    if policy == "cpu" or (policy == "auto" and not gpus):
        return DevicePlan("one_device", ("/cpu:0",))
    if policy == "auto":
        return DevicePlan("mirrored" if len(gpus) > 1 else "one_device", tuple(gpus))
    index = 0 if policy == "gpu" else int(policy.split(":")[1])
    if index >= len(gpus):
        have = f"{len(gpus)} GPU(s): {', '.join(gpus)}" if gpus else "no GPU"
        raise DeviceError(f"device.policy={policy!r} asks for GPU {index}, but this machine has "
                          f"{have}; use device.policy='auto' or 'cpu'")
    return DevicePlan("one_device", (gpus[index],))


def make_strategy(plan: DevicePlan):
    import tensorflow as tf

    if plan.strategy == "mirrored":
        return tf.distribute.MirroredStrategy(list(plan.devices))
    return tf.distribute.OneDeviceStrategy(plan.devices[0])


def visible_gpus() -> list[str]:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:                       # take memory as needed, not the whole card
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:               # already initialised
            pass
    return [f"/gpu:{i}" for i in range(len(gpus))]
