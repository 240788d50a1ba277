"""What a fresh ``pip install .`` brings is enough: every module a default run imports belongs
to a distribution that kerasdl's ``install_requires`` pulls in (issue #12: TensorBoard was only
in the test extras, so the README's first command failed at epoch 1 on a fresh machine).

``.ci/run`` proves the same end to end: it runs the README's first command, verbatim, in a fresh
virtual environment without the test extras. This test says *which* module is missing, here."""
from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement

from conftest import REPO, run_python

#: a default smoke run in a process that can import only what install_requires brings: modules
#: of any other installed distribution (this machine's IPython, boto3, ...) raise
#: ModuleNotFoundError, as they would in a fresh virtual environment
RUN_WITH_ONLY_THE_REQUIRED = """
import importlib.abc, json, sys
from importlib import metadata

allowed, owners, blocked = set({closure!r}), metadata.packages_distributions(), set()


class OnlyTheRequired(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        distributions = {{d.lower().replace("_", "-") for d in owners.get(top, [])}}
        if distributions and not distributions & allowed:
            blocked.add(top)
            raise ModuleNotFoundError(f"No module named {{top!r}} (not required)", name=top)
        return None


sys.meta_path.insert(0, OnlyTheRequired())
from kerasdl.cli import main
try:
    main(["run", {experiment!r}, "--smoke", "--workdir", "runs"])
except SystemExit as exit:
    assert not exit.code, exit.code
print("BLOCKED", json.dumps(sorted(blocked)))
"""


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _required_closure(root: str) -> set[str]:
    """``root`` and every distribution its requirements pull in, extras left out."""
    found, todo = set(), [root]
    while todo:
        name = _normal(todo.pop())
        if name in found:
            continue
        found.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue                       # a requirement whose marker excludes this platform
        for text in requirements:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return found


def test_a_default_run_needs_only_what_install_requires_brings(tmp_path):
    closure = _required_closure("kerasdl")
    assert {"tensorflow", "keras", "tensorboard", "click"} <= closure, sorted(closure)
    experiment = str(REPO / "experiments" / "lenet5.py")
    result = run_python(RUN_WITH_ONLY_THE_REQUIRED.format(closure=sorted(closure),
                                                          experiment=experiment), cwd=tmp_path)
    assert result.returncode == 0, ("a default run needs a module that install_requires does "
                                    "not bring (add its distribution to setup.cfg):\n"
                                    + result.stderr[-3000:])
    assert "[kerasdl] done in" in result.stdout
    assert "BLOCKED" in result.stdout
    # control: the guard is live; a module outside install_requires cannot be imported
    pytest_import = run_python(RUN_WITH_ONLY_THE_REQUIRED.split("sys.meta_path")[0].format(
        closure=sorted(closure), experiment=experiment)
        + "sys.meta_path.insert(0, OnlyTheRequired())\nimport pytest\n", cwd=tmp_path)
    assert "No module named 'pytest' (not required)" in pytest_import.stderr
