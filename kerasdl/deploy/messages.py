"""User text and errors cut to fit the one-line messages of predict, evaluate and export."""
from __future__ import annotations


def clip(text: str, limit: int = 80) -> str:
    """``text`` as it may stand in a one-line message, cut to ``limit`` characters.

    Longer text is its first ``limit`` characters, an ellipsis and its length: user text can be a
    100,000-character word."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def quote(text: str, limit: int = 80) -> str:
    """``repr(text)`` for a message, cut as :func:`clip` cuts."""
    text = str(text)
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message, or its class name where it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
