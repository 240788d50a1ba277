"""A sweep as TensorBoard shows it: one HParams session per trial, named by the trial.

Each trial's run writes its TensorBoard logs into the trial's folder
(``callbacks.tensorboard.log_dir``), so ``tensorboard --logdir sweeps/<study>`` lists
``trial-0003/train`` and ``trial-0003/validation`` and nothing else per trial. The sweep process
writes the rest, without TensorFlow (TensorBoard's protos and record format only):

* each trial's session, in its ``validation`` run (``train`` where there is no validation data):
  the session start (trial id ``trial-0003``, the sampled values of the searched keys only; the
  rest of the config stays in the run's config.json), then at every epoch the metric's best value
  so far (the last one is the trial's score, as in trials.csv), and at the end ``epochs`` and
  ``wall_s``;
* beside it, the sweep's HParams experiment config: the searched keys with their domains
  (``choice`` -> Discrete, ``uniform``/``loguniform`` -> RealInterval, ``int`` -> IntInterval),
  the sweep's metric first, under the name the user asked for (``val_accuracy``), then ``epochs``
  and ``wall_s``. So TensorBoard shows these columns only, not every config key.

TensorBoard's HParams plugin reads a session's metric from ``<session run>/<group>``; every metric
here has the empty group, so it lives in the session run itself. The experiment config is read from
whichever run holds it (every trial's holds the same, as a study refuses other settings); at the
sweep directory itself it would make an empty run ``.`` in TensorBoard's run list.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Optional

from kerasdl.sweep.space import Param

#: the metrics declared after the sweep's own (tag, description)
EPOCHS, WALL = "epochs", "wall_s"
_EXTRA_METRICS = ((EPOCHS, "epochs the trial ran (fewer where it stopped early or was pruned)"),
                  (WALL, "seconds the trial took, start to end, as in trials.csv"))
_COUNTER = iter(range(1 << 62))
_COUNTER_LOCK = threading.Lock()


def trial_name(number: int) -> str:
    """``trial-0003``: a trial's folder, its TensorBoard runs' prefix and its HParams trial id."""
    return f"trial-{number:04d}"


def session_run(experiment) -> str:
    """The run of a trial's folder that holds its HParams session.

    ``validation`` where the experiment has validation data (Keras writes ``val_*`` there), else
    ``train``."""
    return "validation" if experiment.data.validation_fraction > 0 else "train"


def hparam_value(param: Param, value: Any) -> Any:
    """``value`` of ``param`` as an HParams value.

    Numbers and bools as they are (ints stay ints), anything else as text (a tuple choice as its
    Python text, as the study keeps it)."""
    if param.kind != "choice":
        return int(value) if param.kind == "int" else float(value)
    if _choice_type(param) is str:
        return value if isinstance(value, str) else repr(value)
    return value


def _choice_type(param: Param) -> type:
    values = param.values
    if all(isinstance(v, bool) for v in values):
        return bool
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return float
    return str


def hparams_config(plan):
    """The HParams experiment config of sweep ``plan`` (a ``Summary`` proto; no TensorFlow)."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    hparams = []
    for key, param in plan.space.items():
        if param.kind == "choice":
            domain = hp.Discrete([hparam_value(param, v) for v in param.values])
        elif param.kind == "int":
            domain = hp.IntInterval(int(param.low), int(param.high))
        else:
            domain = hp.RealInterval(float(param.low), float(param.high))
        hparams.append(hp.HParam(key, domain, display_name=key,
                                 description=f"--param {key}={param.describe()}"))
    best = "highest" if plan.direction == "maximize" else "lowest"
    metrics = [hp.Metric(plan.metric, display_name=plan.metric,
                         description=f"the sweep's metric: the {best} {plan.metric} of the trial's "
                                     "epochs so far (its score, as in trials.csv)")]
    metrics += [hp.Metric(tag, display_name=tag, description=text) for tag, text in _EXTRA_METRICS]
    return hp.hparams_config_pb(hparams=hparams, metrics=metrics)


class EventFile:
    """One TensorBoard event file, written record by record without TensorFlow."""

    def __init__(self, folder: Path, suffix: str = ".kerasdl-sweep"):
        from tensorboard.compat.proto import event_pb2
        from tensorboard.summary.writer.record_writer import RecordWriter

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with _COUNTER_LOCK:
            unique = next(_COUNTER)
        self.path = folder / (f"events.out.tfevents.{int(time.time()):010d}."
                              f"{socket.gethostname()}.{os.getpid()}.{unique}{suffix}")
        self._event_pb2 = event_pb2
        self._file = open(self.path, "wb")
        self._writer = RecordWriter(self._file)
        self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def _write(self, event) -> None:
        self._writer.write(event.SerializeToString())
        self._file.flush()

    def summary(self, summary, step: int = 0) -> None:
        self._write(self._event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def scalar(self, tag: str, value: float, step: int) -> None:
        from tensorboard.compat.proto import summary_pb2

        self.summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(
            tag=tag, simple_value=float(value))]), step)

    def close(self) -> None:
        self._file.close()


class TrialSession:
    """A trial's HParams session, written by the sweep process while the trial runs."""

    def __init__(self, plan, trial_dir: Path, params: dict[str, Any]):
        from tensorboard.plugins.hparams import summary_v2 as hp

        self.plan, self.best = plan, None
        self.events = EventFile(Path(trial_dir) / session_run(plan.experiment))
        self.events.summary(hparams_config(plan))
        values = {key: hparam_value(plan.space[key], value) for key, value in params.items()}
        self.events.summary(hp.hparams_pb(values, trial_id=Path(trial_dir).name,
                                          start_time_secs=time.time()))

    def epoch(self, epoch: int, value: float) -> None:
        """The metric of epoch ``epoch`` (from 1): writes the best value so far at that step."""
        better = (self.best is None or (value > self.best if self.plan.direction == "maximize"
                                        else value < self.best))
        self.best = value if better else self.best
        self.events.scalar(self.plan.metric, self.best, epoch)

    def end(self, epochs: int, wall_s: float, status: Optional[str] = None) -> None:
        """Write the trial's ``epochs`` and ``wall_s``, and close the session.

        With ``status`` (``success``, ``failure``) the session's end too, which the dashboard's
        Status filter reads; a pruned trial has none (its status reads Unknown)."""
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

        self.events.scalar(EPOCHS, epochs, epochs)
        self.events.scalar(WALL, wall_s, epochs)
        if status is not None:
            end = plugin_data_pb2.SessionEndInfo(
                status=api_pb2.STATUS_SUCCESS if status == "success" else api_pb2.STATUS_FAILURE,
                end_time_secs=time.time())
            self.events.summary(summary_pb2.Summary(value=[summary_pb2.Summary.Value(
                tag=metadata.SESSION_END_INFO_TAG, tensor=metadata.NULL_TENSOR,
                metadata=metadata.create_summary_metadata(
                    plugin_data_pb2.HParamsPluginData(session_end_info=end)))]), epochs)
        self.events.close()
