"""The model catalog, read from the family modules' source without importing TensorFlow.

``kerasdl list`` uses it to answer in well under a second; a test keeps it equal to the live
registry (:func:`kerasdl.models.registry.list_models`). It lives outside ``kerasdl.models``
because importing that package registers (imports) every family, and so TensorFlow.
"""
from __future__ import annotations

import ast
from pathlib import Path

FAMILY_DIR = Path(__file__).parent / "models"
#: modules of kerasdl.models that are machinery, not model families
NOT_FAMILIES = frozenset({"__init__", "registry", "base"})


def family_modules() -> list[str]:
    """Every module of kerasdl.models that holds model families (one paper or seed chapter each).

    A new family is a new file: nothing else needs to list it.
    """
    return sorted(p.stem for p in FAMILY_DIR.glob("*.py") if p.stem not in NOT_FAMILIES)


def catalog() -> dict[str, str]:
    """``{name: one-line description}`` of every registered model, read from source (no TF import)."""
    found = {}
    for module in family_modules():
        tree = ast.parse((FAMILY_DIR / f"{module}.py").read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for decorator in node.decorator_list:
                if (isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "register"
                        and decorator.args and isinstance(decorator.args[0], ast.Constant)):
                    doc = ast.get_docstring(node) or ""
                    found[decorator.args[0].value] = doc.strip().splitlines()[0] if doc else ""
    return dict(sorted(found.items()))
