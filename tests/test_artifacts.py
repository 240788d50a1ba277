"""Artifacts that do what they say, and run folders read with care (issue 29, items 4, 5, 6).

* every export is loaded back in its own runtime and run on one example before it is kept, fed by
  the model's input names; a LiteRT file that needs the Flex delegate is refused, and an export
  that fails its check leaves nothing at its target;
* seq2seq ``predict`` refuses a sentence longer than the model's source length (it was cut and
  another sentence translated), and quotes no more than 80 characters of a word;
* predict, evaluate, export and ``--resume`` name the damaged file of a run folder or publish
  record, and give one true piece of advice for a finished run without its model.keras;
* predict with stdin closed, or given a text file that is not UTF-8: one line naming it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_cli, small_experiment


def _one_line_error(result: subprocess.CompletedProcess, code: int = 1) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr[-3000:])
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


# --- run folders and publish records read with care, before TensorFlow -------------------------

def _run_folder(tmp_path: Path, name: str = "run", finished: bool = True,
                model: bool = True) -> Path:
    """A run folder as a run leaves it (config.json of the stock mlp_digits experiment, a
    manifest), its model a placeholder: these errors come before any model is loaded."""
    from kerasdl.experiment import load_experiment

    run_dir = tmp_path / name
    run_dir.mkdir()
    experiment = load_experiment(REPO / "experiments" / "mlp_digits.py")
    (run_dir / "config.json").write_text(json.dumps(experiment.to_dict(), default=str))
    (run_dir / "manifest.json").write_text(json.dumps({"data": {"source": "embedded"}}))
    if model:
        (run_dir / "model.keras").write_text("zip")
    if finished:
        (run_dir / "report.txt").write_text("done\n")
    return run_dir


@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
def test_a_damaged_run_file_is_named_in_one_line(tmp_path, command):
    """A config.json cut off, a manifest.json holding a list, and one whose 'data' is a number:
    each a one-line error naming the file (before: JSONDecodeError or KeyError: 'data', no file
    named), by every command that reads a run folder."""
    extra = {"predict": ["in.png"], "evaluate": [], "export": ["--format", "onnx"]}[command]
    cut = _run_folder(tmp_path, "cut")
    (cut / "config.json").write_text('{"name": "mlp_digits", "data": {"na')
    listed = _run_folder(tmp_path, "listed")
    (listed / "manifest.json").write_text("[1, 2]")
    typed = _run_folder(tmp_path, "typed")
    (typed / "manifest.json").write_text('{"data": 3}')
    for run_dir, message in [
            (cut, f"{cut / 'config.json'} is not valid JSON (Unterminated string"),
            (listed, f"{listed / 'manifest.json'} holds a JSON list, not the object kerasdl wrote"),
            (typed, f"{typed / 'manifest.json'}: 'data' is 3, not an object")]:
        line = _one_line_error(run_cli(command, str(run_dir), *extra, cwd=tmp_path))
        assert message in line and "restore it, or start a new run" in line, line


def test_a_damaged_publish_record_is_named(tmp_path):
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "m.keras").write_text("zip")
    (saved / "m.json").write_text('{"config": {"name": "m", ')
    line = _one_line_error(run_cli("predict", str(saved / "m.keras"), "x.png", cwd=tmp_path))
    assert f"{saved / 'm.json'} is not valid JSON" in line, line
    (saved / "m.json").write_text('{"config": ["m"]}')
    line = _one_line_error(run_cli("export", str(saved / "m.keras"), cwd=tmp_path))
    assert f"{saved / 'm.json'}: 'config' is a JSON list, not the experiment object" in line, line


def test_a_finished_run_without_its_model_gets_one_true_advice_everywhere(tmp_path):
    """predict said "finish it with --resume" and --resume said "already finished"; now both, and
    export and evaluate, say what is true: the run finished and its model.keras was removed."""
    run_dir = _run_folder(tmp_path, finished=True, model=False)
    advice = (f"{run_dir}: the run finished but its model.keras is missing: it was deleted or "
              "moved; restore it, or start a new run")
    for args in (["predict", str(run_dir), "in.png"], ["evaluate", str(run_dir)],
                 ["export", str(run_dir)]):
        line = _one_line_error(run_cli(*args, cwd=tmp_path))
        assert line == f"error: {advice}", line
        assert "--resume" not in line
    resumed = run_cli("run", str(REPO / "experiments" / "mlp_digits.py"), "--resume",
                      str(run_dir), cwd=tmp_path)
    assert _one_line_error(resumed, code=2) == f"error: --resume {advice}"
    unfinished = _run_folder(tmp_path, "unfinished", finished=False, model=False)
    line = _one_line_error(run_cli("predict", str(unfinished), "in.png", cwd=tmp_path))
    assert (f"holds no model.keras: not a finished run directory (the run was interrupted: "
            f"continue it with kerasdl run EXPERIMENT --resume {unfinished})") in line, line


def test_wrong_typed_record_values_are_named_before_the_model_loads(tmp_path):
    """class_names that are not a list of names, vocabularies that are not vocabularies: the
    manifest is named (before: tuple() of a string, or a KeyError in Vocabularies)."""
    from kerasdl.deploy import load_trained
    from kerasdl.rundir import RunFileError

    run_dir = _run_folder(tmp_path)
    manifest = run_dir / "manifest.json"
    manifest.write_text(json.dumps({"data": {"source": "embedded", "class_names": "abc"}}))
    with pytest.raises(RunFileError, match=r"manifest.json: 'class_names' is \"abc\", not a list"):
        load_trained(run_dir)
    manifest.write_text(json.dumps({"data": {"source": "embedded", "vocabularies": {"x": 1}}}))
    with pytest.raises(RunFileError, match="manifest.json: 'vocabularies' is not the translation"):
        load_trained(run_dir)


# --- predict's inputs ---------------------------------------------------------------------------

def test_predict_with_stdin_closed_says_so_before_tensorflow(tmp_path):
    """``kerasdl predict RUN - <&-``: before, AttributeError: 'NoneType' object has no attribute
    'read' (after loading TensorFlow and the model)."""
    run_dir = _run_folder(tmp_path)
    closed = subprocess.run(
        [sys.executable, "-m", "kerasdl", "predict", str(run_dir), "-"], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=120, preexec_fn=lambda: os.close(0))
    line = _one_line_error(closed)
    assert "predict input -: stdin is closed, so there are no lines to read" in line, line


def test_a_text_file_that_is_not_utf8_is_named(tmp_path):
    """Before: UnicodeDecodeError, no file named (the file is read before the model is used)."""
    from kerasdl.deploy import predict
    from kerasdl.errors import DataError

    latin = tmp_path / "latin1.txt"
    latin.write_bytes("fine\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError) as raised:
        predict(_trained(None, tmp_path), [str(latin)])
    assert str(raised.value).startswith(
        f"predict input {latin} line 2 is not UTF-8 text (byte 0xe9); save the file as UTF-8")


def _number_words_trained(tmp_path: Path):
    """A Trained translation model without weights: the sentence checks come before decoding."""
    from kerasdl.data import toy_text
    from kerasdl.data.translation import Vocabularies
    from kerasdl.deploy import Trained

    vocabularies = Vocabularies(
        source=("", *toy_text.SOURCE_WORDS), target=("", "start", "end", *"0123456789"),
        source_length=6, target_length=5, start="start", end="end")
    return Trained(model=None, model_path=tmp_path / "model.keras",
                   experiment=small_experiment(tmp_path), class_names=None, home=tmp_path,
                   vocabularies=vocabularies)


def test_seq2seq_predict_refuses_a_sentence_longer_than_its_source_length(tmp_path):
    """Eight words for a model that reads six: before, the last two were silently cut
    (``one two three four five six seven eight`` -> ``1 0 4 6``); a 100,000-character unknown word
    made a 100,171-character error line."""
    from kerasdl.deploy import predict
    from kerasdl.errors import DataError

    trained = _number_words_trained(tmp_path)
    (tmp_path / "long.txt").write_text("one hundred\none two three four five six seven eight\n")
    with pytest.raises(DataError) as raised:
        predict(trained, [str(tmp_path / "long.txt")])
    assert str(raised.value) == (
        f"predict input {tmp_path / 'long.txt'}:2: 8 words, but the model reads at most 6 (its "
        "source length), so the rest would be cut and another sentence translated; split it "
        "into shorter lines")
    (tmp_path / "word.txt").write_text("four " + "z" * 100_000 + "\n")
    with pytest.raises(DataError) as raised:
        predict(trained, [str(tmp_path / "word.txt")])
    message = str(raised.value)
    assert f"the word {'z' * 80!r}... (100,000 characters) is not in the model's source" in message
    assert len(message) < 400, len(message)


# --- exports checked in their own runtime -------------------------------------------------------

def _trained(model, tmp_path: Path):
    from kerasdl.deploy import Trained

    return Trained(model=model, model_path=tmp_path / "model.keras",
                   experiment=small_experiment(tmp_path), class_names=None, home=tmp_path)


def _two_inputs():
    """Inputs named zeta (3 values) then alpha (2): LiteRT lists them alphabetically."""
    import keras

    zeta, alpha = keras.Input((3,), name="zeta"), keras.Input((2,), name="alpha")
    joined = keras.layers.Concatenate()([zeta, keras.layers.Dense(4, name="lift")(alpha)])
    return keras.Model([zeta, alpha], keras.layers.Dense(2, name="out")(joined))


@pytest.mark.parametrize("fmt", ["saved_model", "onnx", "litert"])
def test_an_export_is_checked_in_its_runtime_feeding_inputs_by_name(tmp_path, fmt):
    """A model whose inputs Keras takes as (zeta, alpha): each export is run in its own runtime,
    fed by name, before it is kept; the LiteRT file's signature lists alpha first (fed in that
    order by position, zeta's 3 values would go to alpha's 2)."""
    import tensorflow as tf

    from kerasdl.deploy import export

    model = _two_inputs()
    lines = []
    target = export(_trained(model, tmp_path), fmt, tmp_path / f"out-{fmt}", log=lines.append)
    (line,) = lines
    assert line.startswith(f"checked out-{fmt} in ") and "fed by name (zeta, alpha)" in line, line
    assert "on one example (tolerance 1e-04" in line
    if fmt == "litert":
        interpreter = tf.lite.Interpreter(model_path=str(target))
        assert interpreter.get_signature_list()["serving_default"]["inputs"] == ["alpha", "zeta"]
        assert {detail["name"] for detail in interpreter.get_input_details()} == {
            "serving_default_alpha:0", "serving_default_zeta:0"}
        zeta, alpha = np.ones((1, 3), "float32"), np.full((1, 2), 2.0, "float32")
        by_name = interpreter.get_signature_runner()(zeta=zeta, alpha=alpha)["output_0"]
        np.testing.assert_allclose(by_name, model.predict([zeta, alpha], verbose=0), atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out-{fmt}"]


def test_an_export_that_fails_its_check_leaves_nothing_at_the_target(tmp_path, monkeypatch):
    """The check's verdict decides: with a tolerance nothing meets (a real export, a real
    runtime), the ONNX export is refused in one line and neither the target nor the temporary
    file remains."""
    from kerasdl import deploy
    from kerasdl.deploy import checking
    from kerasdl.errors import DataError

    monkeypatch.setattr(checking, "EXPORT_TOLERANCE", -1.0)
    with pytest.raises(DataError) as raised:
        deploy.export(_trained(_two_inputs(), tmp_path), "onnx", tmp_path / "m.onnx")
    message = str(raised.value)
    assert message.startswith("the onnx export does not give Keras's outputs: in onnxruntime, "
                              "output 0 differs by ")
    assert f"nothing was written to {tmp_path / 'm.onnx'}" in message
    assert list(tmp_path.iterdir()) == []


def test_a_litert_file_that_needs_flex_ops_is_refused_and_not_left(tmp_path):
    """An LSTM: its LiteRT file needs FlexTensorListReserve, which the plain interpreter lacks
    (before: 'wrote ...tflite', and the interpreter refused the file)."""
    import keras

    from kerasdl.deploy import export
    from kerasdl.errors import DataError

    inputs = keras.Input((5,), dtype="int32", name="tokens")
    hidden = keras.layers.LSTM(4)(keras.layers.Embedding(10, 4)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    with pytest.raises(DataError) as raised:
        export(_trained(model, tmp_path), "litert", tmp_path / "m.tflite")
    message = str(raised.value)
    assert message.startswith("format 'litert' cannot carry this model: its LiteRT file needs "
                              "TensorFlow's Flex delegate for FlexTensorListReserve"), message
    assert message.endswith(f"export it as saved_model or onnx (nothing was written to "
                            f"{tmp_path / 'm.tflite'})")
    assert list(tmp_path.iterdir()) == []


# --- the sequence models, trained, through the CLI (slow pass) ----------------------------------

@pytest.mark.slow   # ~60 s: trains seq2seq and the tagger, exports each in two formats
@pytest.mark.parametrize("experiment_file, names", [
    ("seq2seq.py", "source, decoder_input"), ("tagger.py", None)], ids=["seq2seq", "tagger"])
def test_sequence_models_export_only_what_runs(tmp_path, experiment_file, names):
    """``export --format litert`` of seq2seq and the tagger: one line naming the Flex ops, exit 1,
    no file at the target; ONNX is written, checked in onnxruntime fed by name, and gives Keras's
    outputs there. seq2seq's predict refuses an 8-word sentence, naming its source length."""
    import onnxruntime

    from kerasdl.deploy import example_inputs, load_trained
    from kerasdl.experiment import load_experiment
    from kerasdl.runner import run

    experiment = load_experiment(REPO / "experiments" / experiment_file, smoke=True, overrides={
        "output.runs_dir": str(tmp_path / "runs"), "output.saved_models_dir": str(tmp_path / "sm"),
        "trainer.verbose": 0})
    run_dir = run(experiment, log=lambda line: None).run_dir
    refused = run_cli("export", str(run_dir), "--format", "litert", cwd=tmp_path)
    line = _one_line_error(refused)
    assert "cannot carry this model: its LiteRT file needs TensorFlow's Flex delegate for " \
           "FlexTensorListReserve" in line, line
    assert refused.stdout == ""
    export_dir = run_dir / "export"
    assert not export_dir.exists() or list(export_dir.iterdir()) == []     # no partial file either
    written = run_cli("export", str(run_dir), "--format", "onnx", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert written.stdout == f"wrote {run_dir / 'export' / 'model.onnx'}\n"
    assert "[kerasdl] checked model.onnx in onnxruntime: fed by name" in written.stderr
    trained = load_trained(run_dir)
    keras_names = [t.name for t in trained.model.inputs]
    if names:
        assert f"fed by name ({names})" in written.stderr and ", ".join(keras_names) == names
    session = onnxruntime.InferenceSession(str(run_dir / "export" / "model.onnx"))
    examples = example_inputs(trained.model)
    examples = [np.random.default_rng(1).integers(1, 9, x.shape).astype(x.dtype) for x in examples]
    (found,) = session.run(None, dict(zip(keras_names, examples)))
    expected = trained.model.predict(examples if len(examples) > 1 else examples[0], verbose=0)
    np.testing.assert_allclose(found, expected, atol=1e-4)
    if experiment_file == "seq2seq.py":
        (tmp_path / "long.txt").write_text("one two three four five six seven eight\n")
        line = _one_line_error(run_cli("predict", str(run_dir), str(tmp_path / "long.txt"),
                                       cwd=tmp_path))
        assert line == (f"error: predict input {tmp_path / 'long.txt'}:1: 8 words, but the model "
                        "reads at most 6 (its source length), so the rest would be cut and "
                        "another sentence translated; split it into shorter lines")
