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

**The default objective is a cost model in operational units** (:data:`DEFAULT_WEIGHTS`): the
numeraire is one minute of a worker's hand handling, and every other component is priced in
those minutes.

==============  =========  ==================================================================
component       weight     unit and reason
==============  =========  ==================================================================
``worker_time`` 1          per worker-minute: the numeraire (the labour the AI is there to save)
``rating``      1          worker-minute per rating point (1-5 scale), bounded by the operator's
                           own choices (revealed preference). Deploying the AI at all pays only if
                           a point is worth less than about 7.5 worker-minutes (at ``taobao_2024``
                           the AI saves about 3.3 worker-minutes per AI-eligible chat for 0.42
                           rating points and 2.3 pp more abandonment). Deploying it with selective
                           takeovers rather than taking every AI chat over pays only if a point is
                           worth less than about 1.7: a hand takeover at the first round buys
                           about 0.24 rating points and 8 pp fewer repeat contacts and
                           abandonments for one more worker-minute per AI chat (20 shifts of
                           ``Supervisor-v2``). 1 is the round value below that bound
``retrial``     7.7        worker-minutes per repeat contact: the handling of one more chat (a
                           chat a person handles from the start takes 7.7 minutes on average)
``abandonment`` 7.7        worker-minutes per customer who left: the contact is lost and must be
                           made again
``duration``    0          the customer's own time is priced through what it drives in the
                           model (frustration, hence ratings, abandonment and retrial); it stays
                           in the vector reward for other objectives
==============  =========  ==================================================================

Break-even points: a takeover that adds *m* minutes of hand work pays when it raises the chat's
rating by more than *m* points, or cuts its retrial or abandonment chance by more than *m* /
7.7. Under these weights the deployed system (``algorithm_only``) beats taking every AI chat
over (``always_takeover``): the labour saved is worth more than the ratings lost.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hitl_env.sim import kernel as K

if TYPE_CHECKING:
    from hitl_env.sim.team import TeamSim

COMPONENTS = K.REWARD_COMPONENTS
DEFAULT_WEIGHTS: Mapping[str, float] = {  # the cost model above, in worker-minutes
    "rating": 1.0,
    "duration": 0.0,
    "worker_time": 1.0,
    "retrial": 7.7,
    "abandonment": 7.7,
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
    """The components of finished chat ``c`` (``rec``: a team simulation's record lists), the
    definition :func:`vector_reward` sums (compiled; ``tests/test_envs.py`` checks them bit for bit)."""
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


def vector_reward(sim: TeamSim, chats: Sequence[int], rating: str, ai_only: bool = False) -> np.ndarray:
    """Sum of :func:`chat_components` over the finished ``chats`` of ``sim``'s team (with
    ``ai_only``, of those the router sent to the AI only), in :data:`COMPONENTS` order: summed in
    float64, returned as float32. Compiled (:func:`hitl_env.sim.kernel.chat_rewards`): an env
    step scores the chats it closed, and in Python that took 3-4% of a ``Supervisor-v2`` step.

    Raises:
        IndexError: a chat index that is not an integer or not one of the team's chats.
    """
    idx = np.asarray(chats)
    if idx.size and (idx.ndim != 1 or idx.dtype.kind not in "iu"):
        raise IndexError(f"vector_reward: chats must be a sequence of chat indices (integers), got {chats!r}")
    st, total = sim.state, np.zeros(len(COMPONENTS))
    K.chat_rewards(st.XF, st.XI, st.CF, idx.astype(np.int64, copy=False).reshape(-1), rating == "dense", ai_only, total)
    return total.astype(np.float32)


def scalarize(vector: np.ndarray, weights: np.ndarray) -> float:
    """The weighted sum of a reward vector."""
    return float(np.dot(vector, weights))
