"""Publishing a run's model under saved_models/, by the publishing rule.

The publishing rule: ``saved_models/<name>.keras`` is replaced only by a model that scored
strictly better on the same test data (same dataset, source, split and limits) by the experiment's
selection metric (the monitored metric's test value, e.g. ``val_loss`` -> test ``loss``). A model
there with no record of its score is never replaced under the default policy;
``output.publish='always'`` replaces it anyway. The model published before stays as
``<name>.previous.keras`` (with its record ``<name>.previous.json``).

The name (:func:`publish_name`) is the experiment's, unless the run's data are not its
experiment file's own (``--set data.name=csv:wine.csv`` on ``experiments/mlp_digits.py``): then
``<experiment>-<data stem>`` (``mlp_digits-wine``), so a stock name never holds another task's model.

A model and its record change together, in one rename (issue 24). The layout::

    <name>.keras          -> <name>.current/<name>.keras        fixed links, made once
    <name>.json           -> <name>.current/<name>.json
    <name>.previous.keras -> <name>.current/previous/<name>.keras
    <name>.previous.json  -> <name>.current/previous/<name>.json
    <name>.current        -> <name>.versions/<stamp>             the one pointer
    <name>.versions/<stamp>/<name>.keras, <name>.json, previous -> ../<the stamp before>

A publish writes a new version folder aside, then renames a new ``<name>.current`` link into place:
a process killed at any moment leaves the old pair (and its previous) or the new one. Version
folders that are neither current nor previous are removed afterwards. A ``<name>.keras`` that is
not this layout's link (an older kerasdl's file, the user's own) is adopted first, unchanged. The
moments between two writes are named for kill tests (``KERASDL_KILL_AT``):
publish-legacy-adopted, publish-record-linked, publish-version-written, publish-pointer-made and
publish-switched (tests/test_publish_export_safety.py kills a publish at each).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from kerasdl.config import Experiment, metric_base, metric_direction
from kerasdl.files import atomic_symlink, atomic_write_json, exclusive_lock, kill_point


@dataclass(frozen=True)
class PublishResult:
    """Whether a run's model was published, where to, and why (or why not)."""

    published: bool
    path: Path
    reason: str


def selection_metric(experiment: Experiment, test_metrics: dict[str, float]) -> tuple[str, str]:
    """(test metric name, "min"/"max") that ranks runs: the monitored metric's test value."""
    base = metric_base(experiment.callbacks.monitor)
    if base not in test_metrics:
        base = "loss"
    return base, metric_direction(base)


def data_fingerprint(experiment: Experiment, data) -> dict[str, Any]:
    """What makes two test scores comparable (the publishing rule compares only equal ones)."""
    return {"name": experiment.data.name, "source": data.source,
            "test_split": experiment.data.test_split, "test_limit": experiment.data.test_limit,
            "split_seed": experiment.data.split_seed, "test_examples": data.counts["test"]}


def publish_name(experiment: Experiment) -> tuple[str, str]:
    """(the name ``experiment``'s run publishes under, why it is not the experiment's, or "").

    The experiment's name where the run's ``data.name`` is its experiment file's own (the file
    ``kerasdl run <name>`` would run: ``./experiments/<name>.py``, else kerasdl's own); else
    ``<experiment>-<data stem>``. With no such file, a run on the user's own files (``csv:``,
    ``npz:``, ``folder:``, ``textfolder:``) whose stem is not the experiment's name is renamed too.
    Imports no TensorFlow.
    """
    from kerasdl.data.local import SCHEMES

    data = experiment.data.name
    scheme, _, rest = data.partition(":")
    stem = Path(rest.rstrip("/")).stem if scheme in SCHEMES else data
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_.-")[:60] or "data"   # the name rule
    own = _own_data(experiment)
    if own is not None:
        if data == own:
            return experiment.name, ""
        whose = f"not on the experiment's own {own}"
    elif scheme in SCHEMES and stem != experiment.name:
        whose = "the user's own files"
    else:
        return experiment.name, ""
    name = f"{experiment.name}-{stem}"
    return name, f"named {name}, not {experiment.name}: trained on {data}, {whose}"


