"""Recurrent networks: SimpleRNN (Elman), LSTM, GRU and bidirectional RNNs.

One private core, :func:`recurrent_layers`, makes the layer list of every model here (and of the
tagger in :mod:`kerasdl.models.tagger`): an optional front (token embedding, or masking of padded
real-valued steps), one or more recurrent layers, and a head. The registered classes only pick the
cell and their defaults.

Shapes of the task:

* many-to-one (``return_sequences=False``): the last recurrent layer returns its final state and
  the head maps it to one prediction per sequence: ``(batch, T, F) -> (batch, outputs)``.
* many-to-many (``return_sequences=True``): the head is applied at every step (a ``Dense`` on a
  3-D tensor acts on the last axis, i.e. ``TimeDistributed(Dense)``): ``-> (batch, T, outputs)``.

Heads: with ``num_classes`` a classifier (softmax; one sigmoid unit for ``num_classes=1``); without
it (or ``task="regression"``) a linear ``Dense(num_outputs)``. Heads compute in float32 even under
a mixed-precision policy, as :func:`kerasdl.models.base.head_layers` does.

Inputs: real-valued steps ``(T, F)``; or token ids ``(T,)`` with ``vocab_size`` set, embedded with
``Embedding(mask_zero=True)`` so that id 0 is padding and every later layer skips it (the recurrent
layers carry their state over padded steps; the loss and metrics ignore padded steps of
many-to-many outputs). ``T`` may be ``None`` (any length).

Parameter counts, input size ``d``, ``n`` units (pinned in tests/test_sequences.py):

* SimpleRNN  ``n * (n + d + 1)``       -- ``h_t = tanh(W_h h_{t-1} + W_x x_t + b)``
* LSTM       ``4 * n * (n + d + 1)``   -- input, forget, cell and output gates
* GRU        ``3 * n * (n + d + 2)``   -- update, reset, candidate; Keras' ``reset_after=True``
  (the cuDNN form) keeps separate input and recurrent biases, hence the ``+ 2``

Reference:
    Elman. "Finding structure in time." Cognitive Science 14(2), 1990.
    Hochreiter, Schmidhuber. "Long short-term memory." Neural Computation 9(8), 1997.
    Cho, van Merrienboer, Gulcehre, Bahdanau, Bougares, Schwenk, Bengio. "Learning phrase
    representations using RNN encoder-decoder for statistical machine translation." EMNLP 2014.
    Schuster, Paliwal. "Bidirectional recurrent neural networks." IEEE Trans. Signal Processing
    45(11), 1997.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import keras
import numpy as np
from keras import layers

from kerasdl.models.base import ChainModel
from kerasdl.models.registry import register

#: cell name -> keras recurrent layer class name
CELLS = {"simple": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
MERGE_MODES = ("concat", "sum", "ave", "mul")
TASKS = ("auto", "classification", "regression")


def recurrent_layers(*, cell: str, units: Sequence[int], bidirectional: bool = False,
                     merge_mode: str = "concat", return_sequences: bool = False,
                     num_classes: Optional[int] = None, task: str = "auto", num_outputs: int = 1,
                     include_top: bool = True, classifier_activation: Optional[str] = "auto",
                     vocab_size: Optional[int] = None, embedding_dim: int = 32,
                     mask_zero: bool = True, mask_value: Optional[float] = None,
                     dropout: float = 0.0, recurrent_dropout: float = 0.0,
                     front: Sequence[keras.layers.Layer] = (), head_name: str = "predictions"
                     ) -> list[keras.layers.Layer]:
    """The layer list of a recurrent model: front, recurrent stack, head (see the module docstring).

    Args:
        cell: "simple" (Elman), "lstm" or "gru".
        units: units of each recurrent layer, first to last; all but the last return sequences.
        bidirectional: wrap each recurrent layer in ``Bidirectional`` (forward + backward pass).
        merge_mode: how ``Bidirectional`` merges the two directions: concat, sum, ave or mul.
        return_sequences: the last recurrent layer returns every step (many-to-many).
        num_classes: classes of the classifier head; None for a regression head.
        task: "auto" (classification iff ``num_classes``), "classification" or "regression".
        num_outputs: units of the linear regression head (values predicted per sequence or step).
        include_top: end with the head; otherwise with the last recurrent layer's output.
        classifier_activation: "auto" (sigmoid for one class, softmax for more), a name, or None
            (logits).
        vocab_size: token ids in ``[0, vocab_size)`` are embedded first (0 is padding when
            ``mask_zero``); None: the inputs are real-valued steps ``(T, F)``.
        embedding_dim: size of the token embedding.
        mask_zero: token id 0 is padding: masked in every later layer, the loss and the metrics.
        mask_value: real-valued inputs only: steps whose features all equal this value are padding
            (a ``Masking`` layer); None: no masking.
        dropout: dropout rate of each recurrent layer's inputs.
        recurrent_dropout: dropout rate of each recurrent layer's recurrent state.
        front: layers placed before everything else (e.g. a StringLookup for raw tokens).
        head_name: name of the head layer.
    """
    task = _checked_task(cell, units, merge_mode, task, num_classes, include_top, vocab_size,
                         mask_value, dropout, recurrent_dropout)
    units = tuple(units)
    stack: list[keras.layers.Layer] = list(front)
    if vocab_size is not None:
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2; received: vocab_size={vocab_size!r}")
        stack.append(layers.Embedding(vocab_size, embedding_dim, mask_zero=mask_zero,
                                      name="embedding"))
    elif mask_value is not None:
        stack.append(layers.Masking(mask_value=mask_value, name="masking"))

    rnn_class = getattr(layers, CELLS[cell])
    for index, n in enumerate(units, start=1):
        last = index == len(units)
        rnn = rnn_class(int(n), return_sequences=return_sequences or not last, dropout=dropout,
                        recurrent_dropout=recurrent_dropout, name=f"{cell}{index}")
        if bidirectional:
            rnn = layers.Bidirectional(rnn, merge_mode=merge_mode, name=f"bidirectional{index}")
        stack.append(rnn)

    if include_top:
        if task == "classification":
            if classifier_activation == "auto":
                classifier_activation = "sigmoid" if num_classes == 1 else "softmax"
            stack.append(layers.Dense(num_classes, activation=classifier_activation,
                                      name=head_name, dtype="float32"))
        else:
            stack.append(layers.Dense(num_outputs, activation=None, name=head_name,
                                      dtype="float32"))
    return stack


def _checked_task(cell: str, units: Sequence[int], merge_mode: str, task: str,
                  num_classes: Optional[int], include_top: bool, vocab_size: Optional[int],
                  mask_value: Optional[float], dropout: float, recurrent_dropout: float) -> str:
    """Check :func:`recurrent_layers`' arguments (Keras's "received: ..." style); the task."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(map(repr, CELLS))}; received: cell={cell!r}")
    units = tuple(units)
    if not units or any(int(u) < 1 for u in units):
        raise ValueError(f"units must be a non-empty sequence of positive ints; received: "
                         f"units={units!r}")
    if merge_mode not in MERGE_MODES:
        raise ValueError(f"merge_mode must be one of {', '.join(map(repr, MERGE_MODES))}; "
                         f"received: merge_mode={merge_mode!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}; received: task={task!r}")
    if task == "auto":
        task = "classification" if num_classes else "regression"
    if include_top and task == "classification" and (num_classes is None or num_classes < 1):
        raise ValueError(f"a classification head needs num_classes >= 1; received: "
                         f"num_classes={num_classes!r}")
    if task == "regression" and num_classes is not None:
        raise ValueError(f"task='regression' has a linear head of num_outputs units and takes no "
                         f"num_classes; received: num_classes={num_classes!r}")
    if vocab_size is not None and mask_value is not None:
        raise ValueError("mask_value masks real-valued inputs; token inputs (vocab_size) are "
                         "masked by mask_zero. Received both vocab_size and mask_value")
    for key, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"{key} must be in [0, 1); received: {key}={rate!r}")
    return task


