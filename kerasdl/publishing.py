"""Publishing a run's model under saved_models/, by the publishing rule.

The publishing rule: ``saved_models/<experiment>.keras`` is replaced only by a model that scored
strictly better on the same test data (same dataset, source, split and limits) by the experiment's
selection metric (the monitored metric's test value, e.g. ``val_loss`` -> test ``loss``). A model
there with no record of its score is never replaced under the default policy. With
``output.publish='always'`` the previous file is kept as ``<experiment>.previous.keras``.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from kerasdl.config import HIGHER_IS_BETTER, Experiment
from kerasdl.files import atomic_copy, atomic_write_json, exclusive_lock


@dataclass(frozen=True)
class PublishResult:
    """Whether a run's model was published, where to, and why (or why not)."""

    published: bool
    path: Path
    reason: str


def selection_metric(experiment: Experiment, test_metrics: dict[str, float]) -> tuple[str, str]:
    """(test metric name, "min"/"max") that ranks runs: the monitored metric's test value."""
    monitor = experiment.callbacks.monitor
    base = monitor[4:] if monitor.startswith("val_") else monitor
    if base not in test_metrics:
        base = "loss"
    return base, "max" if base in HIGHER_IS_BETTER else "min"


def data_fingerprint(experiment: Experiment, data) -> dict[str, Any]:
    """What makes two test scores comparable (the publishing rule compares only equal ones)."""
    return {"name": experiment.data.name, "source": data.source,
            "test_split": experiment.data.test_split, "test_limit": experiment.data.test_limit,
            "split_seed": experiment.data.split_seed, "test_examples": data.counts["test"]}


def publish_model(model_path: Path, experiment: Experiment, test_metrics: dict[str, float],
                  data_fingerprint: dict[str, Any], run_dir: Path,
                  inference: Optional[dict[str, Any]] = None) -> PublishResult:
    """Copy the run's model to saved_models/<experiment>.keras if the publishing rule allows it.

    ``inference`` (class names, feature columns, vocabularies: ``DataBundle.inference_record``)
    goes into the record with the config, so that ``kerasdl predict`` needs no run directory."""
    saved_dir = Path(experiment.output.saved_models_dir)
    target = saved_dir / f"{experiment.name}.keras"
    record_path = saved_dir / f"{experiment.name}.json"
    policy = experiment.output.publish
    metric, mode = selection_metric(experiment, test_metrics)
    new_score = float(test_metrics[metric])
    if policy == "never":
        return PublishResult(False, target, "output.publish='never'")
    with exclusive_lock(saved_dir / f".{experiment.name}.lock"):
        old = _read_record(record_path) if target.exists() else None
        if old is not None and old.get("run_dir") == str(run_dir):   # resumed, published already
            return PublishResult(True, target, "published by this run before it was interrupted")
        if target.exists() and policy == "if_better":
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
            reason = f"test {metric} {new_score:.4f} beats the earlier {old_score}"
        elif target.exists():
            shutil.copyfile(target, target.with_name(f"{experiment.name}.previous.keras"))
            reason = (f"output.publish='always'; previous model kept as "
                      f"{experiment.name}.previous.keras")
        else:
            reason = "first model of this name"
        atomic_copy(model_path, target)
        atomic_write_json(record_path, {"experiment": experiment.name, "run_dir": str(run_dir),
                                        "selection_metric": metric, "mode": mode,
                                        "test_metrics": test_metrics, "data": data_fingerprint,
                                        # what kerasdl predict needs without the run directory
                                        "config": experiment.to_dict(), **(inference or {})})
        return PublishResult(True, target, reason)


def _read_record(path: Path) -> Optional[dict]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
