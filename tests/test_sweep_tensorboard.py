"""A sweep as TensorBoard shows it (issue 27): runs and HParams trial ids named by the trial, the
searched keys as the only hyperparameters, the sweep's metric first under its own name.

The default suite checks what the sweep writes, read back record by record with TensorBoard's own
protos (no training, no TensorFlow). The slow test runs a real sweep, serves it with a real
TensorBoard on 127.0.0.1 and reads its HTTP API, as the dashboard does; where Chromium is
installed it also saves a screenshot of the HParams dashboard to /tmp/sweep_hparams.png.
"""
from __future__ import annotations

import csv
import json
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from kerasdl.experiment import load_experiment
from kerasdl.sweep import parse_space
from kerasdl.sweep.study import plan_sweep

EXPERIMENT = str(REPO / "experiments" / "mlp_digits.py")
SCREENSHOT = Path("/tmp/sweep_hparams.png")


def _events(folder: Path) -> list:
    """Every event of every event file in ``folder``, read as TensorBoard's loader reads them."""
    from tensorboard.compat.proto import event_pb2

    events = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            events.append(event_pb2.Event.FromString(data[at + 12:at + 12 + length]))
            at += 12 + length + 4
    return events


def _plugin_content(events, tag: str) -> bytes:
    return next(v.metadata.plugin_data.content for e in events for v in e.summary.value
                if v.tag == tag)


def test_a_trials_hparams_session_holds_the_searched_keys_and_the_metric(tmp_path):
    from tensorboard.plugins.hparams import api_pb2, metadata

    from kerasdl.sweep.tensorboard import TrialSession

    experiment = load_experiment(EXPERIMENT)
    space = parse_space(["data.batch_size=choice(16, 128)",
                         "trainer.learning_rate=loguniform(1e-4, 1e-1)",
                         "trainer.epochs=int(1, 5)",
                         "trainer.optimizer=choice('adam', 'sgd')",
                         "data.augment=choice((), ('translate',))"], experiment)
    plan = plan_sweep(EXPERIMENT, experiment, [], space, trials=2, workdir=tmp_path)
    trial_dir = plan.sweep_dir / "trial-0003"
    session = TrialSession(plan, trial_dir, {"data.batch_size": 128, "trainer.learning_rate": 0.003,
                                             "trainer.epochs": 3, "trainer.optimizer": "sgd",
                                             "data.augment": ("translate",)})
    for epoch, value in enumerate([0.5, 0.9, 0.7], start=1):
        session.epoch(epoch, value)
    session.end(3, 12.5, "success")
    # all of it in the trial's validation run: no run of its own in TensorBoard's list
    assert [p.name for p in trial_dir.iterdir()] == ["validation"]
    events = _events(trial_dir / "validation")
    # the experiment config: the searched keys only, with their domains
    config = metadata.parse_experiment_plugin_data(_plugin_content(events, metadata.EXPERIMENT_TAG))
    infos = {info.name: info for info in config.hparam_infos}
    assert list(infos) == list(space)
    batch = infos["data.batch_size"]
    assert batch.type == api_pb2.DATA_TYPE_FLOAT64
    assert [v.number_value for v in batch.domain_discrete.values] == [16, 128]
    rate = infos["trainer.learning_rate"].domain_interval
    assert (rate.min_value, rate.max_value) == (1e-4, 1e-1)
    epochs = infos["trainer.epochs"].domain_interval
    assert (epochs.min_value, epochs.max_value) == (1, 5)
    assert infos["trainer.optimizer"].type == api_pb2.DATA_TYPE_STRING
    assert [v.string_value for v in infos["trainer.optimizer"].domain_discrete.values] == \
        ["adam", "sgd"]
    assert sorted(v.string_value for v in infos["data.augment"].domain_discrete.values) == \
        ["('translate',)", "()"]          # a tuple choice as its text, as the study keeps it
    assert infos["data.batch_size"].description == "--param data.batch_size=choice(16, 128)"
    # the sweep's metric first, by the name the user asked for; the rest are about the trial
    assert [(m.name.group, m.name.tag) for m in config.metric_infos] == \
        [("", "val_accuracy"), ("", "epochs"), ("", "wall_s")]
    # the session: named by the trial, holding the sampled values of the searched keys only
    start = metadata.parse_session_start_info_plugin_data(
        _plugin_content(events, metadata.SESSION_START_INFO_TAG))
    assert start.group_name == "trial-0003"
    hparams = {key: value.WhichOneof("kind") for key, value in start.hparams.items()}
    assert hparams == {"data.batch_size": "number_value", "trainer.learning_rate": "number_value",
                       "trainer.epochs": "number_value", "trainer.optimizer": "string_value",
                       "data.augment": "string_value"}
    assert start.hparams["data.batch_size"].number_value == 128
    assert start.hparams["data.augment"].string_value == "('translate',)"
    end = metadata.parse_session_end_info_plugin_data(
        _plugin_content(events, metadata.SESSION_END_INFO_TAG))
    assert end.status == api_pb2.STATUS_SUCCESS
    # the metric at each epoch is the best so far: its last value is the trial's score
    scalars = [(e.step, v.tag, round(v.simple_value, 4)) for e in events for v in e.summary.value
               if v.HasField("simple_value")]
    assert scalars == [(1, "val_accuracy", 0.5), (2, "val_accuracy", 0.9),
                       (3, "val_accuracy", 0.9), (3, "epochs", 3.0), (3, "wall_s", 12.5)]


