"""The rule for names that become file and folder names (an experiment's, a sweep study's)."""
from __future__ import annotations

import re

from kerasdl.config.checking import shown
from kerasdl.errors import ConfigError

#: the rule for every name that becomes a file or folder name (experiment, sweep study): no
#: separators, quotes or spaces, and not all dots ('.', '..')
NAME_PATTERN = re.compile(r"^(?!\.+$)[A-Za-z0-9_.-]+$")
#: the longest such name: file names are at most 255 bytes (ext4, xfs, btrfs, APFS, NTFS), and
#: kerasdl adds up to 100 characters to a name (a publish name's "-<data stem>", at most 61; a
#: temporary file's ".<name>.previous.json.XXXXXXXX.tmp", 29; a run's "-YYYYmmdd-HHMMSS-N", 19)
MAX_NAME_LENGTH = 150


def check_name(name: str, what: str, names: str = "files and folders", hint: str = "") -> None:
    """Raise a ConfigError unless ``name`` may name files: the name rule and the length limit.

    ``what`` is the key or option ("config key 'name'", "--study"), ``names`` what the name
    becomes, ``hint`` an example of a good name."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        dots = ", which is all dots" if isinstance(name, str) and name and set(name) == {"."} else ""
        raise ConfigError(f"{what} must use letters, digits, '_', '-' or '.' only (it names {names}); "
                          f"got {shown(name)}{dots}{hint}")
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"{what} is {len(name)} characters long; at most {MAX_NAME_LENGTH} fit (file "
                          f"names hold 255, and kerasdl adds suffixes to it): shorten it{hint}")
