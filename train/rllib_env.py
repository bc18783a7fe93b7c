"""The project's envs in RLlib's conventions: the team as a multi-agent env, the single-agent envs masked.

:class:`RLlibEnv` is ``hitl_env/Supervisor-v2`` or ``hitl_env/Router-v3`` with the observation
``{"observations": Box, "action_mask": Box}`` (the keys of RLlib's action-masking module); it
builds its env with ``gym.make`` after importing :mod:`hitl_env`, so every env runner registers
the envs itself (the class travels to the runners by reference; nothing to register there).

:class:`RLlibTeamEnv`, the PettingZoo team env as an RLlib multi-agent env:

* Observations only for the agent whose decision is due (RLlib's multi-agent convention): no
  dummy steps of agents with nothing to decide.
* Each observation is ``{"observations": Box, "action_mask": Box}``, the keys of RLlib's
  action-masking module (``ActionMaskingTorchRLModule``); the mask is 1.0 for allowed actions.
* Rewards count each chat once: an AI-routed chat is credited to the supervisor of its worker
  (who decides its takeovers), every other chat to the router; the agents' rewards add up to
  the team's reward (the PettingZoo env credits the router with every chat, so its agents'
  returns add up to more). RLlib holds a reward for an agent until that agent next acts.
* ``env_config`` takes the team env's arguments (``preset``, ``team_size``, ...).

Requires ``ray[rllib]`` (``pip install 'hitl-env[rllib]'``); nothing else in the project
imports this module at import time.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from hitl_env.multi_agent import ROUTER, TeamParallelEnv, supervisor_agent
from hitl_env.rewards import scalarize, validate_weights


def masked_space(observation: spaces.Space) -> spaces.Dict:
    """An env's observation space with its action mask, in the keys of RLlib's action-masking module."""
    return spaces.Dict({"observations": observation, "action_mask": spaces.Box(0.0, 1.0, (2,), np.float32)})


class RLlibEnv(gym.Env):
    """A single-agent ``hitl_env`` env (``config``: ``env_id`` and the env's keyword arguments), masked."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        import hitl_env  # noqa: F401  (registers the envs in this process: every env runner imports this)

        kwargs = dict(config or {})
        self.env = gym.make(kwargs.pop("env_id"), **kwargs)
        self.observation_space = masked_space(self.env.observation_space)
        self.action_space = self.env.action_space

    @staticmethod
    def _obs(obs: np.ndarray, info: dict[str, Any]) -> dict[str, np.ndarray]:
        return {"observations": obs, "action_mask": np.asarray(info["action_mask"], np.float32)}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self._obs(obs, info), {}

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(int(action))
        return self._obs(obs, info), float(reward), terminated, truncated, {}

    def close(self) -> None:
        self.env.close()


class RLlibTeamEnv(MultiAgentEnv):
    """``hitl_env.multi_agent``'s team (router and one supervisor per worker) for RLlib."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.team = TeamParallelEnv(**dict(config or {}))
        self.possible_agents = list(self.team.possible_agents)
        self.agents = list(self.possible_agents)
        self.observation_spaces = {
            a: masked_space(self.team.observation_space(a)["observation"]) for a in self.possible_agents
        }
        self.action_spaces = {a: self.team.action_space(a) for a in self.possible_agents}
        self.weights = validate_weights((config or {}).get("reward_weights"))

    def _due_obs(self, obs: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
        due = self.team.due_agent
        o = obs[due]
        return {due: {"observations": o["observation"], "action_mask": o["action_mask"].astype(np.float32)}}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        obs, _ = self.team.reset(seed=seed, options=options)
        self.acted: set[str] = set()
        return self._due_obs(obs), {}

    def step(self, action_dict: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        due = self.team.due_agent
        self.acted.add(due)
        obs, _, terminations, _, infos = self.team.step({due: int(action_dict[due])})
        rewards = dict.fromkeys(self.acted, 0.0)  # (RLlib wants a reward, maybe 0, for each agent that acted)
        rewards.update(self._rewards(infos))
        over = all(terminations.values())
        return ({} if over else self._due_obs(obs)), rewards, {"__all__": over}, {"__all__": False}, {}

    def _rewards(self, infos: dict[str, dict[str, Any]]) -> dict[str, float]:
        """Each chat once: the supervisors' AI chats, the router the rest of the team's."""
        weights = self.weights
        router_vec = infos[ROUTER]["vector_reward"].astype(np.float64)
        out = {}
        for w in range(len(self.possible_agents) - 1):
            vec = infos[supervisor_agent(w)]["vector_reward"]
            router_vec = router_vec - vec
            if vec.any():
                out[supervisor_agent(w)] = scalarize(vec, weights)
        out[ROUTER] = scalarize(router_vec, weights)
        return out
