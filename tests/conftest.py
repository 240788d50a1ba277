"""Shared fixtures: a subprocess runner for the CLI and a small, fast experiment; Keras state
cleared after every test, and facts about ImageNet-size models gathered in a fresh process, so
one pytest process stays small (issue #12, 7: ``bench/suite_footprint.py`` measures it)."""
from __future__ import annotations

import ctypes
import gc
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path, timeout: float = 300,
            as_a_user: bool = False) -> subprocess.CompletedProcess:
    """``python -m kerasdl ARGS`` in a fresh process, from ``cwd``.

    ``as_a_user``: with the environment a user's shell has (no TF_CPP_MIN_LOG_LEVEL, no
    KERASDL_DEBUG), so that what kerasdl itself does about TensorFlow's output is what is seen."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    if as_a_user:
        for key in ("TF_CPP_MIN_LOG_LEVEL", "KERASDL_DEBUG"):
            env.pop(key, None)
    return subprocess.run([sys.executable, "-m", "kerasdl", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_python(code: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python process (nothing imported yet)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def facts_in_a_fresh_process(gather, directory: Path, timeout: float = 900):
    """``gather(directory)`` run in a fresh Python process; returns what it returned.

    ``gather`` is a module-level function of a test module (it is imported by name there, with
    tests/ on the path); it may write files under ``directory`` and returns picklable facts
    (tuples stay tuples, numpy arrays stay arrays). Used for ImageNet-size models: their hundreds
    of MB of weights live and die in that process, never in pytest's.
    """
    tests = Path(gather.__code__.co_filename).resolve().parent
    facts = Path(directory) / f"{gather.__name__}.pkl"
    result = run_python(
        "import pickle, sys\n"
        f"sys.path.insert(0, {str(tests)!r})\n"
        f"from {gather.__module__} import {gather.__name__}\n"
        f"facts = {gather.__name__}({str(directory)!r})\n"
        f"with open({str(facts)!r}, 'wb') as handle:\n"
        "    pickle.dump(facts, handle)\n", cwd=Path(directory), timeout=timeout)
    assert result.returncode == 0, result.stderr[-4000:]
    with open(facts, "rb") as handle:
        return pickle.load(handle)


_FROZEN = []


def _release_freed_memory() -> None:
    """Hand memory that Python and TensorFlow freed back to the system (glibc keeps freed
    blocks of its heaps for reuse, so without this the process only grows)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):          # not glibc: nothing to do
        pass


@pytest.fixture(autouse=True)
def _clear_keras_state(request):
    """After each test, Keras' global state cleared and garbage collected, where Keras is loaded.

    Without it the models of earlier tests, cyclic garbage that Python's automatic collector
    reaches late, piled up: one pytest process grew past 11 GB. Tests that never import Keras
    do not pay for importing it here. A full collection walks TF's ~430,000 module-level
    objects (0.2 s), so the first time Keras is seen, after collecting, the survivors are frozen
    (``gc.freeze``): later collections, this fixture's and Python's own, skip them and take
    milliseconds.
    """
    yield
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        keras.backend.clear_session(free_memory=False)
        gc.collect()
        if not _FROZEN:
            gc.freeze()
            _FROZEN.append(True)
        _release_freed_memory()
    if os.environ.get("KERASDL_TEST_MEMLOG"):     # where the suite's memory goes, test by test
        with open("/proc/self/statm") as statm, open(os.environ["KERASDL_TEST_MEMLOG"], "a") as log:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            log.write(f"{rss / 2**20:.0f} MB\t{request.node.nodeid}\n")


@pytest.fixture
def no_download(monkeypatch, tmp_path):
    """An unreachable download host, as on an offline machine; returns an empty TFDS data dir."""
    from kerasdl.data import tfds_source

    monkeypatch.setattr(tfds_source, "can_reach", lambda *a, **k: False)
    return str(tmp_path / "tfds")


def small_experiment(tmp_path: Path, **sections):
    """A seconds-long experiment on the embedded digits (8x8) with an MLP; sections override."""
    from kerasdl.config import Callbacks, Data, Experiment, Model, Output, Trainer

    defaults = dict(
        name="small",
        data=Data(name="digits", source="embedded", batch_size=32, validation_fraction=0.2),
        model=Model(name="mlp", kwargs={"hidden": (32,)}),
        trainer=Trainer(epochs=2, verbose=0),
        callbacks=Callbacks(monitor="val_loss"),
        output=Output(runs_dir=str(tmp_path / "runs"),
                      saved_models_dir=str(tmp_path / "saved_models")),
    )
    defaults.update(sections)
    return Experiment(**defaults)
