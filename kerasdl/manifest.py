"""What a run records about where and how it ran (manifest.json)."""
from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path
from typing import Optional

PACKAGES = ("kerasdl", "tensorflow", "keras", "tensorflow-datasets", "numpy", "mlxtend",
            "scikit-learn", "matplotlib")


def package_versions() -> dict[str, Optional[str]]:
    """The installed version of each of ``PACKAGES``, None where one is not installed."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(directory: Path = Path(".")) -> Optional[dict[str, object]]:
    """The commit and dirtiness of the git checkout holding ``directory``, or None outside git."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True,
                              timeout=10)
    try:
        sha = git("rev-parse", "HEAD")
        if sha.returncode != 0:
            return None
        dirty = bool(git("status", "--porcelain").stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {"sha": sha.stdout.strip(), "dirty": dirty}


def base_manifest() -> dict[str, object]:
    """What every manifest records: Python, platform, command, packages, devices and git state."""
    import tensorflow as tf

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "command": sys.argv,
        "packages": package_versions(),
        "physical_devices": [d.name for d in tf.config.list_physical_devices()],
        "git": git_state(),
    }
