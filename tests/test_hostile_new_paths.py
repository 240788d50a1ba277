"""A hostile user and kill -9 against the session's new paths (keras-hub presets, text models,
mixed_bfloat16 exports, the in-memory best checkpoint and the background epoch backups).

A preset directory is user text: each broken or hostile file in it must be a one-line ModelError
naming the file and the fix, before keras-hub deserializes anything it names (a preset's JSON
files may only name a registered subclass of the keras-hub class that file holds), and before any
run folder is made. Presets are the tiny random BERT and ResNet of tests/test_bert_finetune.py and
tests/test_backbones_hub.py, saved with ``save_to_preset``: nothing is downloaded.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_cli
from test_backbones_hub import offline  # noqa: F401  every download to a proxy that is not there

keras_hub = pytest.importorskip("keras_hub")

BERT_EXPERIMENT = str(REPO / "experiments" / "bert_finetune.py")
SEQUENCE_LENGTH = 16
PWNED = "kerasdl_hostile_pwned"


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> Path:
    from test_bert_finetune import _tiny_bert

    return _tiny_bert(tmp_path_factory.mktemp("hub") / "tiny_bert")


@pytest.fixture(scope="module")
def texts(tmp_path_factory) -> Path:
    from test_bert_finetune import _text_folder

    return _text_folder(tmp_path_factory.mktemp("texts") / "reviews", per_class=12)


def _serialized(module: str, class_name: str, config, registered=None) -> str:
    return json.dumps({"module": module, "class_name": class_name, "config": config,
                       "registered_name": registered})


def _vocabulary(preset: Path) -> Path:
    return next(preset.glob("assets/**/*.txt"))


def _truncate(path: Path, size: int = 500) -> None:
    path.write_bytes(path.read_bytes()[:size])


#: name -> (how the preset folder is damaged, words its one-line error must hold)
BROKEN_PRESETS = {
    "config.json not JSON": (lambda d: (d / "config.json").write_text("{not json"),
                             ["config.json is not JSON", "save_to_preset"]),
    "config.json empty": (lambda d: (d / "config.json").write_bytes(b""),
                          ["config.json is not JSON"]),
    "config.json invalid UTF-8": (lambda d: (d / "config.json").write_bytes(b"{\"a\": \"\xff\"}"),
                                  ["config.json is not JSON", "utf-8"]),
    "config.json a list": (lambda d: (d / "config.json").write_text("[1, 2]"),
                           ["config.json is not a serialized keras-hub object"]),
    "config.json without config": (
        lambda d: (d / "config.json").write_text(json.dumps({"registered_name": "x"})),
        ["config.json is not a serialized keras-hub object", "'config' object"]),
    "config.json names os.system": (
        lambda d: (d / "config.json").write_text(_serialized(
            "os", "system", {"command": f"touch {PWNED}"}, "os>system")),
        ["config.json names 'os>system'", "not a keras-hub Backbone"]),
    "config.json names a Dense layer": (
        lambda d: (d / "config.json").write_text(_serialized("keras.layers", "Dense",
                                                             {"units": 3}, "Dense")),
        ["config.json names 'Dense'", "not a keras-hub Backbone"]),
    "config.json names a tokenizer": (
        lambda d: (d / "config.json").write_text((d / "tokenizer.json").read_text()),
        ["config.json names 'keras_hub>BertTokenizer'", "not a keras-hub Backbone"]),
    "config.json with a wrong argument": (
        lambda d: (d / "config.json").write_text(
            (d / "config.json").read_text().replace('"num_layers": 2', '"num_layers": "two"')),
        ["keras-hub could not load its Backbone", "incomplete or corrupt", "save_to_preset"]),
    "tokenizer.json garbage bytes": (lambda d: (d / "tokenizer.json").write_bytes(b"\x00\xff\xfe"),
                                     ["tokenizer.json is not JSON"]),
    "tokenizer.json names os.system": (
        lambda d: (d / "tokenizer.json").write_text(_serialized(
            "os", "system", {"command": f"touch {PWNED}"}, "os>system")),
        ["tokenizer.json names 'os>system'", "not a keras-hub Tokenizer"]),
    "tokenizer.json names a function": (
        lambda d: (d / "tokenizer.json").write_text(_serialized("os", "function", "system")),
        ["tokenizer.json is not a serialized keras-hub object"]),
    "tokenizer.json names a Lambda": (
        lambda d: (d / "tokenizer.json").write_text(_serialized(
            "keras.layers", "Lambda", {"function": {"class_name": "__lambda__", "config": {
                "code": "x", "defaults": None, "closure": None}}}, "Lambda")),
        ["tokenizer.json names 'Lambda'", "not a keras-hub Tokenizer"]),
    "tokenizer.json names the backbone": (
        lambda d: (d / "tokenizer.json").write_text((d / "config.json").read_text()),
        ["tokenizer.json names 'keras_hub>BertBackbone'", "not a keras-hub Tokenizer"]),
    "vocabulary missing": (lambda d: _vocabulary(d).unlink(),
                           ["could not load its TextClassifierPreprocessor", "FileNotFoundError",
                            "vocabulary.txt"]),
    "vocabulary odd bytes": (
        lambda d: _vocabulary(d).write_bytes(b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xff\xfe\x00x\n"),
        ["could not load its TextClassifierPreprocessor", "UnicodeDecodeError"]),
    "vocabulary empty": (lambda d: _vocabulary(d).write_bytes(b""),
                         ["could not load its TextClassifierPreprocessor", "[UNK]"]),
    "weights truncated": (lambda d: _truncate(d / "model.weights.h5"),
                          ["could not load its Backbone", "truncated", "incomplete or corrupt"]),
    "weights missing": (lambda d: (d / "model.weights.h5").unlink(),
                        ["could not load its Backbone", "FileNotFoundError"]),
}


@pytest.mark.parametrize("case", list(BROKEN_PRESETS))
def test_a_broken_or_hostile_text_preset_is_one_line(bert, tmp_path, monkeypatch, case):
    """Each damaged file of a preset folder: a one-line ModelError naming the file and the fix,
    and nothing a file names is executed."""
    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    monkeypatch.chdir(tmp_path)
    damage, words = BROKEN_PRESETS[case]
    preset = shutil.copytree(bert, tmp_path / "preset")
    damage(preset)
    with pytest.raises(ModelError) as error:
        load_backbone(f"hub:{preset}", builder_kwargs={"sequence_length": SEQUENCE_LENGTH})
    line = str(error.value)
    assert "\n" not in line and str(preset) in line and all(w in line for w in words), line
    assert not (tmp_path / PWNED).exists()


def test_a_broken_image_preset_is_one_line(tmp_path):
    """An image preset's converter naming another class, and its truncated weights."""
    from test_backbones_hub import _tiny_preset

    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    preset = _tiny_preset(tmp_path / "resnet")
    converter = (preset / "image_converter.json").read_text()
    (preset / "image_converter.json").write_text((preset / "config.json").read_text())
    with pytest.raises(ModelError, match="image_converter.json names 'keras_hub>ResNetBackbone', "
                                         "not a keras-hub ImageConverter"):
        load_backbone(f"hub:{preset}")
    (preset / "image_converter.json").write_text(converter)
    _truncate(preset / "model.weights.h5")
    with pytest.raises(ModelError, match="could not load its Backbone .*OSError.*incomplete"):
        load_backbone(f"hub:{preset}")


