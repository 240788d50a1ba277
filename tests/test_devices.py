"""Device policies resolve as a pure function of the visible GPUs."""
import pytest

from kerasdl.devices import DeviceError, DevicePlan, plan_devices


@pytest.mark.parametrize("policy, gpus, plan", [
    ("auto", [], DevicePlan("one_device", ("/cpu:0",))),
    ("auto", ["/gpu:0"], DevicePlan("one_device", ("/gpu:0",))),
    ("auto", ["/gpu:0", "/gpu:1"], DevicePlan("mirrored", ("/gpu:0", "/gpu:1"))),
    ("cpu", ["/gpu:0"], DevicePlan("one_device", ("/cpu:0",))),
    ("gpu", ["/gpu:0", "/gpu:1"], DevicePlan("one_device", ("/gpu:0",))),
    ("gpu:1", ["/gpu:0", "/gpu:1"], DevicePlan("one_device", ("/gpu:1",))),
])
def test_policies(policy, gpus, plan):
    assert plan_devices(policy, gpus) == plan


@pytest.mark.parametrize("policy, gpus, message", [
    ("gpu", [], "device.policy='gpu' asks for GPU 0, but this machine has no GPU"),
    ("gpu:2", ["/gpu:0"], "asks for GPU 2, but this machine has 1 GPU(s): /gpu:0"),
])
def test_missing_gpu_is_an_error_not_a_silent_cpu_run(policy, gpus, message):
    with pytest.raises(DeviceError) as error:
        plan_devices(policy, gpus)
    assert message in str(error.value)
