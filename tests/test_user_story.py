"""The README's "your images in, your model out" story, offline, as a user types it: write an
image folder (``kerasdl sample-folder``), fine-tune a keras.applications backbone on it
(``experiments/transfer_folder.py``; smoke: random weights, 32x32), predict a photo by class
name, export to ONNX and get Keras's outputs back from onnxruntime."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import REPO, run_cli


@pytest.mark.slow      # 45 s; CI's slow pass runs it (the default suite stays under 10 minutes)
def test_images_in_folders_to_a_fine_tuned_model_to_predict_and_onnx(tmp_path):
    written = run_cli("sample-folder", "sample_digits", "--per-class", "20", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert "wrote 100 training and 500 test images" in written.stdout
    assert sorted(p.name for p in (tmp_path / "sample_digits" / "train").iterdir()) == [
        "eight", "five", "nine", "seven", "six"]
    again = run_cli("sample-folder", "sample_digits", cwd=tmp_path)
    assert again.returncode != 0 and "exists and is not empty" in again.stderr

    # the experiment's default data is the folder sample-folder writes
    trained = run_cli("run", str(REPO / "experiments" / "transfer_folder.py"), "--smoke",
                      "--set", "trainer.epochs=2", "--set", "finetune.head_epochs=1",
                      "--workdir", "runs", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "on folder:sample_digits [folder]" in trained.stdout
    run_dir = next((tmp_path / "runs").iterdir())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["data"]["class_names"] == ["eight", "five", "nine", "seven", "six"]
    # both phases ran; the manifest says where each starts (curves.png marks it)
    assert [(p["name"], p["first_epoch"], p["last_epoch"]) for p in manifest["phases"]] == [
        ("head", 1, 1), ("top 30", 2, 2)]
    assert len(manifest["epoch_end_s"]) == 2

    photo = tmp_path / "photo.png"
    shutil.copyfile(tmp_path / "sample_digits" / "test" / "seven" / "0000.png", photo)  # README's
    predicted = run_cli("predict", str(run_dir), str(photo), "--top-k", "5", "--json",
                        cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    top = json.loads(predicted.stdout)["top"]
    assert sorted(row["class"] for row in top) == ["eight", "five", "nine", "seven", "six"]
    assert sum(row["probability"] for row in top) == pytest.approx(1.0, abs=1e-4)

    exported = run_cli("export", str(run_dir), "--format", "onnx", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    onnxruntime = pytest.importorskip("onnxruntime")
    import tensorflow as tf

    from kerasdl.loading import load_model

    model = load_model(run_dir / "model.keras", compile=False)
    image = tf.io.decode_png(tf.io.read_file(str(photo)), channels=3)
    x = tf.image.resize(image, (32, 32)).numpy()[None].astype("float32") / 255
    session = onnxruntime.InferenceSession(str(run_dir / "export" / "model.onnx"))
    onnx_out = session.run(None, {session.get_inputs()[0].name: x})[0]
    keras_out = model.predict(x, verbose=0)
    np.testing.assert_allclose(onnx_out, keras_out, atol=1e-4)
    probabilities = {row["class"]: row["probability"] for row in top}
    names = manifest["data"]["class_names"]
    for name, p in zip(names, keras_out[0]):          # predict applied the run's preprocessing
        assert probabilities[name] == pytest.approx(float(p), abs=1e-4)