@pytest.mark.parametrize("name", ["", "../../../etc", "/etc", "~nobody_here/x", "./nope",
                                  "resnet_50_imagenet\x00", "bert_tiny_en_uncased/../..",
                                  "ünïcødé", "a" * 300])
@pytest.mark.usefixtures("offline")
def test_odd_preset_names_are_one_line(name, tmp_path, monkeypatch):
    """Path traversal, NUL bytes, folders that are not presets, names that are not presets."""
    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelError) as error:
        load_backbone(f"hub:{name}")
    assert "\n" not in str(error.value) and str(error.value).startswith("finetune.backbone='hub:'"
                                                                       if not name else "hub:")


@pytest.mark.parametrize("length", [0, 1, -3, 2.5, "16", True, 33, 10**9, None])
def test_sequence_length_garbage_is_one_line(bert, length):
    """Not a whole number >= 2, or more tokens than the backbone has position embeddings (32;
    None: the tiny preset's own preprocessor packs 512): refused when the model is built, not at
    its first training step."""
    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone
    from kerasdl.transfer.recipes import make_transfer_model

    with pytest.raises(ModelError) as error:
        kwargs = {} if length is None else {"sequence_length": length}
        make_transfer_model(load_backbone(f"hub:{bert}", builder_kwargs=kwargs), 2, "finetune_all")
    line = str(error.value)
    assert "\n" not in line and "model.kwargs.sequence_length=" in line, line
    if length is None or isinstance(length, int) and length > 32:
        assert "at most 32 positions" in line and "2 <= N <= 32" in line, line


