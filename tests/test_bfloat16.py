"""A model trained in mixed_bfloat16 exported as its float32 twin (issue 28, 4): float32
signatures, builtin float32 kernels in every runtime (LiteRT's plain interpreter included), the
twin's outputs within 1e-5, and the trained bfloat16 model's within the stated tolerance
(kerasdl.deploy.checking.MIXED_EXPORT_TOLERANCE) on the real MNIST test images."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kerasdl.deploy.checking import MIXED_EXPORT_TOLERANCE, check_twin
from kerasdl.deploy.exports import float32_twin, mixed_precision_of
from kerasdl.errors import DataError

from conftest import REPO, run_cli

TARGETS = {"saved_model": "sm", "onnx": "m.onnx", "litert": "m.tflite"}


def _formats():
    """The formats whose converters are installed here (ONNX needs tf2onnx and onnxruntime)."""
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError:
        return ("saved_model", "litert")
    return ("saved_model", "onnx", "litert")


def _serve(fmt: str, path: Path, x: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(the export's input and output dtypes, its outputs on ``x``) in the format's own runtime."""
    if fmt == "saved_model":
        import tensorflow as tf

        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        dtypes = [spec.dtype.name for spec in serve.structured_input_signature[1].values()]
        dtypes += [spec.dtype.name for spec in serve.structured_outputs.values()]
        (name,) = serve.structured_input_signature[1]
        (found,) = serve(**{name: tf.constant(x)}).values()
        return dtypes, found.numpy()
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        dtypes = [t.type for t in (*session.get_inputs(), *session.get_outputs())]
        (found,) = session.run(None, {session.get_inputs()[0].name: x})
        return ["float32" if t == "tensor(float)" else t for t in dtypes], found
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    assert not [op["op_name"] for op in interpreter._get_ops_details()
                if op["op_name"].startswith("Flex")]             # builtins only
    (feed,), (fetch,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(feed["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(feed["index"], x)
    interpreter.invoke()
    tensors = {np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    assert "bfloat16" not in tensors and "float16" not in tensors, tensors
    return ([np.dtype(feed["dtype"]).name, np.dtype(fetch["dtype"]).name],
            interpreter.get_tensor(fetch["index"]))


def _assert_served_like(fmt, path, x, bfloat16_outputs, twin_outputs):
    """The export in ``path``: float32 in and out, within 1e-5 of the float32 twin and within
    the stated tolerance of the bfloat16 model, the same class for >= 99% of the examples."""
    dtypes, found = _serve(fmt, path, x)
    assert dtypes == ["float32", "float32"], (fmt, dtypes)
    assert np.abs(found - twin_outputs).max() <= 1e-5, fmt
    assert np.abs(found - bfloat16_outputs).max() <= MIXED_EXPORT_TOLERANCE, fmt
    assert (found.argmax(1) == bfloat16_outputs.argmax(1)).mean() >= 0.99, fmt
    return float(np.abs(found - bfloat16_outputs).max())


def _mnist_test_images(count: int) -> np.ndarray:
    """The embedded MNIST test images as lenet5.py prepares them: /255, zero-padded to 32x32."""
    from kerasdl.data.embedded import load_mnist

    images = np.asarray(load_mnist(split_seed=0).x_test[:count], np.float32) / 255
    return np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))


def test_a_mixed_bfloat16_lenet5_exports_as_its_float32_twin(tmp_path):
    """In one process: LeNet-5 fitted for one epoch under mixed_bfloat16 on 2,000 real digits, exported
    through kerasdl.deploy.export in SavedModel and LiteRT (the plain interpreter: bfloat16
    convolutions need the Flex delegate); the slow test below goes through the CLI."""
    import keras

    import kerasdl
    from kerasdl.deploy import Trained, export
    from kerasdl.data.embedded import load_mnist
    from kerasdl.experiment import load_experiment

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        model = kerasdl.build("lenet5", style="functional")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    splits = load_mnist(split_seed=0)
    x_train = np.pad(np.asarray(splits.x_train[:2000], np.float32) / 255,
                     ((0, 0), (2, 2), (2, 2), (0, 0)))
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    model.fit(x_train, np.asarray(splits.y_train[:2000]), batch_size=32, epochs=1, verbose=0)
    assert mixed_precision_of(model) == "mixed_bfloat16"
    twin, precision = float32_twin(model)
    assert precision == "mixed_bfloat16" and mixed_precision_of(twin) is None
    assert all(w.dtype == "float32" for w in twin.weights)
    x = _mnist_test_images(300)
    bfloat16_outputs, twin_outputs = model.predict(x, verbose=0), twin.predict(x, verbose=0)
    assert (bfloat16_outputs.argmax(1) == np.asarray(splits.y_test[:300])).mean() > 0.8
    trained = Trained(model, tmp_path / "model.keras",
                      load_experiment(REPO / "experiments" / "lenet5.py"), None, tmp_path)
    lines = []
    for fmt in ("saved_model", "litert"):
        written = export(trained, fmt, tmp_path / TARGETS[fmt], log=lines.append)
        _assert_served_like(fmt, written, x, bfloat16_outputs, twin_outputs)
    assert all(line.startswith("trained in mixed_bfloat16, exported in float32") for line in lines)


def test_a_float32_model_is_exported_as_it_is_and_a_far_twin_is_refused(tmp_path):
    """The float32 path is unchanged (the model itself, no twin); a float32 model that is not
    the mixed one's twin (other weights) fails the twin check with a one-line error."""
    import keras

    import kerasdl

    plain = kerasdl.build("lenet5", style="functional")
    assert float32_twin(plain) == (plain, None)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = kerasdl.build("lenet5", style="functional")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    twin, _ = float32_twin(mixed)
    assert "within" in check_twin(mixed, twin, "mixed_bfloat16", tmp_path / "sm")
    twin.set_weights([w * 4 for w in twin.get_weights()])
    with pytest.raises(DataError, match="trained in mixed_bfloat16, differs from the model's own"):
        check_twin(mixed, twin, "mixed_bfloat16", tmp_path / "sm")


def test_the_float32_twin_keeps_a_text_vectorization_vocabulary(tmp_path):
    """A layer's assets travel with the twin (a TextVectorization's vocabulary is no weight):
    the SavedModel export of a mixed_bfloat16 text model gives its outputs on known words."""
    import keras
    import tensorflow as tf

    from kerasdl.deploy import Trained, export
    from kerasdl.experiment import load_experiment

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        words = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
        words.adapt(["red green blue", "blue yellow"])
        text = keras.Input((), dtype="string", name="text")
        pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(20, 8)(words(text)))
        model = keras.Model(text, keras.layers.Dense(3, activation="softmax", dtype="float32")(
            keras.layers.Dense(8, activation="relu")(pooled)))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    twin, precision = float32_twin(model)
    assert precision == "mixed_bfloat16" and mixed_precision_of(twin) is None
    assert twin.layers[1].get_vocabulary() == words.get_vocabulary()
    trained = Trained(model, tmp_path / "model.keras",
                      load_experiment(REPO / "experiments" / "lenet5.py"), None, tmp_path)
    written = export(trained, "saved_model", tmp_path / "sm")
    sentences = tf.constant(["red green", "yellow blue blue", "green"])
    loaded = tf.saved_model.load(str(written))           # kept: its functions use its variables
    served = loaded.serve(sentences).numpy()
    assert np.abs(served - twin(sentences).numpy()).max() <= 1e-5
    assert np.abs(served - model(sentences).numpy()).max() <= MIXED_EXPORT_TOLERANCE
    assert len({tuple(np.round(row, 6)) for row in served}) == 3      # the words, not [UNK]s


@pytest.mark.slow      # about 60 s: a real run and one CLI export per format
def test_a_run_trained_in_mixed_bfloat16_exports_float32_in_every_runtime(tmp_path):
    """``kerasdl run experiments/lenet5.py --set device.precision=mixed_bfloat16``, then
    ``kerasdl export`` in every format installed here, each served in its own runtime on 1,000
    real MNIST test images (the run's own test split)."""
    from kerasdl.deploy import load_trained

    ran = run_cli("run", str(REPO / "experiments" / "lenet5.py"), "--set",
                  "device.precision=mixed_bfloat16", "--set", "data.source=embedded", "--set",
                  "trainer.epochs=2", "--set", "trainer.verbose=0", "--set",
                  "output.publish=never", "--workdir", str(tmp_path / "runs"), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    trained = load_trained(run_dir)
    assert mixed_precision_of(trained.model) == "mixed_bfloat16"
    twin, _ = float32_twin(trained.model)
    x = _mnist_test_images(1000)
    bfloat16_outputs, twin_outputs = trained.model.predict(x, verbose=0), twin.predict(x, verbose=0)
    worst = {}
    for fmt in _formats():
        target = tmp_path / TARGETS[fmt]
        printed = run_cli("export", str(run_dir), "--format", fmt, "--output", str(target),
                          cwd=tmp_path)
        assert printed.returncode == 0, (fmt, printed.stderr[-2000:])
        assert "trained in mixed_bfloat16, exported in float32" in printed.stderr, printed.stderr
        worst[fmt] = _assert_served_like(fmt, target, x, bfloat16_outputs, twin_outputs)
    print("largest |export - bfloat16 Keras| on 1,000 test images:", worst)
