"""Multi-objective variants of the Gymnasium envs, in MO-Gymnasium's convention.

The reward of a step is the vector of reward components (:data:`hitl_env.rewards.COMPONENTS`),
its space ``reward_space``, as MO-Gymnasium's wrappers and algorithms expect
(``MORecordEpisodeStatistics``, ``LinearReward``, ``MOSyncVectorEnv``, morl-baselines). Everything
else (observations, actions, episodes, ``info``) is the scalar env's: each variant is the scalar
env with only the reward it returns changed, so the two cannot drift. Scalarizing the vector
with :data:`hitl_env.rewards.DEFAULT_WEIGHTS` (``hitl_env.rewards.validate_weights(None)``) gives
the scalar env's reward.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hitl_env.envs.router import RouterEnv
from hitl_env.envs.supervisor import SupervisorEnv
from hitl_env.rewards import COMPONENTS


class _VectorReward:
    """Mixin over a :class:`~hitl_env.envs.base.TeamEnv`: the step's reward is the vector."""

    reward_dim = len(COMPONENTS)  # (MO-Gymnasium's envs carry it; some of its utilities read it)

    def __init__(
        self,
        preset: str = "taobao_2024",
        overrides: Mapping[str, Any] | None = None,
        team_size: int = 10,
        shift_hours: float = 8.0,
        start_hour: int = 9,
        rating: str = "dense",
        render_mode: str | None = None,
        **env_kwargs: Any,
    ) -> None:
        # no reward_weights: the reward is not weighted (LinearReward or the algorithm does that);
        # env_kwargs: the scalar env's own arguments (Supervisor's scope)
        super().__init__(preset, overrides, team_size, shift_hours, start_hour, None, rating, render_mode, **env_kwargs)  # type: ignore[call-arg]

    def step(self, action: Any) -> tuple[np.ndarray, np.ndarray, bool, bool, dict]:
        obs, _, terminated, truncated, info = super().step(action)  # type: ignore[misc]
        return obs, info["vector_reward"].copy(), terminated, truncated, info


_MO_NOTE = """

    ## Multi-objective variant
    Rewards: the step's vector of reward components (``hitl_env.rewards.COMPONENTS``: rating,
    duration, worker_time, retrial, abandonment), ``float32``, in ``reward_space``; also in
    ``info["vector_reward"]``. No ``reward_weights`` argument: weigh the vector with
    MO-Gymnasium's ``LinearReward`` (``weight=hitl_env.rewards.validate_weights(None)`` gives
    the scalar env's reward). Everything else is the scalar env's, documented above; the version
    follows the scalar env's.
"""


class MOSupervisorEnv(_VectorReward, SupervisorEnv):
    __doc__ = (SupervisorEnv.__doc__ or "") + _MO_NOTE


class MORouterEnv(_VectorReward, RouterEnv):
    __doc__ = (RouterEnv.__doc__ or "") + _MO_NOTE