def test_the_longest_sequence_the_backbone_embeds_is_accepted(bert):
    import tensorflow as tf

    from kerasdl.transfer.backbones import load_backbone
    from kerasdl.transfer.recipes import make_transfer_model

    backbone = load_backbone(f"hub:{bert}", builder_kwargs={"sequence_length": 32})
    model = make_transfer_model(backbone, 2, "finetune_all")
    assert model(tf.constant(["good " * 100])).shape == (1, 2)


HOSTILE_LINES = ["", " ", "\x00", "good\x00bad", "\ufeffgood", "good\r", "\r\n", "\t\t\t",
                 "good " * 20000, "💥" * 1000, "\u202egood", "[CLS] [SEP] [PAD] [MASK]",
                 "é" * 5000, "\\x00 \\n %s {} ${HOME} $(touch pwned)"]


def test_hostile_strings_go_through_the_text_model(bert):
    """NUL bytes, a BOM, CR, emoji, right-to-left marks, special tokens and 100 KB lines are
    tokenized, truncated to the sequence length and classified like any line (finite
    probabilities); the special tokens typed as text are not the model's special ids."""
    import tensorflow as tf

    from kerasdl.transfer.backbones import load_backbone
    from kerasdl.transfer.recipes import make_transfer_model

    backbone = load_backbone(f"hub:{bert}", builder_kwargs={"sequence_length": SEQUENCE_LENGTH})
    model = make_transfer_model(backbone, 2, "finetune_all")
    probabilities = model.predict(tf.constant(HOSTILE_LINES), verbose=0)
    assert probabilities.shape == (len(HOSTILE_LINES), 2) and np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    tokens = model.get_layer("preprocess")(tf.constant(HOSTILE_LINES))["token_ids"].numpy()
    assert tokens.shape == (len(HOSTILE_LINES), SEQUENCE_LENGTH)
    assert (tokens[:, 0] == 2).all()                           # [CLS] first, always


@pytest.mark.slow
@pytest.mark.parametrize("case", ["config.json names os.system", "tokenizer.json names os.system",
                                  "weights truncated", "vocabulary odd bytes"])
def test_a_hostile_preset_on_the_cli_is_one_line_before_any_run_folder(bert, texts, tmp_path,
                                                                       case):
    damage, words = BROKEN_PRESETS[case]
    preset = shutil.copytree(bert, tmp_path / "preset")
    damage(preset)
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli("run", BERT_EXPERIMENT, "--set", f"finetune.backbone=hub:{preset}",
                     "--set", f"data.name=textfolder:{texts}", "--set", "trainer.epochs=1",
                     "--set", f"model.kwargs.sequence_length={SEQUENCE_LENGTH}",
                     "--set", "output.publish=never", cwd=work)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode != 0 and len(errors) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and all(w in errors[0] for w in words), errors
    assert not any((work / "runs").glob("*")) and not (work / PWNED).exists()


def _json_values():
    from hypothesis import strategies as st

    leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=8)