def _own_data(experiment: Experiment) -> Optional[str]:
    """The data.name of the experiment file of this name, where that file defines this experiment.

    The file is looked up as ``kerasdl run NAME`` looks it up: ./experiments, then the experiment
    files that come with kerasdl."""
    from kerasdl.errors import KerasdlError
    from kerasdl.experiment import load_experiment, resolve_experiment_path

    try:
        path = resolve_experiment_path(experiment.name)
        own = load_experiment(path)
    except KerasdlError:
        return None
    return own.data.name if own.name == experiment.name else None


def publish_model(model_path: Path, experiment: Experiment, test_metrics: dict[str, float],
                  data_fingerprint: dict[str, Any], run_dir: Path,
                  inference: Optional[dict[str, Any]] = None,
                  name: Optional[str] = None) -> PublishResult:
    """Publish the run's model as saved_models/<name>.keras if the publishing rule allows it.

    ``name`` defaults to the experiment's (the runner passes :func:`publish_name`'s).
    ``inference`` (class names, feature columns, vocabularies: ``DataBundle.inference_record``)
    goes into the record with the config, so that ``kerasdl predict`` needs no run directory."""
    place = Published(Path(experiment.output.saved_models_dir), name or experiment.name)
    target, record_path = place.model, place.record
    policy = experiment.output.publish
    metric, mode = selection_metric(experiment, test_metrics)
    new_score = float(test_metrics[metric])
    if policy == "never":
        return PublishResult(False, target, "output.publish='never'")
    with exclusive_lock(place.saved_dir / f".{place.name}.lock"):
        exists, old = place.state()
        if old is not None and old.get("run_dir") == str(run_dir):   # resumed, published already
            place.finish()
            return PublishResult(True, target, "published by this run before it was interrupted")
        if exists and policy == "if_better":
            if old is None:
                return PublishResult(False, target, f"kept {target}: it has no readable record "
                                     f"({record_path}) of its score; set output.publish='always' "
                                     "to replace it")
            if old.get("data") != data_fingerprint:
                return PublishResult(False, target, f"kept {target}: it was scored on other test "
                                     f"data ({old.get('data')}); set output.publish='always' to "
                                     "replace it")
            old_score = old.get("test_metrics", {}).get(metric)
            if not isinstance(old_score, (int, float)):
                return PublishResult(False, target, f"kept {target}: its record ({record_path}) "
                                     f"has no test {metric} to compare with; set "
                                     "output.publish='always' to replace it")
            better = new_score > old_score if mode == "max" else new_score < old_score
            if not better:
                return PublishResult(False, target, f"kept {target}: its test {metric} "
                                     f"{old_score:.4f} is as good or better than this run's "
                                     f"{new_score:.4f}")
            reason = (f"test {metric} {new_score:.4f} beats the earlier {old_score}; previous "
                      f"model kept as {place.name}.previous.keras")
        elif exists:
            reason = (f"output.publish='always'; previous model kept as "
                      f"{place.name}.previous.keras")
        else:
            reason = "first model of this name"
        place.publish(model_path, {"experiment": experiment.name, "published_as": place.name,
                                   "run_dir": str(run_dir), "selection_metric": metric,
                                   "mode": mode, "test_metrics": test_metrics,
                                   "data": data_fingerprint,
                                   # what kerasdl predict needs without the run directory
                                   "config": experiment.to_dict(), **(inference or {})})
        return PublishResult(True, target, reason)