class SequenceModel(ChainModel):
    """A ChainModel whose input dtype follows its options (token ids, raw strings or floats).

    A recurrent model takes real-valued steps, or token ids when built with ``vocab_size``;
    :meth:`input_dtype_for` tells ChainModel's builders which.
    """

    default_input_shape = (10, 1)

    @classmethod
    def input_dtype_for(cls, options: dict[str, Any]) -> str:
        return "int32" if options.get("vocab_size") is not None else cls.input_dtype

    @classmethod
    def kwargs_from_data(cls, kwargs: dict[str, Any], data) -> dict[str, Any]:
        """As ChainModel's, but a regression model (``task="regression"``) takes no num_classes."""
        if kwargs.get("task") == "regression":
            given = "num_classes" in kwargs
            completed = super().kwargs_from_data(kwargs, data)
            if not given:
                completed.pop("num_classes", None)
            return completed
        return super().kwargs_from_data(kwargs, data)


def token_batch(batch_size: int, length: int, vocab_size: int, seed: int = 0,
                min_length: int = 1) -> np.ndarray:
    """Random token ids in ``[1, vocab_size)`` padded with 0 after a random length per row."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab_size, size=(batch_size, length))
    lengths = rng.integers(min_length, length + 1, size=batch_size)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return ids.astype("int32")


class _CellModel(SequenceModel):
    """SimpleRNN, LSTM or GRU: ``cell`` is fixed by the registered class."""

    cell = "lstm"

    @classmethod
    def make_layers(cls, units: Sequence[int] = (32,), num_classes: Optional[int] = None,
                    task: str = "auto", num_outputs: int = 1, return_sequences: bool = False,
                    include_top: bool = True, classifier_activation: Optional[str] = "auto",
                    vocab_size: Optional[int] = None, embedding_dim: int = 32,
                    mask_zero: bool = True, mask_value: Optional[float] = None,
                    dropout: float = 0.0, recurrent_dropout: float = 0.0
                    ) -> list[keras.layers.Layer]:
        """Args: see :func:`recurrent_layers` (``cell`` is the class's)."""
        return recurrent_layers(
            cell=cls.cell, units=units, num_classes=num_classes, task=task,
            num_outputs=num_outputs, return_sequences=return_sequences, include_top=include_top,
            classifier_activation=classifier_activation, vocab_size=vocab_size,
            embedding_dim=embedding_dim, mask_zero=mask_zero, mask_value=mask_value,
            dropout=dropout, recurrent_dropout=recurrent_dropout)


@register("simple_rnn")
class SimpleRNN(_CellModel):
    """Elman RNN (Elman 1990), h_t = tanh(W_h h_{t-1} + W_x x_t + b); n*(n+d+1) parameters a layer.

    Many-to-one regression (linear head) by default; classification with ``num_classes``;
    token input with ``vocab_size``. The default input is the seed's sequences of 10 values.
    """

    cell = "simple"
    test_kwargs = {"input_shape": (6, 3), "units": (8,), "num_classes": 3}


@register("lstm")
class LSTM(_CellModel):
    """LSTM (Hochreiter & Schmidhuber 1997): gated memory cells for long-term dependencies.

    Many-to-one regression (linear head) by default; classification with ``num_classes``;
    token input with ``vocab_size``; ``units=(64, 64)`` stacks two layers.
    """

    cell = "lstm"
    test_kwargs = {"input_shape": (7, 2), "units": (8, 6)}


@register("gru")
class GRU(_CellModel):
    """GRU (Cho et al. 2014): update and reset gates, fewer parameters than an LSTM.

    Many-to-one regression (linear head) by default; classification with ``num_classes``;
    token input with ``vocab_size``.
    """

    cell = "gru"
    test_kwargs = {"input_shape": (5, 2), "units": (8,), "num_classes": 1}


@register("bidirectional")
class BidirectionalRNN(SequenceModel):
    """Bidirectional RNN (Schuster & Paliwal 1997): forward and backward passes merged; any cell.

    Many-to-one by default; many-to-many (one prediction per step) with ``return_sequences=True``.
    """

    test_kwargs = {"input_shape": (6, 2), "units": (6,), "cell": "gru", "return_sequences": True,
                   "num_classes": 4, "merge_mode": "sum"}

    @staticmethod
    def make_layers(cell: str = "lstm", units: Sequence[int] = (32,), merge_mode: str = "concat",
                    return_sequences: bool = False, num_classes: Optional[int] = None,
                    task: str = "auto", num_outputs: int = 1, include_top: bool = True,
                    classifier_activation: Optional[str] = "auto",
                    vocab_size: Optional[int] = None, embedding_dim: int = 32,
                    mask_zero: bool = True, mask_value: Optional[float] = None,
                    dropout: float = 0.0, recurrent_dropout: float = 0.0
                    ) -> list[keras.layers.Layer]:
        """Args: see :func:`recurrent_layers`; every recurrent layer is bidirectional."""
        return recurrent_layers(
            cell=cell, units=units, bidirectional=True, merge_mode=merge_mode,
            return_sequences=return_sequences, num_classes=num_classes, task=task,
            num_outputs=num_outputs, include_top=include_top,
            classifier_activation=classifier_activation, vocab_size=vocab_size,
            embedding_dim=embedding_dim, mask_zero=mask_zero, mask_value=mask_value,
            dropout=dropout, recurrent_dropout=recurrent_dropout)
