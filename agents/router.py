"""Heuristic routers for ``hitl_env/Router-v3``: send an arriving chat to the AI (1) or a human (0).

They read the observation's fields by name, from the env's field table
(:data:`hitl_env.envs.observations.ROUTER_FIELDS`), and never route to the AI where
``info["action_mask"]`` forbids it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from agents.base import Deterministic, masked
from hitl_env.config import Config, load_config
from hitl_env.envs.observations import ROUTER_FIELDS, field_index

RULE_ELIGIBLE = field_index(ROUTER_FIELDS, "rule_eligible")
CATEGORY = len(ROUTER_FIELDS)  # where the category one-hot starts


class RuleBased(Deterministic):
    """The paper's router: to the AI exactly when the category's rule marks it eligible.

    The policy counterpart of the core's :class:`~hitl_env.sim.hooks.RuleRouter`.
    """

    name = "rule_based"

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return masked(int(obs[RULE_ELIGIBLE] > 0.5), info)


class AllHuman(Deterministic):
    """Every chat to a human: the operation without the AI."""

    name = "all_human"

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return 0


class ConfidenceThreshold(Deterministic):
    """To the AI when the category's confidence score exceeds ``threshold``.

    The router's observation carries no confidence of the AI in a particular chat (that signal
    exists only after AI rounds, in ``Supervisor-v2``), so the confidence here is a prior per
    issue category, given as a parameter: e.g. an estimate of the AI's success rate on the
    category from past data. Categories without a score get 1.0 if the paper's rule marks them
    eligible, else 0.0 (read from the observation); with no scores at all the policy therefore
    routes exactly like :class:`RuleBased`.

    Args:
        threshold: route to the AI when ``score > threshold``.
        scores: category name to score (names resolved through ``config``), or one score per
            category in the config's order.
        config: a :class:`~hitl_env.config.Config` or preset name/path giving the categories and
            their order (default: ``taobao_2024``; must match the env's).
    """

    name = "confidence_threshold"

    def __init__(
        self,
        threshold: float = 0.5,
        scores: Mapping[str, float] | Sequence[float] | None = None,
        config: Config | str | None = None,
    ) -> None:
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
            raise ValueError(f"confidence_threshold: threshold must be a number, got {threshold!r}")
        self.threshold = float(threshold)
        self.scores, self.categories = _score_table(scores, config)

    def score(self, obs: np.ndarray) -> float:
        """The confidence score of the arriving chat's category."""
        if self.scores is not None:
            own = self.scores[int(np.argmax(obs[CATEGORY:]))]
            if not np.isnan(own):
                return float(own)
        return 1.0 if obs[RULE_ELIGIBLE] > 0.5 else 0.0

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        return masked(int(self.score(obs) > self.threshold), info)


def _score_table(
    scores: Mapping[str, float] | Sequence[float] | None, config: Config | str | None
) -> tuple[np.ndarray | None, tuple[str, ...] | None]:
    """Scores by category index (NaN where the default, the rule, applies) and the categories."""
    if scores is None:
        return None, None
    cfg = config if isinstance(config, Config) else load_config(config or "taobao_2024")
    names = list(cfg.categories)
    given = list(scores.values()) if isinstance(scores, Mapping) else list(scores)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in given):
        raise ValueError(f"confidence_threshold: scores must be finite numbers, got {scores!r}")
    if isinstance(scores, Mapping):
        unknown = sorted(set(scores) - set(names))
        if unknown:
            raise ValueError(f"confidence_threshold: unknown categories {unknown}; categories: {', '.join(names)}")
        return np.array([float(scores.get(n, np.nan)) for n in names]), tuple(names)
    if len(given) != len(names):
        raise ValueError(
            f"confidence_threshold: scores needs one value per category ({len(names)}: {', '.join(names)}), "
            f"got {len(given)}"
        )
    return np.array(given, dtype=float), tuple(names)
