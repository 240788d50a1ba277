"""The CLI: fast answers without TensorFlow, one-line errors, exit codes."""
from __future__ import annotations

import json

import pytest

from conftest import REPO, run_cli, run_python
from kerasdl.quiet import NOISE

NO_TF = """
import sys
from kerasdl.cli import main
try:
    main({argv!r})
except SystemExit as exit:
    print("EXIT", exit.code)
print("TF_IMPORTED", "tensorflow" in sys.modules, "keras" in sys.modules)
"""


def _run_without_tf(argv, cwd=REPO):
    result = run_python(NO_TF.format(argv=argv), cwd=cwd)
    assert "TF_IMPORTED False False" in result.stdout, result.stdout + result.stderr
    return result


def test_help_list_show_do_not_import_tensorflow():
    assert "Usage: kerasdl" in _run_without_tf(["--help"]).stdout
    listing = _run_without_tf(["list"]).stdout
    assert "lenet5" in listing and "mlp" in listing and "experiments/lenet5.py" in listing
    shown = _run_without_tf(["show", "experiments/lenet5.py", "--set", "trainer.epochs=3"]).stdout
    config = json.loads(shown[: shown.index("TF_IMPORTED")])
    assert config["trainer"]["epochs"] == 3 and config["model"]["name"] == "lenet5"


def test_config_typos_fail_before_tensorflow_with_one_line(tmp_path):
    result = _run_without_tf(["run", "experiments/lenet5.py", "--set", "trainer.epoch=3"])
    assert "EXIT 2" in result.stdout
    assert result.stderr.strip() == ("error: unknown config key 'trainer.epoch' (did you mean "
                                     "'epochs'?); valid keys of 'trainer': " + result.stderr.split(
                                         "valid keys of 'trainer': ")[1].strip())
    bad_file = tmp_path / "typo.py"
    bad_file.write_text("from kerasdl.config import Experiment, Trainer\n"
                        "def get_config():\n"
                        "    return Experiment(name='t', trainer=Trainer(lerning_rate=0.1))\n")
    result = _run_without_tf(["run", str(bad_file)])
    assert "EXIT 2" in result.stdout
    assert "unknown config key 'trainer.lerning_rate' (did you mean 'learning_rate'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_experiment_file_errors(tmp_path):
    missing = run_cli("run", "experiments/lenet55.py", cwd=REPO)
    assert missing.returncode == 2
    assert "experiment file not found: experiments/lenet55.py (did you mean 'lenet5'?)" in missing.stderr
    raising = tmp_path / "raises.py"
    raising.write_text("import json\n\ndef get_config():\n    return json.loads('{')\n")
    result = run_cli("run", str(raising), cwd=tmp_path)
    assert result.returncode == 2
    assert f"experiment file {raising} raised JSONDecodeError" in result.stderr
    assert "line 4, in get_config" in result.stderr          # points at the user's file


def test_console_script_entry_point_is_declared():
    assert "kerasdl = kerasdl.cli:main" in (REPO / "setup.cfg").read_text()
    assert (REPO / "kerasdl" / "__main__.py").exists()


def test_a_default_run_prints_kerasdl_and_keras_only_and_debug_shows_tensorflow(tmp_path):
    """TensorFlow's C++ start-up lines (oneDNN, CUDA drivers, cuInit) and TFDS's absl warnings
    are filtered from a run's output; --debug lets them through (kerasdl.quiet)."""
    args = ("run", str(REPO / "experiments" / "lenet5.py"), "--smoke")
    quiet = run_cli(*args, "--workdir", "runs", cwd=tmp_path, as_a_user=True)
    assert quiet.returncode == 0, quiet.stderr
    assert "[kerasdl] done in" in quiet.stdout
    assert quiet.stderr == "", quiet.stderr             # nothing at all: no warnings, no noise
    assert not NOISE.search(quiet.stdout)
    debug = run_cli("--debug", *args, "--workdir", "runs-debug", cwd=tmp_path, as_a_user=True)
    assert debug.returncode == 0, debug.stderr
    # TensorFlow writes this line on every start, before Python can configure its logging
    assert "All log messages before absl::InitializeLog() is called" in debug.stderr


@pytest.mark.parametrize("args, message", [
    (("run", "experiments/lenet5.py", "--smoke", "--device", "gpu"), "no GPU"),
    (("run", "experiments/lenet5.py", "--smoke", "--set", "data.name=mnistt"), "mnistt"),
    (("run", "experiments/transfer_finetune.py"),         # (--smoke stands a backbone in)
     "run that experiment first: python -m kerasdl run experiments/transfer_pretrain.py"),
], ids=["no-gpu", "unknown-dataset", "missing-backbone"])
def test_a_run_that_fails_before_training_leaves_no_run_directory(tmp_path, args, message):
    """Nothing for --resume latest or compare to trip over: the run directory is made only once
    the data, model and devices are ready (kerasdl.runner.run)."""
    import tensorflow as tf

    if args[-1] == "gpu" and tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU, so --device gpu does not fail")
    (tmp_path / "experiments").symlink_to(REPO / "experiments")
    result = run_cli(*args, "--workdir", "runs", cwd=tmp_path)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert not (tmp_path / "saved_models").exists() or not any((tmp_path / "saved_models").iterdir())


def test_export_formats_and_device_policies_are_read_from_their_tables():
    """``export --format`` offers kerasdl.deploy.EXPORT_FORMATS, and ``run --device`` and
    ``bench --device`` name every policy of kerasdl.config.DEVICE_POLICIES (no list of their own)."""
    from click.testing import CliRunner

    from kerasdl.cli import cli
    from kerasdl.config import DEVICE_POLICIES
    from kerasdl.deploy import EXPORT_FORMATS

    export_help = CliRunner().invoke(cli, ["export", "--help"]).output
    assert f"[{'|'.join(EXPORT_FORMATS)}]" in export_help
    for command in ("run", "bench"):
        device_help = " ".join(CliRunner().invoke(cli, [command, "--help"]).output.split())
        assert all(f"{name}," in device_help or f"{name} " in device_help for name in DEVICE_POLICIES)
