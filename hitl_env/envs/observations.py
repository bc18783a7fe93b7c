"""What an agent observes at each decision: one definition, used by every env adapter.

:class:`SupervisorObs` and :class:`RouterObs` turn a core decision view into the observation
vector, its space and the action mask. The Gymnasium envs and the PettingZoo env both use them,
so the observations of the two APIs cannot drift. The tables are in the env docstrings
(:class:`~hitl_env.envs.supervisor.SupervisorEnv`, :class:`~hitl_env.envs.router.RouterEnv`).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from hitl_env.config import Config
from hitl_env.sim.hooks import ArrivalView, RoundView

SUPERVISOR_FIELDS = (  # name, low, high
    ("ai_rounds", 0.0, 1000.0),
    ("elapsed_min", 0.0, 1440.0),
    ("reading", -20.0, 20.0),
    ("trend", -40.0, 40.0),
    ("confidence", 0.0, 1.0),
    ("held", 0.0, 50.0),
    ("ai_held", 0.0, 50.0),
    ("queue", 0.0, 10_000.0),
    ("can_takeover", 0.0, 1.0),
    ("shift_progress", 0.0, 3.0),
    ("reading_min", -20.0, 20.0),
    ("confidence_mean", 0.0, 1.0),
)
ROUTER_FIELDS = (  # loads per online worker and shares, so every input is of order 1
    ("rule_eligible", 0.0, 1.0),
    ("ai_allowed", 0.0, 1.0),
    ("queue_per_worker", 0.0, 1_000.0),
    ("load", 0.0, 50.0),
    ("online_share", 0.0, 1.0),
    ("shift_progress", 0.0, 3.0),
)


def field_index(fields: tuple[tuple[str, float, float], ...], name: str) -> int:
    """The index of field ``name`` in an observation (``fields``: :data:`SUPERVISOR_FIELDS` or
    :data:`ROUTER_FIELDS`); the issue category one-hot starts at ``len(fields)``.

    Raises:
        KeyError: no such field (the message lists the fields).
    """
    names = [f[0] for f in fields]
    if name not in names:
        raise KeyError(f"no observation field {name!r}; fields: {', '.join(names)}")
    return names.index(name)


_MASKS = (np.array([1, 0], np.int8), np.array([1, 1], np.int8))  # action 1 forbidden, allowed (copied: 0.2 us, not 0.5)


class _Obs:
    """Fields, then the issue category one-hot; values clipped to the space's bounds."""

    fields: tuple[tuple[str, float, float], ...] = ()

    def __init__(self, cfg: Config, shift_start_s: float, shift_s: float) -> None:
        n_cat = len(cfg.categories)
        low = np.array([f[1] for f in self.fields] + [0.0] * n_cat, np.float32)
        high = np.array([f[2] for f in self.fields] + [1.0] * n_cat, np.float32)
        self.space = gym.spaces.Box(low, high, dtype=np.float32)
        self.allowed = [c.ai_allowed for c in cfg.categories.values()]
        self.shift_start_s, self.shift_s = shift_start_s, shift_s

    def _vector(self, values: tuple[float, ...], category: int) -> np.ndarray:
        obs = np.zeros(self.space.shape, np.float32)
        obs[: len(values)] = values
        obs[len(values) + category] = 1.0
        return np.minimum(np.maximum(obs, self.space.low, out=obs), self.space.high, out=obs)

    def _progress(self, t: float) -> float:
        return (t - self.shift_start_s) / self.shift_s


class SupervisorObs(_Obs):
    """The takeover decision: what a supervisor sees of one of their AI chats."""

    fields = SUPERVISOR_FIELDS

    def __call__(self, v: RoundView) -> np.ndarray:
        values = (v.rounds, v.elapsed_s / 60.0, v.reading, v.trend, v.confidence, v.held, v.ai_held, v.queue,
                  v.can_takeover, self._progress(v.time_s), v.reading_min, v.confidence_mean)  # fmt: skip
        return self._vector(values, v.category)

    def mask(self, v: RoundView) -> np.ndarray:
        return _MASKS[int(v.can_takeover)].copy()


class RouterObs(_Obs):
    """The routing decision: the arriving chat's observable features and the team's load."""

    fields = ROUTER_FIELDS

    def __init__(self, cfg: Config, shift_start_s: float, shift_s: float) -> None:
        super().__init__(cfg, shift_start_s, shift_s)
        self.team_size = cfg.experiment.team_size

    def __call__(self, v: ArrivalView) -> np.ndarray:
        per = 1.0 / max(1, v.online)
        values = (v.rule_eligible, self.allowed[v.category], v.queue * per, v.held * per, v.online / self.team_size,
                  self._progress(v.time_s))  # fmt: skip
        return self._vector(values, v.category)

    def mask(self, v: ArrivalView) -> np.ndarray:
        return _MASKS[int(self.allowed[v.category])].copy()


class BinaryAction(gym.spaces.Discrete):
    """``Discrete(2)``, the action space of every decision: 0 (human, or let the AI continue) or 1.

    Its masked ``sample`` is Gymnasium's for the two masks the envs give (``[1, 1]``, ``[1, 0]``):
    the same draw (``np_random.choice`` over the allowed actions, which numpy makes as one
    ``integers`` draw), without ``Discrete.sample``'s general checks, about 13 us of a
    random-action step. Any other argument goes to ``Discrete.sample``.
    """

    _ALLOWED = {(1, 1): np.array([0, 1]), (1, 0): np.array([0])}

    def __init__(self, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(2, seed=seed)

    def sample(self, mask: np.ndarray | None = None, probability: np.ndarray | None = None) -> np.int64:
        if probability is None and type(mask) is np.ndarray and mask.dtype == np.int8 and mask.shape == (2,):
            allowed = self._ALLOWED.get(tuple(mask.tolist()))
            if allowed is not None:
                return self.start + self.dtype.type(allowed[self.np_random.integers(0, len(allowed), dtype=np.int64)])
        return super().sample(mask, probability)


OBSERVATIONS: dict[str, type[_Obs]] = {"route": RouterObs, "takeover": SupervisorObs}
"""The observation of each decision kind (:data:`hitl_env.sim.decisions.DECISIONS`), by its name."""
