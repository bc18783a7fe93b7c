"""DOMAIN.md's calibration targets and the statistics of simulated records they are checked on.

Every paper figure the experiment is judged on has one :class:`Target` here: its value, accept
range and stars. :data:`BASELINE` and :data:`ESCALATION_SHARES` are descriptive (no stars);
:data:`DID` (the difference-in-differences table) and :data:`ESCALATION_EFFECTS` (each
escalation type against matched control chats) carry the paper's stars, which bound the
simulated experiment's standard errors (:data:`STAR_BANDS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd

# DOMAIN.md, "Statistical power": the band of |z| = |paper estimate| / simulated SE each star
# rating implies (*** |z| >= 2.576, ** 1.96-2.576, * 1.645-1.96), widened by 25% each way.
STAR_BANDS: dict[str, tuple[float, float]] = {"***": (2.06, math.inf), "**": (1.57, 3.22), "*": (1.32, 2.45)}
NOT_SIGNIFICANT = "n.s."
# DOMAIN.md, "How calibration is judged" (14 and 12 of 20 seeds): the share of seeds at which an
# n.s. figure must have p >= NS_ALPHA, and at which each finding must hold on the estimates.
NS_ALPHA = 0.05
NS_SHARE = Fraction(14, 20)
FINDINGS_ESTIMATE_SHARE = Fraction(12, 20)


@dataclass(frozen=True)
class Target:
    """A paper figure, its accept range [lo, hi] and its stars.

    ``stars`` is ``"***"``, ``"**"`` or ``"*"`` for a significant estimate, ``"n.s."`` for one
    the paper reports as not significant (``value`` 0, the range the size it may have), ``""``
    for a descriptive statistic.
    """

    value: float
    lo: float
    hi: float
    stars: str = ""

    def __post_init__(self) -> None:
        if self.stars not in ("", NOT_SIGNIFICANT, *STAR_BANDS):
            raise ValueError(f"stars must be '', 'n.s.' or one of {list(STAR_BANDS)}, got {self.stars!r}")
        if not self.lo <= self.hi:
            raise ValueError(f"accept range [{self.lo}, {self.hi}] is empty")

    def ok(self, x: float | None) -> bool:
        """Whether ``x`` is inside the range (False for a figure with no value)."""
        return x is not None and self.lo <= x <= self.hi

    @property
    def band(self) -> tuple[float, float] | None:
        """The band of |z| its stars imply (:data:`STAR_BANDS`); None for n.s. and descriptive figures."""
        return STAR_BANDS.get(self.stars)


def _rel(v: float, tol: float) -> Target:
    return Target(v, v * (1 - tol), v * (1 + tol))


def _abs(v: float, tol: float) -> Target:
    return Target(v, v - tol, v + tol)


def _ns(tol: float) -> Target:
    return Target(0.0, -tol, tol, NOT_SIGNIFICANT)


def _est(v: float, lo: float, hi: float, stars: str) -> Target:
    return Target(v, min(lo, hi), max(lo, hi), stars)


# Pre-period, all chats (DOMAIN.md, baseline table).
BASELINE: dict[str, Target] = {
    "duration_s": _rel(462.0, 0.10),
    "rounds": _rel(7.24, 0.15),
    "messages": _rel(13.82, 0.15),
    "reply_lag_s": _rel(14.76, 0.20),
    "rating": _abs(3.57, 0.10),
    "rated_share": _abs(0.17, 0.02),
    "retrial": _abs(0.43, 0.03),
    "eligible_share": Target(0.058, 0.05, 0.07),
}

# Treated AI-eligible chats routed to the AI, post-period.
ESCALATION_SHARES: dict[str, Target] = {
    "technical": _abs(0.441, 0.05),
    "emotional": _abs(0.086, 0.05),
    "human": _abs(0.123, 0.05),
    "none": _abs(0.350, 0.05),
}

# DOMAIN.md's DiD table (treatment minus control), keyed (sample, outcome); outcomes in the
# units of eval.analysis: duration_pct percent, rating points, retrial_pp percentage points.
DID: dict[tuple[str, str], Target] = {
    ("all", "duration_pct"): _est(-3.2, -4.5, -2.0, "***"),
    ("all", "rating"): _ns(0.05),
    ("all", "retrial_pp"): _ns(1.5),
    ("eligible", "duration_pct"): _est(-16.8, -22.0, -12.0, "***"),
    ("eligible", "rating"): _est(-0.412, -0.52, -0.30, "***"),
    ("eligible", "retrial_pp"): _ns(2.0),
    ("ineligible", "duration_pct"): _est(-1.8, -3.0, -0.5, "*"),
    ("ineligible", "rating"): _est(0.091, 0.03, 0.15, "**"),
    ("ineligible", "retrial_pp"): _ns(1.5),
}

# DOMAIN.md's per-escalation-type table: treated AI-eligible chats of each type against 1:1
# matched control chats, keyed (type, outcome); "none" is AI alone.
ESCALATION_EFFECTS: dict[tuple[str, str], Target] = {
    ("technical", "duration_pct"): _est(19.1, 11.1, 27.1, "***"),
    ("technical", "rating"): _ns(0.15),
    ("technical", "retrial_pp"): _ns(2.0),
    ("emotional", "duration_pct"): _est(40.8, 25.8, 55.8, "***"),
    ("emotional", "rating"): _est(-0.928, -0.678, -1.178, "***"),
    ("emotional", "retrial_pp"): _est(6.0, 3.0, 9.0, "**"),
    ("human", "duration_pct"): _est(9.5, 3.5, 15.5, "**"),
    ("human", "rating"): _est(-0.524, -0.324, -0.724, "**"),
    ("human", "retrial_pp"): _est(-3.2, 0.0, -6.0, "*"),
    ("none", "duration_pct"): _est(-64.6, -54.6, -74.6, "***"),
    ("none", "rating"): _est(-0.858, -0.608, -1.108, "***"),
    ("none", "retrial_pp"): _ns(2.0),
}


def baseline_stats(df: pd.DataFrame) -> dict[str, float]:
    """The baseline table's statistics on the pre-period chats of ``df``."""
    pre = df[df["period"] == "pre"]
    return {
        "duration_s": float(pre["duration_s"].mean()),
        "rounds": float(pre["rounds"].mean()),
        "messages": float(pre["messages"].mean()),
        "reply_lag_s": float(pre["reply_lag_mean_s"].mean()),
        "rating": float(pre["rating"].mean()),
        "rated_share": float(pre["rated"].mean()),
        "retrial": float(pre["retrial"].mean()),
        "eligible_share": float(pre["eligible"].mean()),
    }