def test_generated_preset_json_is_one_line(bert, tmp_path_factory):
    """Generated JSON (and keras-shaped objects naming generated or real class names) in
    config.json or tokenizer.json: a one-line ModelError naming the preset, never another
    exception and never a wrong object loaded."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from kerasdl.errors import ModelError
    from kerasdl.transfer.backbones import load_backbone

    names = st.sampled_from(["keras_hub>BertBackbone", "keras_hub>BertTokenizer", "Dense",
                             "Functional", "os>system", "keras_hub>BertTextClassifier"]) | st.text()
    shaped = st.fixed_dictionaries({"module": st.text(max_size=20), "class_name": st.text(
        max_size=20), "config": st.dictionaries(st.text(max_size=8), _json_values(), max_size=3),
        "registered_name": names})

    @settings(max_examples=30, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(file=st.sampled_from(["config.json", "tokenizer.json"]), value=_json_values() | shaped)
    def check(file, value):
        preset = tmp_path_factory.mktemp("generated") / "preset"
        shutil.copytree(bert, preset)
        (preset / file).write_text(json.dumps(value))
        try:
            load_backbone(f"hub:{preset}", builder_kwargs={"sequence_length": SEQUENCE_LENGTH})
        except ModelError as error:
            assert "\n" not in str(error) and str(preset) in str(error), str(error)
        else:
            raise AssertionError(f"{file} = {value!r} loaded")

    check()


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_saved_backbone_holding_a_lambda_is_refused_unrun(tmp_path, suffix):
    """A .keras or Keras 2 .h5 backbone whose Lambda layer would run code: loaded in safe mode,
    refused in one line, the code never run."""
    import keras

    from kerasdl.errors import KerasdlError
    from kerasdl.transfer.backbones import load_backbone

    ran = tmp_path / PWNED
    path = str(ran)                            # the closure is saved with the lambda
    inputs = keras.Input((4,))
    x = keras.layers.Lambda(lambda t: (open(path, "w").close(), t)[1])(keras.layers.Dense(3)(inputs))
    keras.Model(inputs, keras.layers.Dense(2)(x)).save(tmp_path / f"backbone{suffix}")
    ran.unlink()                               # building the model ran it once
    with pytest.raises(KerasdlError, match="holds code .* safe mode will not load, and a run "
                       "never loads a backbone unsafely; replace the Lambda with a layer class"):
        load_backbone(str(tmp_path / f"backbone{suffix}"))
    assert not ran.exists()


# === mixed_bfloat16 exports ===

def _mixed(build):
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        return build()
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _trained(model, home: Path):
    from kerasdl.deploy import Trained
    from kerasdl.experiment import load_experiment

    return Trained(model, home / "model.keras", load_experiment(REPO / "experiments" / "lenet5.py"),
                   None, home)


def _subclassed_lenet5():
    import kerasdl

    return kerasdl.build("lenet5", style="subclassed")


@pytest.mark.parametrize("case", ["mixed_bfloat16 in memory", "mixed_bfloat16 reloaded",
                                  "float32 reloaded"])
def test_a_subclassed_model_exports(tmp_path, case):
    """A subclassed kerasdl model, in memory or as ``kerasdl export`` gets it (loaded from its
    .keras, never called since: Keras exports only called models): exported through a functional
    model around it, as its float32 twin where it computes in mixed_bfloat16, serving its outputs.
    (Reloaded, a subclassed model computes in the global policy, float32: its layers are made in
    its __init__ and its config names no dtype.)"""
    import tensorflow as tf

    import kerasdl
    from kerasdl.deploy import export
    from kerasdl.deploy.exports import mixed_precision_of

    images = np.random.default_rng(0).random((4, 32, 32, 1), dtype=np.float32)
    model = _mixed(_subclassed_lenet5) if case.startswith("mixed") else _subclassed_lenet5()
    model(images)
    if case.endswith("reloaded"):
        model.save(tmp_path / "model.keras")
        model = kerasdl.load_model(tmp_path / "model.keras", compile=False)
    lines = []
    written = export(_trained(model, tmp_path), "saved_model", tmp_path / "sm", log=lines.append)
    assert ("exported in float32" in lines[0]) == (mixed_precision_of(model) is not None), lines
    assert (mixed_precision_of(model) is not None) == (case == "mixed_bfloat16 in memory")
    served_model = tf.saved_model.load(str(written))       # kept: its functions use it
    served = served_model.serve(images).numpy()
    assert served.dtype == np.float32
    assert np.abs(served - np.asarray(model(images), np.float32)).max() <= (
        2e-2 if case == "mixed_bfloat16 in memory" else 1e-5)


def _small_mixed_model():
    import keras

    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", dtype="float32")(x))


@pytest.mark.parametrize("fmt, name", [("saved_model", "sm"), ("onnx", "model.onnx"),
                                       ("litert", "model.tflite")])
def test_an_export_never_overwrites_a_users_file(tmp_path, monkeypatch, fmt, name):
    """A target that exists, a link, and a file that appears while the export is being checked:
    each refused in one line, the user's file byte for byte as it was, no partial export left."""
    import kerasdl.files
    from kerasdl.deploy import export
    from kerasdl.errors import KerasdlError

    if fmt == "onnx":
        pytest.importorskip("tf2onnx")
    trained = _trained(_mixed(_small_mixed_model), tmp_path)
    users = tmp_path / name
    users.write_bytes(b"the user's own file\x00")
    with pytest.raises(KerasdlError, match="exists; give --output a new path"):
        export(trained, fmt, users)
    link = tmp_path / f"link-{name}"
    link.symlink_to(users)
    with pytest.raises(KerasdlError, match="is a symbolic link"):
        export(trained, fmt, link)
    late = tmp_path / f"late-{name}"
    real_kill_point = kerasdl.files.kill_point

    def user_writes_it(point, epoch=None):
        if point == "export-written":
            late.write_bytes(b"written meanwhile")
        real_kill_point(point, epoch)

    monkeypatch.setattr(kerasdl.files, "kill_point", user_writes_it)
    with pytest.raises(KerasdlError, match="appeared while exporting"):
        export(trained, fmt, late)
    later = tmp_path / f"later-{name}"       # after the last look: the move itself must not replace

    def user_writes_it_later(point, epoch=None):
        if point == "export-written":
            later.write_bytes(b"written at the last moment")
            monkeypatch.setattr(Path, "exists", lambda self, **_: False)   # the look missed it
        real_kill_point(point, epoch)

    monkeypatch.setattr(kerasdl.files, "kill_point", user_writes_it_later)
    with pytest.raises(KerasdlError, match="appeared while exporting"):
        export(trained, fmt, later)
    monkeypatch.undo()
    assert users.read_bytes() == b"the user's own file\x00" and link.resolve() == users
    assert late.read_bytes() == b"written meanwhile"
    assert later.read_bytes() == b"written at the last moment"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, link.name, late.name,
                                                                later.name])


