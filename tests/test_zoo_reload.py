"""The second half of the zoo's fresh-process reload check (tests/test_zoo.py has the first), in a
file of its own so that pytest-xdist's ``--dist loadfile`` runs the two halves on both workers."""
from __future__ import annotations

import pytest

from test_zoo import SECOND_HALF, _save_second_half, reloads_identically


@pytest.mark.slow          # 64 s; the default suite's twin is tests/test_models.py's fresh-process reload
def test_the_other_half_of_the_models_reloads_in_a_fresh_process(tmp_path):
    reloads_identically(_save_second_half, SECOND_HALF, tmp_path)
