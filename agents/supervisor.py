"""Heuristic supervisors for ``hitl_env/Supervisor-v2``: take over an AI chat (1) or not (0).

They read the observation's fields by name, from the env's field table
(:data:`hitl_env.envs.observations.SUPERVISOR_FIELDS`), and never take over where
``info["action_mask"]`` forbids it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from agents.base import Deterministic, masked, policy_rng
from hitl_env.config import Config, load_config
from hitl_env.envs.observations import SUPERVISOR_FIELDS, field_index

ROUNDS = field_index(SUPERVISOR_FIELDS, "ai_rounds")
READING = field_index(SUPERVISOR_FIELDS, "reading")


class AlgorithmOnly(Deterministic):
    """The paper's deployed system: no hand takeovers; only the algorithmic triggers escalate.

    The policy counterpart of the core's :class:`~hitl_env.sim.hooks.NeverTakeover`.
    """

    name = "algorithm_only"

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return 0


class AlwaysTakeover(Deterministic):
    """Take over after the first AI round the triggers let pass, whenever the mask allows it."""

    name = "always_takeover"

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return masked(1, info)


class SentimentThreshold(Deterministic):
    """Take over when the sentiment reading falls below ``level`` (negative is frustrated)."""

    name = "sentiment_threshold"

    def __init__(self, level: float = -0.5) -> None:
        if not isinstance(level, (int, float)) or isinstance(level, bool) or not -20.0 <= level <= 20.0:
            raise ValueError(f"sentiment_threshold: level must be a number in [-20, 20], got {level!r}")
        self.level = float(level)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return masked(int(obs[READING] < self.level), info)


class RoundsThreshold(Deterministic):
    """Take over once the AI has had ``k`` rounds on the chat."""

    name = "rounds_threshold"

    def __init__(self, k: int = 3) -> None:
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"rounds_threshold: k must be a positive integer, got {k!r}")
        self.k = k

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return masked(int(obs[ROUNDS] >= self.k), info)


class PaperWorkers:
    """Human-initiated takeovers like the paper's workers.

    Takes over when ``u < base + sentiment_slope * max(0, -reading - sentiment_level)``, the rule
    of the core's :class:`~hitl_env.sim.hooks.PaperSupervisor`. The observation carries no
    uniform, so ``u`` comes from the policy's own seeded generator: the decisions are equal to
    the core's in distribution, not draw for draw (an episode does not reproduce a
    ``hitl_env.simulate`` run path by path). The reading is the observation's float32 value.

    Args:
        config: a :class:`~hitl_env.config.Config` or preset name/path whose ``supervisor``
            section gives the parameters (default: the ``taobao_2024`` preset).
        base, sentiment_slope, sentiment_level: override the config's values.
        seed: seeds the generator (``reset(seed)`` reseeds it).
    """

    name = "paper_workers"

    def __init__(
        self,
        config: Config | str | None = None,
        base: float | None = None,
        sentiment_slope: float | None = None,
        sentiment_level: float | None = None,
        seed: int | None = None,
    ) -> None:
        cfg = load_config(config or "taobao_2024") if not isinstance(config, Config) else config
        s = cfg.supervisor
        self.base = s.base if base is None else float(base)
        self.sentiment_slope = s.sentiment_slope if sentiment_slope is None else float(sentiment_slope)
        self.sentiment_level = s.sentiment_level if sentiment_level is None else float(sentiment_level)
        if (
            not 0.0 <= self.base <= 1.0
            or not 0.0 <= self.sentiment_slope < math.inf
            or not math.isfinite(self.sentiment_level)
        ):
            raise ValueError(
                f"paper_workers: base must be in [0, 1], sentiment_slope finite and >= 0 and sentiment_level finite, "
                f"got base={self.base!r}, sentiment_slope={self.sentiment_slope!r}, "
                f"sentiment_level={self.sentiment_level!r}"
            )
        self.seed = seed
        self._rng = policy_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self._rng = policy_rng(seed)

    def takeover_chance(self, reading: float) -> float:
        """The chance of a takeover after a round with this sentiment reading."""
        return self.base + self.sentiment_slope * max(0.0, -float(reading) - self.sentiment_level)

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return masked(int(self._rng.random() < self.takeover_chance(obs[READING])), info)

    def __repr__(self) -> str:
        return (
            f"PaperWorkers(base={self.base!r}, sentiment_slope={self.sentiment_slope!r}, "
            f"sentiment_level={self.sentiment_level!r}, seed={self.seed!r})"
        )
