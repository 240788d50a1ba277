"""The ``log`` of kerasdl's library calls: a callable taking one line; quiet by default.

Library functions take ``log: Optional[Log] = None`` and use ``log or quiet``; the CLI passes
its own (``click.echo``), so only the command line prints.
"""
from __future__ import annotations

from typing import Callable

Log = Callable[[str], None]


def quiet(_line: str) -> None:
    """The default ``log``: say nothing."""
