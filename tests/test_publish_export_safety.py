"""Publishing, saving and exporting that cannot lose or fake work (issue 24, part 3): no
non-finite weights saved; a published model and its record change together at every kill -9;
the user's own data never published under a stock name; exports whole, in their own runtimes,
each model to its own default place; path errors before TensorFlow is imported."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

EXPERIMENT = REPO / "experiments" / "mlp_digits.py"


def _cli(*args: str, cwd: Path, env: dict | None = None, first_on_path: Path | None = None,
         input: str | None = None) -> subprocess.CompletedProcess:
    """``python -m kerasdl ARGS`` with extra environment (KERASDL_KILL_AT) or a package folder put
    before the project on PYTHONPATH."""
    path = os.pathsep.join([*([str(first_on_path)] if first_on_path else []), str(REPO)])
    return subprocess.run([sys.executable, "-m", "kerasdl", *args], cwd=cwd, input=input,
                          env={**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2",
                               **(env or {})}, capture_output=True, text=True, timeout=300)


# --- 1. no non-finite weights are saved --------------------------------------------------------

def test_saving_refuses_a_model_with_a_nan_kernel_or_an_inf_normalization(tmp_path):
    """save_model_atomically (model.keras, checkpoints/best.keras) refuses a model whose kernel is
    NaN, or whose Normalization variance is inf, naming the weight; nothing is written."""
    import keras

    from kerasdl.errors import TrainingDiverged
    from kerasdl.files import save_model_atomically

    inputs = keras.Input(shape=(3,))
    normalize = keras.layers.Normalization(mean=[0.0, 1.0, 2.0], variance=[1.0, np.inf, 1.0],
                                           name="normalize")
    dense = keras.layers.Dense(2, name="dense")
    model = keras.Model(inputs, dense(normalize(inputs)))
    with pytest.raises(TrainingDiverged, match="the weight 'normalize/variance' holds non-finite"):
        save_model_atomically(model, tmp_path / "model.keras")
    plain = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2, name="dense")])
    save_model_atomically(plain, tmp_path / "fine.keras")                 # finite: saved
    plain.layers[0].kernel.assign(np.full((3, 2), np.nan, "float32"))
    with pytest.raises(TrainingDiverged) as raised:
        save_model_atomically(plain, tmp_path / "model.keras")
    assert "dense/kernel' holds non-finite values (NaN or inf)" in str(raised.value)
    assert "no NaN weights were saved and nothing was published" in str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fine.keras"]
    assert TrainingDiverged.exit_code == 3


@pytest.mark.slow        # 20-30 s: ResNet-20 on CPU
def test_a_run_whose_weights_overflow_with_a_finite_loss_saves_and_publishes_nothing(tmp_path):
    """Images of an npz whose pixels are near 1e30 (finite float32, so the data layer takes them):
    ResNet-20's first BatchNormalization sees a batch variance that overflows float32, so its
    moving variance becomes inf, while every loss stays finite (the normalized values are 0) and
    the NaN guard on the loss never trips. The first checkpoint is refused: exit 3, one line naming
    the weight, no .keras file anywhere, nothing in saved_models/. (A CSV column of such values
    is refused earlier, by the data layer.)"""
    rng = np.random.default_rng(0)
    x, y = (rng.random((64, 32, 32, 3)) * 1e30).astype("float32"), rng.integers(0, 2, 64)
    np.savez(tmp_path / "huge.npz", x_train=x[:48], y_train=y[:48], x_test=x[48:], y_test=y[48:])
    result = _cli("run", str(REPO / "experiments" / "resnet.py"), "--smoke", "--set",
                  "data.name=npz:huge.npz", "--set", "trainer.epochs=1", "--set",
                  "trainer.verbose=0", "--workdir", "runs", "--set", "output.publish=always",
                  "--set", "output.saved_models_dir=saved", cwd=tmp_path)
    assert result.returncode == 3, result.stderr[-3000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: refusing to save ") and "checkpoints/best.keras" in line
    assert "the weight 'conv1_bn/moving_variance' holds non-finite values (NaN or inf)" in line
    assert "nothing was published" in line and "training stopped" not in line   # loss finite
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert not list(run_dir.rglob("*.keras"))
    assert not (tmp_path / "saved").exists() or not any((tmp_path / "saved").iterdir())


# --- 2. a published model and its record change together -------------------------------------

PUBLISHER = """
import sys
from pathlib import Path
from kerasdl.config import Experiment, Output
from kerasdl.publishing import publish_model
saved, run, policy, loss = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
experiment = Experiment(name="exp", output=Output(saved_models_dir=str(saved), publish=policy))
model = saved.parent / f"{run}.model"
model.write_text(run)              # the model file says which run made it
result = publish_model(model, experiment, {"loss": loss, "accuracy": 1 - loss},
                       {"name": "digits"}, saved.parent / run)
