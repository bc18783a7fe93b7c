"""Rewards: named components of finished chats, and their weighted sum.

Pure functions of a finished chat's record; they never change the simulation. Components, per
finished chat (signs make every component "higher is better"):

==============  ==========================================================================
``rating``      dense: the chat's satisfaction (the 1-5 rating the customer would give) minus
                3; sparse: the rating minus 3 when the customer actually rated (about 17%),
                else 0
``duration``    minus the chat's duration, in minutes
``worker_time`` minus the minutes a worker handled the chat by hand (from assignment, or from
                the takeover, to the end; 0 for chats the AI closed alone)
``retrial``     minus 1 when the customer contacts again within 7 days
``abandonment`` minus 1 when the customer left (in the queue or during the chat)
==============  ==========================================================================
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

COMPONENTS = ("rating", "duration", "worker_time", "retrial", "abandonment")
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "rating": 1.0,
    "duration": 0.05,
    "worker_time": 0.05,
    "retrial": 0.5,
    "abandonment": 1.0,
}
RATING_MODES = ("dense", "sparse")


def validate_weights(weights: Mapping[str, float] | None) -> np.ndarray:
    """Weights as a vector in :data:`COMPONENTS` order; unset components take the defaults."""
    if weights is not None and not isinstance(weights, Mapping):
        raise ValueError(f"reward weights must be a mapping of component to weight, got {type(weights).__name__}")
    merged = dict(DEFAULT_WEIGHTS)
    for key, value in (weights or {}).items():
        if key not in DEFAULT_WEIGHTS:
            raise ValueError(f"unknown reward component {key!r}; components: {', '.join(COMPONENTS)}")
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"reward weight {key!r} must be a finite number, got {value!r}")
        merged[key] = float(value)
    if not any(merged.values()):
        raise ValueError("every reward weight is 0: the reward would be 0 whatever the policy does")
    return np.array([merged[k] for k in COMPONENTS], dtype=np.float64)


def chat_components(rec: Mapping[str, Sequence[Any]], t_arrival: Sequence[float], c: int, rating: str) -> tuple:
    """The components of finished chat ``c`` (``rec``: a team simulation's record lists)."""
    if rating == "dense":
        sat = rec["satisfaction"][c]
        r = 0.0 if sat != sat else sat - 3.0  # NaN (no rounds model): neutral
    else:
        r = rec["rating"][c] - 3.0 if rec["rated"][c] else 0.0
    end = rec["end_t"][c]
    if rec["human_rounds"][c]:
        start = t_arrival[c] + rec["takeover_t"][c] if rec["escalation"][c] else rec["assign_t"][c]
        hand = (end - start) / 60.0
    else:
        hand = 0.0
    return (r, -(end - t_arrival[c]) / 60.0, -hand, -float(rec["retrial"][c]), -float(rec["abandoned"][c]))


def vector_reward(
    rec: Mapping[str, Sequence[Any]], t_arrival: Sequence[float], chats: Iterable[int], rating: str
) -> np.ndarray:
    """Sum of the components over ``chats``, in :data:`COMPONENTS` order (float32)."""
    total = np.zeros(len(COMPONENTS), dtype=np.float64)
    for c in chats:
        total += chat_components(rec, t_arrival, c, rating)
    return total.astype(np.float32)


def scalarize(vector: np.ndarray, weights: np.ndarray) -> float:
    """The weighted sum of a reward vector."""
    return float(np.dot(vector, weights))