KILLED_EXPORT = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_hostile_new_paths import _mixed, _small_mixed_model, _trained
from kerasdl.deploy import export
home = Path({home!r})
export(_trained(_mixed(_small_mixed_model), home), "saved_model", home / "sm")
print("exported")
"""


@pytest.mark.slow      # about 35 s: a fresh process that imports TensorFlow and exports, killed
def test_an_export_killed_before_its_rename_leaves_no_target_and_the_next_one_cleans_up(tmp_path):
    """kill -9 once the mixed model's float32 twin is exported and checked, before the rename:
    no target; the next export writes it and removes the killed one's partial folder."""
    import os
    import subprocess
    import sys

    from kerasdl.deploy import export

    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
           "KERASDL_KILL_AT": "export-written"}
    code = KILLED_EXPORT.format(tests=str(REPO / "tests"), home=str(tmp_path))
    killed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -9 and "exported" not in killed.stdout, killed.stderr[-2000:]
    assert not (tmp_path / "sm").exists()
    assert any(".partial-" in p.name for p in tmp_path.iterdir())     # what the kill left
    written = export(_trained(_mixed(_small_mixed_model), tmp_path), "saved_model", tmp_path / "sm")
    assert (written / "saved_model.pb").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["sm"]


# === the in-memory best checkpoint and the background epoch backups ===

def _fit_with_backups(run_dir: Path, epochs: int = 3):
    """A tiny model fit with the run's NaN guard, best checkpoint (waiting in memory) and
    background epoch backups, as kerasdl.callbacks wires them."""
    import keras

    from kerasdl.callbacks import BestCheckpoint, EpochBackup, NaNGuard

    (run_dir / "checkpoints").mkdir(exist_ok=True)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")   # random
    # labels: the validation loss is lowest at epoch 3 of 6, then rises (overfitting)
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4), dtype=np.float32), rng.integers(0, 3, 64)
    guard = NaNGuard()
    best = BestCheckpoint(run_dir / "checkpoints" / "best.keras", guard=guard, save_every_s=300)
    callbacks = [guard, best]
    callbacks.append(EpochBackup(run_dir, list(callbacks), guard))
    return model.fit(x, y, validation_split=0.25, epochs=epochs, verbose=0, callbacks=callbacks)