@dataclass(frozen=True)
class Published:
    """The files of one published name in saved_models/ (the layout in the module docstring).

    Call its methods with the name's lock held (:func:`publish_model` does)."""

    saved_dir: Path
    name: str

    @property
    def model(self) -> Path:
        return self.saved_dir / f"{self.name}.keras"

    @property
    def record(self) -> Path:
        return self.saved_dir / f"{self.name}.json"

    @property
    def current(self) -> Path:
        return self.saved_dir / f"{self.name}.current"

    @property
    def versions(self) -> Path:
        return self.saved_dir / f"{self.name}.versions"

    def _links(self, previous: bool = True) -> list[tuple[Path, str]]:
        """(fixed link, what it points to): the record and model, current and previous."""
        places = [("", f"{self.name}.current")]
        places += [(".previous", f"{self.name}.current/previous")] if previous else []
        return [(self.saved_dir / f"{self.name}{kind}{suffix}", f"{where}/{self.name}{suffix}")
                for kind, where in places for suffix in (".json", ".keras")]

    def _legacy(self) -> bool:
        """Whether ``<name>.keras`` is a file not of this layout (an older kerasdl's, the user's)."""
        ours = f"{self.name}.current/{self.name}.keras"
        return self.model.is_file() and not (self.model.is_symlink()
                                             and os.readlink(self.model) == ours)

    def state(self) -> tuple[bool, Optional[dict]]:
        """(whether a model is published under this name, its record or None)."""
        if self._legacy():
            return True, _read_record(self.record)
        version = self.current
        if self.current.is_symlink() and (version / f"{self.name}.keras").is_file():
            return True, _read_record(version / f"{self.name}.json")
        return False, None

    def publish(self, model_path: Path, record: dict[str, Any]) -> None:
        """Make ``model_path`` and ``record`` the published pair, the current one the previous."""
        self._clear_temporaries()
        if self._legacy():
            self._adopt_legacy()
        version = self._new_version()
        shutil.copyfile(model_path, version / f"{self.name}.keras")
        atomic_write_json(version / f"{self.name}.json", record)
        previous = self.current.is_symlink()
        if previous:
            os.symlink(f"../{Path(os.readlink(self.current)).name}", version / "previous")
        kill_point("publish-version-written")
        self._link(previous)              # a first publish: links to a pointer not made yet
        atomic_symlink(self.current, f"{self.versions.name}/{version.name}",
                       kill_at="publish-pointer-made")
        kill_point("publish-switched")
        self._collect_garbage()

    def finish(self) -> None:
        """Complete a publish killed after its switch: the links made, old versions removed."""
        self._link((self.current / "previous").is_symlink())
        self._collect_garbage()

    def _adopt_legacy(self) -> None:
        """Move a plain ``<name>.keras`` (and record, and previous) into the layout, unchanged.

        Copies become a version folder and the current pointer; then each link replaces a plain
        file whose content it shows, so readers see the same pair throughout."""
        version = self._new_version()
        shutil.copyfile(self.model, version / f"{self.name}.keras")
        if self.record.is_file():
            shutil.copyfile(self.record, version / f"{self.name}.json")
        previous = self.saved_dir / f"{self.name}.previous.keras"
        kept = previous.is_file() and not previous.is_symlink()
        if kept:
            before = self._new_version()
            shutil.copyfile(previous, before / f"{self.name}.keras")
            os.symlink(f"../{before.name}", version / "previous")
        atomic_symlink(self.current, f"{self.versions.name}/{version.name}")
        kill_point("publish-legacy-adopted")
        self._link(kept)

    def _link(self, previous: bool) -> None:
        for index, (link, target) in enumerate(self._links(previous)):
            if not (link.is_symlink() and os.readlink(link) == target):
                atomic_symlink(link, target)
            if index == 0:
                kill_point("publish-record-linked")   # the record's link made, the model's not

    def _new_version(self) -> Path:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        self.versions.mkdir(parents=True, exist_ok=True)
        for suffix in ("", *(f"-{i}" for i in range(1, 1000))):
            try:
                (self.versions / f"{stamp}{suffix}").mkdir()
                return self.versions / f"{stamp}{suffix}"
            except FileExistsError:
                continue
        raise FileExistsError(f"no free version folder name under {self.versions}")

    def _collect_garbage(self) -> None:
        """Remove the version folders that are neither current nor previous (a killed publish's)."""
        keep = set()
        if self.current.is_symlink():
            current = self.versions / Path(os.readlink(self.current)).name
            keep.add(current.name)
            if (current / "previous").is_symlink():
                keep.add(Path(os.readlink(current / "previous")).name)
        for folder in self.versions.iterdir() if self.versions.is_dir() else ():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)

    def _clear_temporaries(self) -> None:
        """Remove the temporary links of a publish killed before their rename."""
        for link in [self.current, *(link for link, _ in self._links())]:
            for tmp in self.saved_dir.glob(f".{link.name}.*.tmp"):
                if tmp.is_symlink():
                    tmp.unlink()


def _read_record(path: Path) -> Optional[dict]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
