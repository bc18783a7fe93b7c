"""The golden records: simulate() records and env trajectories are exactly the committed ones.

Regenerate with ``python -m tests.golden --update`` when the dynamics change on purpose.
"""

from __future__ import annotations

import json

import pytest
from golden import GOLDEN, cases, changed, column_hash


def test_every_golden_case_is_committed() -> None:
    committed = json.loads(GOLDEN.read_text())
    assert sorted(committed) == sorted(name for name, _ in cases())


@pytest.mark.parametrize(("name", "run"), list(cases()), ids=[name for name, _ in cases()])
def test_golden_case_is_identical(name: str, run) -> None:
    expected = json.loads(GOLDEN.read_text())[name]
    got = run()
    assert changed({name: expected}, {name: got}) == []


def test_the_hash_sees_one_bit_and_the_nan_kind() -> None:
    import numpy as np

    a = np.array([1.0, np.nan, 3.0])
    b = a.copy()
    b[0] = np.nextafter(1.0, 2.0)
    assert column_hash(a) != column_hash(b)
    assert column_hash(a) == column_hash(np.array([1.0, -np.nan, 3.0]))  # one NaN
    assert column_hash(a) != column_hash(a[:2])