print(result.published, result.reason)
"""


def _publish(tmp_path: Path, run: str, policy: str = "always", loss: float = 0.5,
             kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), **({"KERASDL_KILL_AT": kill_at} if kill_at else {})}
    return subprocess.run([sys.executable, "-c", PUBLISHER, str(tmp_path / "saved"), run, policy,
                           str(loss)], env=env, capture_output=True, text=True, timeout=60)


def _pair(saved: Path, kind: str = "") -> str | None:
    """The run whose model is published as exp<kind>.keras, checked against its record's run; None
    where none is published."""
    model, record = saved / f"exp{kind}.keras", saved / f"exp{kind}.json"
    if not model.exists():
        return None
    run = model.read_text()
    if record.exists() or run != "legacy-previous":        # a legacy previous had no record
        assert Path(json.loads(record.read_text())["run_dir"]).name == run, (kind, run)
    return run


def _legacy(tmp_path: Path) -> None:
    """saved_models/ as kerasdl left it before issue 24: plain files, no versions."""
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "exp.keras").write_text("run-a")
    (saved / "exp.json").write_text(json.dumps({"run_dir": str(tmp_path / "run-a"),
                                                "test_metrics": {"loss": 0.5}}))
    (saved / "exp.previous.keras").write_text("legacy-previous")


@pytest.mark.parametrize("start, point", [
    ("legacy", "publish-legacy-adopted"), ("legacy", "publish-record-linked"),
    ("legacy", "publish-version-written"), ("legacy", "publish-pointer-made"),
    ("legacy", "publish-switched"),
    ("published", "publish-version-written"), ("published", "publish-pointer-made"),
    ("published", "publish-switched"),
    ("empty", "publish-record-linked"), ("empty", "publish-pointer-made"),
    ("empty", "publish-switched")])
def test_a_publish_killed_at_any_point_leaves_a_matching_pair(tmp_path, start, point):
    """kill -9 between any two writes of a publish (output.publish='always'): the published model
    and its record are the old pair or the new one, never a mix; the publish done again (what
    --resume does) ends with the new pair published and the old pair as exp.previous.*, whatever
    the layout before (plain files of an older kerasdl, this layout, nothing)."""
    saved = tmp_path / "saved"
    old = {"legacy": "run-a", "published": "run-a", "empty": None}[start]
    if start == "legacy":
        _legacy(tmp_path)
    elif start == "published":
        assert _publish(tmp_path, "run-a").returncode == 0
    killed = _publish(tmp_path, "run-b", kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _pair(saved) in (old, "run-b")
    if _pair(saved) == old and start == "legacy":
        assert _pair(saved, ".previous") == "legacy-previous"
    if _pair(saved) == "run-b":
        assert _pair(saved, ".previous") == old
    again = _publish(tmp_path, "run-b")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("True")
    assert _pair(saved) == "run-b" and _pair(saved, ".previous") == old
    assert not list(saved.glob(".*.tmp"))
    assert len(list((saved / "exp.versions").iterdir())) == (2 if old else 1)   # old ones gone


def test_a_worse_run_leaves_the_published_pair_and_a_reader_sees_one_publish(tmp_path):
    """Under if_better a worse run changes nothing; `publish` keeps the previous pair too; and the
    record that kerasdl predict reads is the one beside the model file the link points to."""
    from kerasdl.deploy import locate_trained

    saved = tmp_path / "saved"
    assert _publish(tmp_path, "run-a", "if_better", 0.5).returncode == 0
    worse = _publish(tmp_path, "run-w", "if_better", 0.9)
    assert worse.stdout.startswith("False") and "as good or better" in worse.stdout
    better = _publish(tmp_path, "run-b", "if_better", 0.4)
    assert better.stdout.startswith("True") and "previous model kept as exp.previous" in better.stdout
    assert (_pair(saved), _pair(saved, ".previous")) == ("run-b", "run-a")
    record = json.loads((saved / "exp.json").read_text())
    record["config"] = {"name": "exp"}
    (saved / "exp.current" / "exp.json").write_text(json.dumps(record))
    found = locate_trained(saved / "exp.keras")
    assert found.model_path == saved / "exp.keras" and found.model_file.read_text() == "run-b"
    assert found.record["run_dir"].endswith("run-b")
    assert locate_trained(saved / "exp.keras").home == saved


def test_a_model_the_user_linked_in_is_kept_as_the_previous_one(tmp_path):
    """saved/exp.keras, a link of the user's to their own file: output.publish='always' keeps
    that model as exp.previous.keras and leaves their file as it was."""
    (tmp_path / "saved").mkdir()
    (tmp_path / "mine.keras").write_text("legacy-previous")
    os.symlink(tmp_path / "mine.keras", tmp_path / "saved" / "exp.keras")
    assert _publish(tmp_path, "run-b").returncode == 0
    assert _pair(tmp_path / "saved") == "run-b"
    assert _pair(tmp_path / "saved", ".previous") == "legacy-previous"
    assert (tmp_path / "mine.keras").read_text() == "legacy-previous"


def _train(tmp_path: Path, *settings: str, env: dict | None = None,
           experiment: Path = EXPERIMENT) -> subprocess.CompletedProcess:
    return _cli("run", str(experiment), "--set", "data.source=embedded", "--set",
                "trainer.epochs=2", "--set", "trainer.verbose=0", "--workdir",
                str(tmp_path / "runs"), "--set", f"output.saved_models_dir={tmp_path / 'saved'}",
                "--set", "output.publish=always", *settings, cwd=tmp_path, env=env)


@pytest.mark.slow        # 3 points x 3 runs of 8-12 s
@pytest.mark.parametrize("point", ["publish-version-written", "publish-switched", "published"])
def test_an_always_run_killed_while_publishing_resumes_keeping_the_previous(tmp_path, point):
    """Issue 24, 2: run A publishes; run B (output.publish=always) is killed while publishing.
    The published model and record are a pair (A's or B's); --resume publishes B, and A stays as
    mlp_digits.previous.keras with its record (before, a resume after the publish copied B over
    the previous one, and A was lost)."""
    saved = tmp_path / "saved"
    first = _train(tmp_path, "--set", "trainer.seed=1")
    assert first.returncode == 0, first.stderr[-3000:]
    (run_a,) = (tmp_path / "runs").iterdir()
    killed = _train(tmp_path, env={"KERASDL_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (run_b,) = set((tmp_path / "runs").iterdir()) - {run_a}

    def published(kind=""):
        """The run the record names, its model.keras's weights those of the published model
        (a resumed run saves its model.keras again: equal weights, other zip bytes)."""
        import kerasdl

        record = json.loads((saved / f"mlp_digits{kind}.json").read_text())
        run = Path(record["run_dir"])
        ours, theirs = (kerasdl.load_model(path).get_weights()
                        for path in (saved / f"mlp_digits{kind}.keras", run / "model.keras"))
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs)), (kind, run)
        return run

    assert published() in (run_a, run_b)
    resumed = _train(tmp_path, "--resume", "latest")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert published() == run_b and published(".previous") == run_a


# --- 3. the user's own data are not published under the stock name -----------------------------

def test_publish_name_of_runs_on_other_data(tmp_path, monkeypatch):
    """The experiment file's own data: its name; other data: <experiment>-<data stem>, by the
    run-name rule; with no experiment file, the user's own files unless their stem is the name."""
    from kerasdl.config import Data, Experiment
    from kerasdl.experiment import load_experiment
    from kerasdl.publishing import publish_name

    (tmp_path / "experiments").mkdir()
    shutil.copy(EXPERIMENT, tmp_path / "experiments")
    monkeypatch.chdir(tmp_path)
    stock = load_experiment(EXPERIMENT)
    assert publish_name(stock) == ("mlp_digits", "")
    for data, name in [("csv:data/wine.csv", "mlp_digits-wine"),
                       ("fashion_mnist", "mlp_digits-fashion_mnist"),
                       ("folder:my photos!/", "mlp_digits-my_photos"),
                       ("npz:../.hidden.npz", "mlp_digits-hidden")]:
        found, why = publish_name(load_experiment(EXPERIMENT, overrides={"data.name": data}))
        assert found == name, data
        assert why == (f"named {name}, not mlp_digits: trained on {data}, not on the "
                       "experiment's own digits")
    assert publish_name(Experiment(name="shapes", data=Data(name="folder:x/shapes")))[0] == "shapes"
    assert publish_name(Experiment(name="churn", data=Data(name="csv:customers.csv"))) == (
        "churn-customers", "named churn-customers, not churn: trained on csv:customers.csv, the "
        "user's own files")
    monkeypatch.chdir(tmp_path / "experiments")           # kerasdl's own experiment files count
    assert publish_name(load_experiment("lenet5", overrides={"data.name": "folder:x/shapes"}))[0] \
        == "lenet5-shapes"
    assert publish_name(load_experiment("transfer_folder"))[0] == "transfer_folder"
    assert publish_name(Experiment(name="other", data=Data(name="mnist")))[0] == "other"


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory):
    """experiments/mlp_digits.py run on a CSV of the user's (features on scales 1 to 1,000):
    published as mlp_digits-wine, not mlp_digits."""
    tmp_path = tmp_path_factory.mktemp("wine")
    (tmp_path / "experiments").mkdir()
    shutil.copy(EXPERIMENT, tmp_path / "experiments")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)) * [1, 100, 5] + [0, 1000, 3]
    (tmp_path / "wine.csv").write_text("alcohol,magnesium,ash,label\n" + "".join(
        f"{a:.4f},{b:.4f},{c:.4f},{'red' if a > 0 else 'white'}\n" for a, b, c in x))
    result = _cli("run", "experiments/mlp_digits.py", "--set", "data.name=csv:wine.csv", "--set",
                  "data.label_column=label", "--set", "trainer.epochs=3", "--set",
                  "trainer.verbose=0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp_path, result, x[:4].astype("float32")


@pytest.mark.slow      # (a real run; the default suite is at its 10 minutes)
def test_own_data_publish_under_their_own_name_and_export_to_onnx_raw_rows(wine_run):
    """Issue 24, 3: the wine classifier is saved_models/mlp_digits-wine.keras, the report line
    says why, and saved_models/mlp_digits.keras is untouched. Issue 24, 4: its ONNX export (to
    the model's own default, saved_models/mlp_digits-wine.export/) takes raw rows, one input
    (the Normalization layer's mean and variance are constants of the graph: before, three graph
    inputs), gives Keras's outputs, and prints no numpy FutureWarning; a second export there is
    refused before TensorFlow is imported."""
    tmp_path, result, x = wine_run
    saved = tmp_path / "saved_models"
    assert (saved / "mlp_digits-wine.keras").is_file() and not (saved / "mlp_digits.keras").exists()
    assert ("saved_models/mlp_digits-wine.keras (first model of this name; named "
            "mlp_digits-wine, not mlp_digits: trained on csv:wine.csv, not on the experiment's "
            "own digits)") in result.stdout
    exported = _cli("export", "saved_models/mlp_digits-wine.keras", "--format", "onnx",
                    cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.strip() == "wrote saved_models/mlp_digits-wine.export/model.onnx"
    assert "FutureWarning" not in exported.stderr and "np.object" not in exported.stderr
    import onnxruntime

    from kerasdl.deploy import load_trained

    session = onnxruntime.InferenceSession(str(saved / "mlp_digits-wine.export" / "model.onnx"))
    assert [feed.name for feed in session.get_inputs()] == ["features"]
    (found,) = session.run(None, {"features": x})
    expected = load_trained(saved / "mlp_digits-wine.keras").model.predict(x, verbose=0)
    np.testing.assert_allclose(found, expected, atol=1e-5)
    poison = _poisoned_tensorflow(tmp_path)
    again = _cli("export", "saved_models/mlp_digits-wine.keras", "--format", "onnx",
                 cwd=tmp_path, first_on_path=poison)
    assert again.returncode == 1 and again.stderr.strip() == (
        "error: saved_models/mlp_digits-wine.export/model.onnx exists; give --output a new "
        "path (nothing is overwritten)")


@pytest.mark.slow          # 3 exports of 6-10 s each
def test_a_csv_model_exports_to_every_format_equal_to_keras(wine_run, tmp_path):
    """SavedModel (tf.saved_model.load), LiteRT (the interpreter) and ONNX (onnxruntime) of a
    published CSV model, each in its own runtime, on raw rows: Keras's outputs within 1e-4."""
    from test_deploy import _export_and_compare

    home, _, x = wine_run
    differences = _export_and_compare(home / "saved_models" / "mlp_digits-wine.keras", tmp_path, x)
    assert all(difference <= 1e-4 for difference in differences.values()), differences


@pytest.mark.slow          # 2 exports of 6-10 s
def test_an_export_killed_before_its_rename_leaves_nothing_at_the_target(wine_run):
    """kill -9 once the SavedModel is written under its temporary name: the target does not exist
    (before, variables/ without saved_model.pb, and every later export there was refused); the
    next export writes it whole and removes the killed one's leftovers."""
    tmp_path = wine_run[0]
    target = tmp_path / "killed" / "saved_model"
    killed = _cli("export", "saved_models/mlp_digits-wine.keras", "--output", str(target),
                  cwd=tmp_path, env={"KERASDL_KILL_AT": "export-written"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not target.exists() and len(list(target.parent.glob(".saved_model.partial-*"))) == 1
    again = _cli("export", "saved_models/mlp_digits-wine.keras", "--output", str(target),
                 cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (target / "saved_model.pb").is_file() and not list(target.parent.glob(".*partial*"))
    import tensorflow as tf

    x = wine_run[2]
    from kerasdl.deploy import load_trained

    loaded = tf.saved_model.load(str(target))            # (kept: serve uses its variables)
    np.testing.assert_allclose(loaded.serve(x).numpy(), load_trained(
        tmp_path / "saved_models" / "mlp_digits-wine.keras").model.predict(x, verbose=0), atol=1e-5)


# --- 5. path errors before TensorFlow -----------------------------------------------------------

def _poisoned_tensorflow(tmp_path: Path) -> Path:
    """A folder whose tensorflow and keras packages fail on import: put first on PYTHONPATH, any
    import of them shows in the error."""
    poison = tmp_path / "poison"
    for name in ("tensorflow", "keras"):
        (poison / name).mkdir(parents=True, exist_ok=True)
        (poison / name / "__init__.py").write_text(
            f"raise ImportError('{name} was imported')\n")
    return poison


def test_paths_are_checked_before_tensorflow_is_imported(tmp_path):
    """predict, evaluate and export say what is wrong with the model path, or with the export's
    target, without importing TensorFlow (a poisoned tensorflow package first on the path): a
    run directory without model.keras, a bare .keras file, an export target that exists (also the
    default of a published model, its own <name>.export/), and a dangling link as --output."""
    poison = _poisoned_tensorflow(tmp_path)
    (tmp_path / "unfinished").mkdir()
    (tmp_path / "unfinished" / "config.json").write_text("{}")
    (tmp_path / "bare.keras").write_text("zip")
    run_dir = tmp_path / "run"
    (run_dir / "export" / "saved_model").mkdir(parents=True)
    (run_dir / "config.json").write_text("{}")
    (run_dir / "model.keras").write_text("zip")
    saved = tmp_path / "saved"
    (saved / "x.export" / "model.tflite").mkdir(parents=True)
    (saved / "x.keras").write_text("zip")
    (saved / "x.json").write_text(json.dumps({"config": {"name": "x"}}))
    os.symlink(tmp_path / "nowhere" / "m.onnx", tmp_path / "dangling.onnx")
    cases = [
        (["predict", "unfinished", "in.png"], "unfinished holds no model.keras: not a finished run "
         "directory"),
        (["evaluate", "unfinished"], "unfinished holds no model.keras"),
        (["export", "bare.keras"], "bare.keras: no run directory or publish record (bare.json) "
         "says how its inputs were prepared"),
        (["export", "run"], "run/export/saved_model exists; give --output a new path"),
        (["export", "saved/x.keras", "--format", "litert"],
         "saved/x.export/model.tflite exists; give --output a new path"),
        (["export", "run", "--format", "onnx", "--output", "dangling.onnx"],
         f"dangling.onnx is a symbolic link (to {tmp_path / 'nowhere' / 'm.onnx'}); give --output "
         "a new path: an export is never written through a link"),
    ]
    for args, message in cases:
        result = _cli(*args, cwd=tmp_path, first_on_path=poison)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.startswith("error: ") and message in result.stderr, (args, result.stderr)
        assert "was imported" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "nowhere").exists()
