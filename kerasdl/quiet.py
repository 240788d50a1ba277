"""TensorFlow without its start-up noise: a run prints kerasdl's lines and Keras's progress only.

TensorFlow's C++ runtime writes to the process's stderr before Python can configure any logging
(``WARNING: All log messages before absl::InitializeLog() ...``, the oneDNN notice, "Could not
find cuda drivers" and, on a machine without a GPU, ``failed call to cuInit``), and TFDS logs
``WARNING:absl:Variant folder ... has no dataset_info.json`` for every offline dataset.
:func:`import_tensorflow` imports TensorFlow and looks up its devices with file descriptor 2
captured, then writes back every line that is not one of those known notices; anything else
TensorFlow says (a real error) still reaches the user.

Debug mode (``kerasdl --debug`` or ``KERASDL_DEBUG=1``) shows everything.
"""
from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import warnings
from contextlib import contextmanager
from typing import Iterator

DEBUG_ENV = "KERASDL_DEBUG"
# Keras's tf2onnx patch asks hasattr(np, "object"): numpy warns on every ONNX export (issue 24)
warnings.filterwarnings("ignore", message=r"In the future `np\.object` will be", category=FutureWarning)

#: lines TensorFlow and TFDS write on every start, none of which asks anything of the user
NOISE = re.compile("|".join([
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"oneDNN custom operations are on",
    r"cudart_stub\.cc.*Could not find cuda drivers",
    r"failed call to cuInit",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"computation placer already registered",
    r"TF-TRT Warning: Could not find TensorRT",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"To enable the following instructions: .* rebuild TensorFlow",
    # logged at ERROR level, once per process, the first time a graph transposes booleans (the
    # masks of the sequence models), though TensorFlow then simply uses its Eigen kernel
    r"oneDNN supports DT_BOOL only on platforms with AVX-512",
]))


def debug_enabled() -> bool:
    """Whether the user asked to see everything (``--debug`` sets ``KERASDL_DEBUG=1``)."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


@contextmanager
def filtered_stderr(noise: re.Pattern = NOISE) -> Iterator[None]:
    """Capture file descriptor 2 (C++ writes included) and write back the lines that are not noise.

    The lines that do not match ``noise`` are written back when the block ends, exception or not.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not noise.search(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


_imported = False


def import_tensorflow():
    """Import TensorFlow and find its devices, quietly unless in debug mode; return the module.

    Idempotent; the first call in a process does the work. Every kerasdl command that needs
    TensorFlow calls it first, and so does ``import kerasdl`` for library users, when they first
    reach ``kerasdl.build``, ``run``, ``list_models`` or ``load_model`` (unless their program
    imported TensorFlow itself first).
    """
    global _imported
    if _imported:
        import tensorflow as tf

        return tf
    if debug_enabled():
        import tensorflow as tf

        tf.config.list_physical_devices()
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with filtered_stderr():
            import tensorflow as tf

            import keras  # noqa: F401  (its first import initialises the backend)

            tf.config.list_physical_devices()   # cuInit happens here on a machine without a GPU
        logging.getLogger("absl").setLevel(logging.ERROR)   # TFDS's per-folder warnings
    _imported = True
    return tf



def say_the_once_per_process_notices() -> None:
    """Make TensorFlow log, with fd 2 filtered, the notices it logs once per process.

    Otherwise they come in the middle of a run (oneDNN's DT_BOOL notice, the first time a graph
    transposes booleans, as the sequence models' masks do). Runs a 20 ms graph, so it initialises
    TensorFlow's context: call it after the devices are set up (logical devices and collective ops
    must come first).
    """
    if debug_enabled():
        return
    import tensorflow as tf

    with filtered_stderr():
        transpose = tf.function(lambda x: tf.transpose(tf.not_equal(x, 0)), autograph=False)
        transpose(tf.constant([[1, 0]]))