def test_a_background_backup_that_cannot_be_written_stops_the_fit(tmp_path):
    """The backup folder's place taken by a file (as a read-only or vanished folder would): the
    background write fails, and the fit raises that failure at the next epoch's end, not later
    and not never."""
    (tmp_path / "backup").write_text("not a folder")
    with pytest.raises(OSError) as error:
        _fit_with_backups(tmp_path, epochs=3)
    assert Path(error.value.filename or "").name == "backup" or "backup" in str(error.value)


DISK_FULL = """
import resource, signal, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from test_hostile_new_paths import _fit_with_backups
run_dir = Path({run_dir!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)         # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))   # every state.npz is bigger: disk full
try:
    history = _fit_with_backups(run_dir, epochs=4)
except OSError as error:
    print("raised", type(error).__name__, error.errno, flush=True)
else:
    print("fit ended", len(history.history["loss"]), flush=True)
"""


@pytest.mark.slow      # 25 s: a fresh process; the folder-in-the-way test is its default twin
def test_a_disk_full_during_a_background_backup_is_raised(tmp_path):
    """Every file over 1,000 bytes fails to be written (RLIMIT_FSIZE, as a full disk): the
    background backup's failure ends the fit with that OSError (EFBIG)."""
    import errno

    from conftest import run_python

    result = run_python(DISK_FULL.format(tests=str(REPO / "tests"), run_dir=str(tmp_path)),
                        cwd=tmp_path)
    assert f"raised OSError {errno.EFBIG}" in result.stdout, (result.stdout, result.stderr[-2000:])
    assert not list((tmp_path / "backup").glob("epoch-*"))


