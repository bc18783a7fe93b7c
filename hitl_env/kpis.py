"""Operational KPIs of a simulated shift, from its chat records: one definition for all reports.

Training logs (``kpi/...``, :func:`train.envs.shift_kpis`) and ``hitl-eval`` compute their KPIs
with :func:`kpis`, over a selection of closed chats:

==================  ============================================================================
``n_chats``         chats in the selection
``rating``          mean rating over the chats whose customers rated (1-5; about 17% rate)
``satisfaction``    mean satisfaction: the rating every customer would give (1-5; the dense reward)
``duration_min``    mean chat duration, minutes (queue wait included)
``worker_min``      mean minutes a worker handled a chat by hand (the ``worker_time`` reward)
``retrial``         share of chats with a retrial within 7 days
``abandonment``     share of chats the customer left
``esc_<type>``      escalation shares (``hitl_env.sim.team.ESCALATIONS``), over the AI-routed chats
``takeover_round``  mean AI rounds before the escalation, over the escalated chats
``ai_share``        share of chats routed to the AI
==================  ============================================================================

A KPI with no chat to average over (no rated chat, no escalation) is NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hitl_env.rewards import COMPONENTS, chat_components
from hitl_env.sim.team import ESCALATIONS

_WORKER_TIME = COMPONENTS.index("worker_time")
_FIELDS = ("routed_ai", "end_t", "rating", "rated", "satisfaction", "retrial", "abandoned", "escalation",
           "takeover_round")  # fmt: skip


def closed_chats(rec: Mapping[str, Sequence[Any]]) -> np.ndarray:
    """Mask of the chats that closed (the only ones with outcomes)."""
    return np.isfinite(np.asarray(rec["end_t"], dtype=float))


def kpis(rec: Mapping[str, Sequence[Any]], t_arrival: Sequence[float], chats: np.ndarray) -> dict[str, float]:
    """The KPIs (see the module docstring) over the closed chats of the mask ``chats``.

    Args:
        rec: a team simulation's records (one sequence per ``hitl_env.sim.team.RECORD_FIELDS``).
        t_arrival: each chat's arrival time, seconds.
        chats: boolean mask of the chats to report on (closed ones: :func:`closed_chats`).
    """
    r = {k: np.asarray(rec[k], dtype=float) for k in _FIELDS}
    chats = np.asarray(chats, dtype=bool)
    idx = np.flatnonzero(chats)
    ai = chats & (r["routed_ai"] > 0)
    esc = r["escalation"][ai]
    worker_min = [-chat_components(rec, t_arrival, c, "dense")[_WORKER_TIME] for c in idx]
    return {
        "n_chats": float(len(idx)),
        "rating": _mean(r["rating"][chats & (r["rated"] > 0)]),
        "satisfaction": _mean(r["satisfaction"][chats]),
        "duration_min": _mean((r["end_t"] - np.asarray(t_arrival, dtype=float))[chats] / 60.0),
        "worker_min": _mean(np.asarray(worker_min, dtype=float)),
        "retrial": _mean(r["retrial"][chats]),
        "abandonment": _mean(r["abandoned"][chats]),
        **{f"esc_{name}": _mean(esc == k) for k, name in enumerate(ESCALATIONS)},
        "takeover_round": _mean(r["takeover_round"][ai & (r["escalation"] > 0)]),
        "ai_share": _mean(r["routed_ai"][chats] > 0),
    }


def _mean(x: np.ndarray) -> float:
    """Mean without the NaNs; NaN when nothing is left."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else math.nan
