"""DOMAIN.md's calibration targets and the statistics of simulated records they are checked on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Target:
    """A paper figure and its accept range [lo, hi]."""

    value: float
    lo: float
    hi: float

    def ok(self, x: float) -> bool:
        return self.lo <= x <= self.hi


def _rel(v: float, tol: float) -> Target:
    return Target(v, v * (1 - tol), v * (1 + tol))


def _abs(v: float, tol: float) -> Target:
    return Target(v, v - tol, v + tol)


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