def test_backups_keep_the_folder_of_the_waiting_best_epoch(tmp_path):
    """The best epoch older than the last two backups: its folder stays, and it is the one the
    backups name as waiting."""
    import json

    import kerasdl.callbacks.backup as backup

    history = _fit_with_backups(tmp_path, epochs=6)
    losses = history.history["val_loss"]
    best = int(np.argmin(losses)) + 1
    assert best <= 3, losses                   # older than the last two backups, 5 and 6
    folders = sorted(p.name for p in (tmp_path / "backup").glob("epoch-*"))
    state = json.loads((tmp_path / "backup" / "epoch-0006" / "state.json").read_text())
    assert state["callbacks"]["BestCheckpoint"]["pending_epoch"] == best
    assert folders == sorted({f"epoch-{best:04d}", "epoch-0005", "epoch-0006"})
    variables = backup.checkpoint_variables(tmp_path, state["callbacks"])
    import kerasdl

    saved = kerasdl.load_model(tmp_path / "checkpoints" / "best.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(variables, saved))


# === kill -9 and Ctrl-C against real runs (slow: real processes) ===

#: the digits MLP at a rate that overfits: its validation loss is lowest at epoch 7 of 10 (0.92),
#: so when epoch 10 is backed up its best epoch is older than the last two backups (8 and 9)
OLD_BEST = ["--set", "data.source=embedded", "--set", "trainer.epochs=10", "--set",
            "trainer.deterministic=true", "--set", "trainer.verbose=0", "--set",
            "output.publish=never", "--set", "callbacks.early_stopping.enabled=false", "--set",
            "trainer.learning_rate=0.1", "--set", "callbacks.monitor=val_loss"]
BEST_EPOCH = 7


@pytest.fixture(scope="module")
def overfitting(tmp_path_factory):
    """The uninterrupted run of OLD_BEST, its best epoch checked."""
    from test_resume import _history, _kerasdl

    workdir = tmp_path_factory.mktemp("overfitting")
    result = _kerasdl(["--workdir", str(workdir)], cwd=workdir, settings=OLD_BEST)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = workdir.iterdir()
    losses = [float(row["val_loss"]) for row in _history(run_dir)]
    assert int(np.argmin(losses)) + 1 == BEST_EPOCH, losses
    return run_dir


def _resume_and_compare(tmp_path: Path, uninterrupted: Path, settings, experiment=None,
                        tolerance: float = 0.0) -> Path:
    """--resume latest, then: model.keras, best.keras and the history as the uninterrupted run's,
    the backups cleaned up and no temporary file anywhere in the run folder."""
    from test_resume import EXPERIMENT, _difference, _history, _kerasdl

    (run_dir,) = (tmp_path / "runs").iterdir()
    resumed = _kerasdl(["--workdir", str(tmp_path / "runs"), "--resume", "latest"], cwd=tmp_path,
                       experiment=experiment or EXPERIMENT, settings=settings)
    assert resumed.returncode == 0 and "resuming" in resumed.stdout, resumed.stderr[-3000:]
    model = _difference(run_dir / "model.keras", uninterrupted / "model.keras")
    best = _difference(run_dir / "checkpoints/best.keras", uninterrupted / "checkpoints/best.keras")
    print(f"max weight difference {model:.1e}, of the best checkpoint {best:.1e}")
    assert model <= tolerance and best <= tolerance, (model, best)
    assert _history(run_dir) == _history(uninterrupted)
    assert not (run_dir / "backup").exists()
    assert not [p for p in run_dir.rglob("*") if ".tmp" in p.name or ".partial" in p.name]
    return run_dir


@pytest.mark.slow
@pytest.mark.parametrize("point", ["backup-write:10", "backup-rename:10", "checkpoint-write:10"])
def test_kill_when_the_best_epoch_is_older_than_the_last_two_backups(tmp_path, overfitting, point):
    """Killed while epoch 10 is backed up (or while the waiting best epoch 7 is written as the fit
    ends): the backup folder of epoch 7 is still there beside 8 and 9, and the resumed run
    writes it as best.keras, equal to the uninterrupted run's."""
    import signal

    from test_resume import _kerasdl

    killed = _kerasdl(["--workdir", str(tmp_path / "runs")], cwd=tmp_path, settings=OLD_BEST,
                      env={"KERASDL_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    folders = sorted(p.name for p in (run_dir / "backup").glob("epoch-*"))
    assert f"epoch-{BEST_EPOCH:04d}" in folders and folders[-2:] != [f"epoch-{BEST_EPOCH:04d}"]
    _resume_and_compare(tmp_path, overfitting, OLD_BEST)


@pytest.mark.slow
def test_a_resume_killed_while_it_writes_the_waiting_best_epoch_resumes_again(tmp_path,
                                                                            overfitting):
    """Killed at epoch 10's backup, then the resume killed as it writes the waiting epoch 7 as
    best.keras (before its first epoch: checkpoint-write:0): the backups are untouched, and a
    second resume ends as the uninterrupted run."""
    import signal

    from test_resume import _kerasdl

    runs = ["--workdir", str(tmp_path / "runs")]
    for env, args in (({"KERASDL_KILL_AT": "backup-write:10"}, []),
                      ({"KERASDL_KILL_AT": "checkpoint-write:0"}, ["--resume", "latest"])):
        killed = _kerasdl([*runs, *args], cwd=tmp_path, settings=OLD_BEST, env=env)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "backup" / f"epoch-{BEST_EPOCH:04d}").is_dir()
    _resume_and_compare(tmp_path, overfitting, OLD_BEST)


TWO_PHASE = ["--smoke", "--set", "finetune.recipe=two_phase", "--set", "trainer.epochs=5",
             "--set", "finetune.head_epochs=3", "--set", "trainer.deterministic=true",
             "--set", "trainer.verbose=0"]


@pytest.mark.slow
@pytest.mark.parametrize("point", ["checkpoint-write:3", "backup-rename:3", "backup-write:2"])
def test_a_two_phase_run_killed_in_phase_1_after_its_best_epoch_resumes_exactly(tmp_path, point):
    """A transfer two_phase run killed in its head phase, its best epoch waiting in memory (as
    the phase's end writes it, or while a later backup is written): best.keras and model.keras
    equal the uninterrupted run's, weights difference 0.0."""
    import signal

    from test_resume import _kerasdl

    experiment = str(REPO / "experiments" / "transfer_finetune.py")
    whole = _kerasdl(["--workdir", str(tmp_path / "uninterrupted")], cwd=tmp_path,
                     experiment=experiment, settings=TWO_PHASE)
    assert whole.returncode == 0, whole.stderr[-3000:]
    (uninterrupted,) = (tmp_path / "uninterrupted").iterdir()
    killed = _kerasdl(["--workdir", str(tmp_path / "runs")], cwd=tmp_path, experiment=experiment,
                      settings=TWO_PHASE, env={"KERASDL_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    newest = max((run_dir / "backup").glob("epoch-*"))
    state = json.loads((newest / "state.json").read_text())
    assert state["phase"].startswith("1/2")
    assert state["callbacks"]["BestCheckpoint"]["pending_epoch"] is not None   # waiting in memory
    _resume_and_compare(tmp_path, uninterrupted, TWO_PHASE, experiment=experiment)


@pytest.mark.slow
def test_ctrl_c_with_a_backup_in_flight_leaves_a_resumable_run(tmp_path, overfitting):
    """SIGINT as soon as the first backup is being written (or is there): exit 130 with the
    --resume line; the resumed run ends as the uninterrupted one, with no .tmp file left."""
    import signal
    import subprocess
    import sys
    import time

    from test_resume import EXPERIMENT

    env = {**__import__("os").environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen([sys.executable, "-m", "kerasdl", "run", EXPERIMENT, *OLD_BEST,
                                "--workdir", str(tmp_path / "runs")], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if any((tmp_path / "runs").glob("*/backup/*")):
            break
        time.sleep(0.002)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "--resume" in out + err, (out[-2000:], err[-2000:])
    _resume_and_compare(tmp_path, overfitting, OLD_BEST)


# === predict on hostile lines ===

def test_predict_reads_hostile_lines_by_their_line_numbers(tmp_path):
    """A BOM, CRLF, blank lines, NUL bytes, a 1 MB line, and a form feed, NEL and Unicode line
    separator inside lines: each line is one input, named by its line number as an editor counts
    them; blank lines are skipped."""
    from kerasdl.deploy.readers import read_lines

    lines = ["good w1", "", "bad\x00 w2", "   ", "w3 \x0c w4", "w5 \x85 w6", "w7 \u2028 w8",
             "good " * 200_000, "last"]
    path = tmp_path / "lines.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    found = read_lines(str(path))
    expected = [(f"{path}:{i + 1}", line) for i, line in enumerate(lines) if line.strip()]
    assert found == expected
    assert read_lines("-", stdin=lambda: "a\nb\x1cc\n") == [("stdin:1", "a"), ("stdin:2", "b\x1cc")]


@pytest.mark.parametrize("data, words", [(b"ok\n\xff\xfe bad\n", ["line 2", "not UTF-8", "0xff"]),
                                         (b"caf\xe9\n", ["line 1", "0xe9", "iconv"])])
def test_predict_refuses_text_that_is_not_utf8_in_one_line(tmp_path, data, words):
    from kerasdl.deploy.readers import read_lines
    from kerasdl.errors import DataError

    path = tmp_path / "lines.txt"
    path.write_bytes(data)
    with pytest.raises(DataError) as error:
        read_lines(str(path))
    assert "\n" not in str(error.value) and all(w in str(error.value) for w in words), error.value


def test_a_backup_handed_over_as_the_idle_writer_ends_is_still_written(tmp_path, monkeypatch):
    """The writer thread ends after IDLE_S idle (an epoch longer than a minute). The training
    thread descheduled between submit()'s start() and its put() (simulated by a sleep there):
    the backup must still be written and wait() return, not block the run forever."""
    import threading
    import time

    from kerasdl.callbacks import backup

    monkeypatch.setattr(backup._BackgroundWriter, "IDLE_S", 0.05)
    start = backup._BackgroundWriter.start

    def descheduled_start(self):
        start(self)
        time.sleep(0.5)                                # ten idle timeouts

    monkeypatch.setattr(backup._BackgroundWriter, "start", descheduled_start)
    writer = backup._BackgroundWriter(tmp_path / "backup")
    writer.submit(backup.Backup(1, {"model_0": np.zeros(3)}, {"epoch": 1, "callbacks": {}}))
    waited = threading.Event()
    threading.Thread(target=lambda: (writer.wait(), waited.set()), daemon=True).start()
    assert waited.wait(timeout=5), "wait() blocks: the backup was queued after the writer ended"
    assert (tmp_path / "backup" / "epoch-0001" / "state.npz").is_file()
