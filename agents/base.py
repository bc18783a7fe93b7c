"""The policy interface shared by evaluation and training, and what every policy needs.

A policy maps one observation and its ``info`` dict (as returned by a ``hitl_env`` Gymnasium
env's ``reset`` or ``step``) to an action. It sees nothing of the simulator beyond them, and it
never returns an action that ``info["action_mask"]`` forbids. A randomized policy draws from
its own seeded ``np.random.Generator``; ``reset(seed)`` reseeds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

_POLICY_STREAM = 0x5EED_A6E7
"""Mixed into a policy's seed, so a policy and an env seeded with the same integer draw
independent streams (Gymnasium seeds an env's generator from the bare integer)."""


@runtime_checkable
class Policy(Protocol):
    """Observation and info in, action out."""

    name: str

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        """The action for the pending decision; never one ``info["action_mask"]`` forbids."""
        ...

    def reset(self, seed: int | None = None) -> None:
        """Start an episode; a seed reseeds the policy's own generator (if it has one)."""
        ...


def allowed(info: Mapping[str, Any], action: int) -> bool:
    """Whether ``info["action_mask"]`` allows ``action`` (every action when there is no mask)."""
    mask = info.get("action_mask")
    return True if mask is None else bool(mask[action])


def masked(action: int, info: Mapping[str, Any]) -> int:
    """``action`` if the mask allows it, else 0 (the action every decision allows)."""
    return action if allowed(info, action) else 0


def policy_rng(seed: int | None) -> np.random.Generator:
    """A policy's generator: independent of an env seeded with the same integer."""
    return np.random.default_rng(None if seed is None else [_POLICY_STREAM, seed])


class Deterministic:
    """Base of the policies that draw nothing: ``reset`` has nothing to do."""

    name = "deterministic"

    def reset(self, seed: int | None = None) -> None:
        pass

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


class RandomPolicy:
    """Take action 1 with probability ``p`` whenever the mask allows it, else 0.

    Works for both envs (takeover or AI routing is action 1). One uniform is drawn per decision,
    masked or not, so the stream does not depend on the masks.
    """

    name = "random"

    def __init__(self, p: float = 0.5, seed: int | None = None) -> None:
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise ValueError(f"random: p must be a probability in [0, 1], got {p!r}")
        self.p, self.seed = float(p), seed
        self._rng = policy_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self._rng = policy_rng(seed)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return masked(int(self._rng.random() < self.p), info)

    def __repr__(self) -> str:
        return f"RandomPolicy(p={self.p!r}, seed={self.seed!r})"


def episode_return(env: gym.Env, policy: Policy, seed: int) -> float:
    """Run one episode from ``env.reset(seed=seed)`` (the policy reset with the same seed).

    Returns:
        The undiscounted sum of the env's rewards.
    """
    policy.reset(seed)
    obs, info = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))
        total += float(reward)
        done = terminated or truncated
    return total