# --- a real sweep in a real TensorBoard -------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _api(port: int, path: str, body: dict | None = None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-XSRF-Protected": "1"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


SESSION_GROUPS = {"experimentName": "", "allowedStatuses": [
    "STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
    "colParams": [], "startIndex": 0, "sliceSize": 100}


@pytest.mark.slow
def test_a_sweep_reads_in_tensorboard_by_trial(tmp_path):
    result = run_cli("sweep", EXPERIMENT, "--trials", "3", "--seed", "0", "--workdir", str(tmp_path),
                     "--set", "trainer.epochs=2",
                     "--param", "trainer.learning_rate=loguniform(1e-4, 1e-1)",
                     "--param", "data.batch_size=choice(16, 128)", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    sweep_dir = tmp_path / "mlp_digits"
    assert f"tensorboard --logdir {sweep_dir}" in result.stdout
    with open(sweep_dir / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["name"] for row in rows] == ["trial-0000", "trial-0001", "trial-0002"]
    assert [row["state"] for row in rows] == ["COMPLETE"] * 3
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(sweep_dir),
                               "--host", "127.0.0.1", "--port", str(port), "--reload_interval", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline, runs, groups = time.time() + 120, [], {}
        for _ in range(240):                 # bounded: at most 240 polls and 120 s
            if time.time() > deadline or server.poll() is not None:
                break
            try:
                runs = _api(port, "/data/runs")
                groups = _api(port, "/data/plugin/hparams/session_groups", SESSION_GROUPS)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if len(runs) == 6 and len(groups.get("sessionGroups", [])) == 3 and all(
                    len(g["metricValues"]) == 3 for g in groups["sessionGroups"]):
                break
            time.sleep(0.5)
        else:
            pytest.fail("TensorBoard did not serve the sweep in 240 polls")
        assert server.poll() is None, "TensorBoard stopped"
        experiment = _api(port, "/data/plugin/hparams/experiment", {"experimentName": ""})
        if SCREENSHOT.parent.is_dir() and shutil.which("chromium"):
            _screenshot(port)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    # the run list: each trial's two runs, named by the trial, and nothing else
    assert sorted(runs) == [f"trial-000{i}/{run}" for i in range(3)
                            for run in ("train", "validation")], runs
    # the experiment: the two searched keys with their domains; the sweep's metric first
    hparams = {info["name"]: info for info in experiment["hparamInfos"]}
    assert set(hparams) == {"trainer.learning_rate", "data.batch_size"}
    assert hparams["data.batch_size"]["domainDiscrete"] == [16, 128]
    assert hparams["trainer.learning_rate"]["domainInterval"] == {"minValue": 1e-4,
                                                                  "maxValue": 1e-1}
    assert [m["name"]["tag"] for m in experiment["metricInfos"]] == ["val_accuracy", "epochs",
                                                                      "wall_s"]
    # the session groups: a trial each, named as in trials.csv, with its values and its score
    table = {group["name"]: group for group in groups["sessionGroups"]}
    assert sorted(table) == ["trial-0000", "trial-0001", "trial-0002"]
    for row in rows:
        group = table[row["name"]]
        assert [s["name"] for s in group["sessions"]] == [f"{row['name']}/validation"]
        assert group["hparams"] == {"trainer.learning_rate": pytest.approx(
                                        float(row["trainer.learning_rate"])),
                                    "data.batch_size": int(row["data.batch_size"])}
        metrics = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
        assert metrics["val_accuracy"] == pytest.approx(float(row["val_accuracy"]), abs=1e-5)
        assert metrics["epochs"] == 2
        assert group["sessions"][0]["status"] == "STATUS_SUCCESS"
        assert metrics["wall_s"] == pytest.approx(float(row["wall_s"]), abs=0.01)
    print(json.dumps({name: {"hparams": g["hparams"], **{m["name"]["tag"]: m["value"]
                                                          for m in g["metricValues"]}}
                      for name, g in table.items()}, indent=1))


def _screenshot(port: int) -> None:
    """The HParams dashboard, as headless Chromium draws it, in /tmp/sweep_hparams.png."""
    SCREENSHOT.unlink(missing_ok=True)
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1400,700", "--virtual-time-budget=15000",
                    f"--screenshot={SCREENSHOT}",
                    f"http://127.0.0.1:{port}/?forceSVG=true#hparams"],
                   capture_output=True, timeout=120, check=False)
    assert SCREENSHOT.is_file() and SCREENSHOT.stat().st_size > 10_000