def escalation_shares(df: pd.DataFrame) -> dict[str, float]:
    """Shares of each escalation type among post-period chats routed to the AI."""
    ai = df[df["routed_ai"]]
    shares = ai["escalation"].value_counts(normalize=True)
    return {k: float(shares.get(k, 0.0)) for k in ESCALATION_SHARES}


def naive_did(df: pd.DataFrame, sample: pd.Series | None = None) -> dict[str, float]:
    """Difference-in-differences of means (no fixed effects): a quick check while tuning.

    Returns duration in percent (of the log-duration difference), rating in points and retrial
    in percentage points, treatment minus control, post minus pre.
    """
    d = df if sample is None else df[sample]
    d = d[d["arm"].notna()].assign(log_dur=np.log(d["duration_s"].clip(lower=1.0)))
    g = d.groupby(["arm", "period"], observed=True)
    m = g[["log_dur", "rating", "retrial"]].mean()

    def did(col: str) -> float:
        return float(
            (m.loc[("treatment", "post"), col] - m.loc[("treatment", "pre"), col])
            - (m.loc[("control", "post"), col] - m.loc[("control", "pre"), col])
        )

    return {
        "duration_pct": 100 * (np.exp(did("log_dur")) - 1),
        "rating": did("rating"),
        "retrial_pp": 100 * did("retrial"),
    }


def seeds_needed(share: Fraction, n: int) -> int:
    """The fewest of ``n`` seeds that make up ``share`` of them (14 of 20 at 70%, 3 of 3)."""
    return math.ceil(share * n)


def log_duration_se(estimate_pct: float, se_pct: float) -> float:
    """The SE of a log-duration coefficient ``b`` from its percent form.

    :func:`eval.analysis.pct` reports ``100 (exp(b) - 1)`` with the delta-method SE
    ``100 exp(b) se(b)``, so ``se(b) = se_pct / (100 + estimate_pct)``.
    """
    return se_pct / (100.0 + estimate_pct)


def power_z(target: Target, outcome: str, se: float) -> float:
    """|z| the paper's estimate would have with the simulated SE ``se`` (DOMAIN.md, "Statistical power").

    Durations (``duration_pct``) are on the log scale: ``|ln(1 + value/100)| / se`` with ``se``
    the SE of the log-duration coefficient (:func:`log_duration_se`).
    """
    effect = math.log1p(target.value / 100.0) if outcome == "duration_pct" else target.value
    return abs(effect) / se if se > 0 else math.nan
