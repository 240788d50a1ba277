"""The CLI: fast answers without TensorFlow, one-line errors, exit codes."""
from __future__ import annotations

import json

from conftest import REPO, run_cli, run_python

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
