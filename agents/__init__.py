"""Policies for the ``hitl_env`` Gymnasium envs: one interface, and heuristic baselines.

Every policy maps ``(obs, info)`` to an action and respects ``info["action_mask"]``::

    import gymnasium as gym
    import agents, hitl_env

    env = gym.make("hitl_env/Supervisor-v2")
    policy = agents.make("sentiment_threshold", level=-0.6)
    policy.reset(seed=0)
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(policy.act(obs, info))

``oracle`` (:class:`agents.Oracle`) is an upper bound, not a baseline: it reads the latent state
of the chat being decided, so it needs the env itself: ``agents.make("oracle", env=env)``.
"""

from agents.base import Policy, RandomPolicy, allowed, episode_return, masked
from agents.oracle import Oracle, needs_env
from agents.registry import (
    REFERENCE_POLICIES,
    ROUTER_POLICIES,
    SUPERVISOR_POLICIES,
    from_spec,
    make,
    params_of,
    parse_spec,
)

__all__ = [
    "REFERENCE_POLICIES",
    "ROUTER_POLICIES",
    "SUPERVISOR_POLICIES",
    "Oracle",
    "Policy",
    "RandomPolicy",
    "allowed",
    "episode_return",
    "from_spec",
    "make",
    "masked",
    "needs_env",
    "params_of",
    "parse_spec",
]
