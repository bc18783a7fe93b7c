"""Training envs: the configured env, with episode statistics, in a seeded vector env.

:class:`EpisodeStats` adds ``info["episode_stats"]`` at the end of every episode: the episode's
sum of each reward component (``reward/<component>``, unweighted, from
``info["vector_reward"]``) and the shift's operational KPIs (``kpi/...``, :func:`shift_kpis`),
read from the simulation core's records (where an episode is one chat, ``credit="chat"``, at the
last chat of each shift).
The training callback and the evaluation callback log them to TensorBoard.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np

from hitl_env.kpis import closed_chats, kpis
from hitl_env.procs import die_with_parent
from hitl_env.rewards import COMPONENTS
from hitl_env.sim.team import ESCALATIONS
from train.config import EnvConfig

SCOPED_KPIS = ("rating", "satisfaction", "duration_min", "worker_min", "retrial", "abandonment")
"""The KPIs logged per scope (every closed chat, the AI-routed ones)."""


def shift_kpis(rec: Mapping[str, Sequence[Any]], t_arrival: Sequence[float]) -> dict[str, float]:
    """Operational KPIs of a simulated shift (a team simulation's records), by :func:`hitl_env.kpis.kpis`.

    ``kpi/all/<kpi>`` over every closed chat and ``kpi/ai/<kpi>`` over the AI-routed ones, for
    the KPIs of :data:`SCOPED_KPIS` (``rating``: the ratings customers gave; ``satisfaction``:
    every chat's). Over every closed chat: ``kpi/ai_share``, ``kpi/escalation/<type>`` (the
    shares of the AI chats by escalation type) and ``kpi/takeover_round`` (mean AI rounds before
    the escalation, over the escalated chats).
    """
    closed = closed_chats(rec)
    every = kpis(rec, t_arrival, closed)
    on_ai = kpis(rec, t_arrival, closed & np.asarray(rec["routed_ai"], bool))
    out = {f"kpi/{scope}/{k}": v[k] for scope, v in (("all", every), ("ai", on_ai)) for k in SCOPED_KPIS}
    out["kpi/ai_share"] = every["ai_share"]
    out.update({f"kpi/escalation/{kind}": every[f"esc_{kind}"] for kind in ESCALATIONS})
    out["kpi/takeover_round"] = every["takeover_round"]
    return out


class EpisodeStats(gym.Wrapper):
    """Adds ``info["episode_stats"]`` (reward components and KPIs) at the end of each episode.

    Works on any env whose unwrapped env exposes the running core as ``sim`` (the ``hitl_env``
    Gymnasium envs, :class:`~train.multi_agent.SharedSupervisorEnv`).
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._sum = np.zeros(len(COMPONENTS), np.float64)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self._sum[:] = 0.0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._sum += info["vector_reward"]
        if terminated or truncated:
            sim = self.env.unwrapped.sim
            stats = {f"reward/{c}": float(v) for c, v in zip(COMPONENTS, self._sum, strict=True)}
            base = self.env.unwrapped  # an episode of one chat (credit="chat") adds them when its shift is over
            if getattr(base, "credit", "shift") == "shift" or base.decision is None:
                stats.update(shift_kpis(sim.rec, sim.t_arr))
            info = {**info, "episode_stats": stats}
        return obs, reward, terminated, truncated, info


def make_env(env_cfg: EnvConfig, in_subprocess: bool = False, parent_pid: int | None = None) -> gym.Env:
    """The configured env, wrapped with :class:`EpisodeStats` (no torch: cheap in worker processes).

    In a worker process (``in_subprocess``) Ctrl-C is ignored (the main process handles it: it
    saves the model, then closes us) and the worker dies with the main process
    (:func:`hitl_env.procs.die_with_parent`), however that one ends.
    """
    if in_subprocess:
        die_with_parent(parent_pid)
    import hitl_env  # noqa: F401  (registers the hitl_env envs)
    import train  # noqa: F401  (registers hitl_train/SharedSupervisor-v2)

    return EpisodeStats(gym.make(env_cfg.id, **env_cfg.kwargs()))


def make_vec_env(env_cfg: EnvConfig, n_envs: int, seed: int, kind: str = "dummy") -> Any:
    """``n_envs`` seeded envs (env ``i`` first resets with ``seed + i``) in a monitored stable-baselines3 VecEnv.

    ``subproc`` steps each env in a process of its own (Ctrl-C ignored there), ``dummy`` all in
    this one; ``VecMonitor`` records the episode returns and lengths.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    if kind == "subproc" and n_envs > 1:
        # fork starts workers in a fraction of a second (forkserver re-imports everything, seconds);
        # the workers only step the simulator (numpy and Python, never torch), so forking is safe
        method = "fork" if sys.platform == "linux" else None
        fns = [partial(make_env, env_cfg, True, os.getpid()) for _ in range(n_envs)]
        venv = SubprocVecEnv(fns, start_method=method)
    else:
        venv = DummyVecEnv([partial(make_env, env_cfg, False) for _ in range(n_envs)])
    venv.seed(seed)
    return VecMonitor(venv)
