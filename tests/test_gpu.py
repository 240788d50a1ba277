"""GPU paths, run for real where a GPU is visible (skipped elsewhere): one GPU, mixed precision, XLA."""
from __future__ import annotations

import json

import pytest

from conftest import REPO, run_python

pytestmark = pytest.mark.gpu

PROBE = "import tensorflow as tf; print('GPUS', len(tf.config.list_physical_devices('GPU')))"


@pytest.fixture(scope="module")
def gpu_count(tmp_path_factory):
    result = run_python(PROBE, cwd=tmp_path_factory.mktemp("probe"))
    count = int(result.stdout.split("GPUS", 1)[1].split()[0]) if "GPUS" in result.stdout else 0
    if not count:
        pytest.skip("no GPU visible")
    return count


@pytest.mark.parametrize("precision, jit", [("float32", False), ("auto", True),
                                            ("mixed_float16", True)])
def test_one_gpu(tmp_path, gpu_count, precision, jit):
    code = (
        "import json, kerasdl\n"
        "e = kerasdl.load_experiment('experiments/lenet5.py', smoke=True, overrides={\n"
        f"  'device.policy': 'gpu', 'device.precision': {precision!r}, 'trainer.jit_compile': {jit},\n"
        f"  'data.source': 'embedded', 'output.runs_dir': {str(tmp_path)!r}}})\n"
        "r = kerasdl.run(e, log=lambda line: None)\n"
        "m = json.loads((r.run_dir / 'manifest.json').read_text())\n"
        "print('RESULT', json.dumps({'devices': m['devices'], 'dtype': r.model.layers[-1].compute_dtype,\n"
        "                            'variable_device': r.model.weights[0].value.device}))\n")
    result = run_python(code, cwd=REPO)
    assert "RESULT" in result.stdout, result.stderr[-3000:]
    outcome = json.loads(result.stdout.split("RESULT", 1)[1])
    assert outcome["devices"]["devices"] == ["/gpu:0"] and outcome["dtype"] == "float32"
    assert outcome["variable_device"].endswith("GPU:0")
    if precision != "auto":
        assert outcome["devices"]["precision"] == precision


def test_cpu_policy_keeps_the_model_on_the_cpu_beside_a_gpu(tmp_path, gpu_count):
    code = (
        "import kerasdl\n"
        "e = kerasdl.load_experiment('experiments/lenet5.py', smoke=True, overrides={\n"
        f"  'device.policy': 'cpu', 'data.source': 'embedded', 'output.runs_dir': {str(tmp_path)!r}}})\n"
        "r = kerasdl.run(e, log=lambda line: None)\n"
        "print('RESULT', r.model.weights[0].value.device)\n")
    result = run_python(code, cwd=REPO)
    assert "RESULT" in result.stdout, result.stderr[-3000:]
    assert result.stdout.split("RESULT", 1)[1].strip().endswith("CPU:0")
