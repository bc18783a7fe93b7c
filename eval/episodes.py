"""Episodes of ``hitl-eval``: every policy on every seed, with its return, reward sums and KPIs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from eval.policies import Entry
from hitl_env.kpis import closed_chats, kpis


def episode_kpis(rec: dict[str, list], t_arrival: list[float], env: str) -> dict[str, float]:
    """The KPIs of a finished episode over the chats the env scores (see the module docstring)."""
    ended = closed_chats(rec)
    if env == "router":
        return kpis(rec, t_arrival, ended)
    out = kpis(rec, t_arrival, ended & (np.asarray(rec["routed_ai"]) > 0))
    del out["ai_share"]  # 1: the supervisor env scores only the AI-routed chats
    return out


def run_episode(env: Any, policy: Any, seed: int, kind: str, rating: str) -> dict[str, float]:
    """One episode from ``env.reset(seed=seed)``, the policy reset with the same seed."""
    from hitl_env.rewards import COMPONENTS

    policy.reset(seed)
    obs, info = env.reset(seed=seed)
    total, vec, steps, done = 0.0, np.zeros(len(COMPONENTS)), 0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
        total += float(reward)
        vec += info["vector_reward"]
        steps += 1
        done = terminated or truncated
    sim = env.unwrapped.sim
    return {"return": total, **{f"reward_{c}": float(v) for c, v in zip(COMPONENTS, vec, strict=True)},
            "steps": float(steps), **episode_kpis(sim.rec, sim.t_arr, kind)}  # fmt: skip


def run_all(env: Any, entries: list[Entry], seeds: list[int], kind: str, rating: str, bar: Any) -> pd.DataFrame:
    """Every entry on every seed: one row per (policy, seed)."""
    rows = []
    for e in entries:
        bar.set_description(e.label[:40])
        for s in seeds:
            rows.append({"policy": e.label, "seed": s, **run_episode(env, e.policy, s, kind, rating)})
            bar.update(1)
    return pd.DataFrame(rows)
