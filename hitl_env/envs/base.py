"""What the Gymnasium envs share: one team's shift as an episode, driven through the core hooks.

The envs are thin adapters: the simulation core (:class:`~hitl_env.sim.team.TeamSim`) pauses at
each decision (its hook returns ``PENDING``), the env turns the decision into an observation,
takes the action, and resumes the core. No dynamics live here.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from hitl_env.config import Config, load_config, override_keys, with_overrides
from hitl_env.envs.observations import BinaryAction, SupervisorObs
from hitl_env.envs.render import RENDER_MODES, check_render_mode
from hitl_env.rewards import COMPONENTS, RATING_MODES, scalarize, validate_weights, vector_reward
from hitl_env.sim.decisions import DECISIONS
from hitl_env.sim.hooks import PENDING
from hitl_env.sim.population import HOUR_S, draw_chats, draw_workers
from hitl_env.sim.run import check_seed
from hitl_env.sim.seeding import FastSeedSequence
from hitl_env.sim.team import TeamSim

CREDITS = ("shift", "chat")


class Defer:
    """A hook that hands every decision to the caller."""

    def route(self, view: object) -> None:
        return PENDING

    def takeover(self, view: object) -> None:
        return PENDING


class FocalChat:
    """The agent's hook under ``credit="chat"``: it defers every decision on the episode's chat
    (``focal``), and any decision while there is none or once it has closed; every other chat's
    decision it leaves to ``background`` (the env's :meth:`TeamEnv._background`)."""

    def __init__(self, background: Any) -> None:
        self.background = background
        self.focal: int | None = None
        self.sim: TeamSim | None = None  # the team it decides for, set by the env

    def closed(self) -> bool:
        """Whether the focal chat's record is closed (every component of its reward is known)."""
        if self.focal is None:
            return True
        end = self.sim.rec["end_t"][self.focal]  # type: ignore[union-attr]  (NaN until the chat closes)
        return end == end

    def route(self, view: Any) -> object:
        return PENDING if view.chat == self.focal or self.closed() else self.background.route(view)

    def takeover(self, view: Any) -> object:
        return PENDING if view.chat == self.focal or self.closed() else self.background.takeover(view)


def _integer(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def episode_config(cfg: Config, team_size: int, shift_hours: float, start_hour: int) -> Config:
    """One team of ``team_size`` AI-enabled workers, all on one shift of one day."""
    if not _integer(team_size) or team_size < 1:
        raise ValueError(f"team_size must be a positive integer, got {team_size!r}")
    if not _integer(start_hour) or not 0 <= start_hour <= 23:
        raise ValueError(f"start_hour must be an integer hour in [0, 23], got {start_hour!r}")
    team_size, start_hour = int(team_size), int(start_hour)
    hours_ok = isinstance(shift_hours, numbers.Real) and not isinstance(shift_hours, bool)
    if not hours_ok or not 0 < shift_hours <= 24 - start_hour:
        raise ValueError(
            f"shift_hours must be a number in (0, {24 - start_hour}] for start_hour={start_hour}, got {shift_hours!r}"
        )
    weights = [0.0] * 24
    weights[start_hour] = 1.0
    return with_overrides(
        cfg,
        {
            "experiment.workers": team_size,
            "experiment.team_size": team_size,
            "experiment.treatment_share": 1.0,
            "experiment.days_pre": 0,
            "experiment.days_post": 1,
            "arrivals.shift_hours": float(shift_hours),
            "arrivals.shift_start_weights": weights,
        },
    )


@dataclass(frozen=True)
class EpisodeSettings:
    """What every env adapter derives from its arguments (validated once, here)."""

    cfg: Config
    weights: np.ndarray
    rating: str
    shift_start_s: float
    shift_s: float

    @property
    def end_s(self) -> float:
        return self.shift_start_s + self.shift_s


EPISODE_KEYS = {  # config fields every episode sets itself (episode_config), and what sets them
    "experiment.workers": "use the env's team_size argument",
    "experiment.team_size": "use the env's team_size argument",
    "experiment.treatment_share": "every worker of an episode's team has the AI",
    "experiment.days_pre": "an episode is one shift",
    "experiment.days_post": "an episode is one shift",
    "arrivals.shift_hours": "use the env's shift_hours argument",
    "arrivals.shift_start_weights": "use the env's start_hour argument",
}


def _check_episode_keys(overrides: Mapping[str, Any] | None) -> None:
    """Refuse overrides the episode would silently replace."""
    clash = sorted(override_keys(overrides) & EPISODE_KEYS.keys())
    if clash:
        raise ValueError(f"overrides: {clash[0]} is set by the env ({EPISODE_KEYS[clash[0]]})")


def episode_settings(
    preset: str = "taobao_2024",
    overrides: Mapping[str, Any] | None = None,
    team_size: int = 10,
    shift_hours: float = 8.0,
    start_hour: int = 9,
    reward_weights: Mapping[str, float] | None = None,
    rating: str = "dense",
) -> EpisodeSettings:
    """Validate the env arguments shared by the Gymnasium and PettingZoo envs."""
    if rating not in RATING_MODES:
        raise ValueError(f"rating must be one of {RATING_MODES}, got {rating!r}")
    base = load_config(preset, overrides)  # checks that overrides map dotted keys to values
    _check_episode_keys(overrides)
    cfg = episode_config(base, team_size, shift_hours, start_hour)
    return EpisodeSettings(cfg, validate_weights(reward_weights), rating, start_hour * HOUR_S, shift_hours * HOUR_S)


def build_episode(cfg: Config, rng: np.random.Generator, router: Any, supervisor: Any) -> TeamSim:
    """A new team drawn from ``rng`` (workers, arrivals, dynamics streams) with these hooks."""
    ss = FastSeedSequence(int(rng.integers(2**63)))  # numpy's SeedSequence, its 29 descendants made faster
    workers_ss, arrivals_ss, dynamics_ss = ss.spawn(3)
    workers = draw_workers(cfg, np.random.default_rng(workers_ss))
    chats = draw_chats(cfg, workers, np.random.default_rng(arrivals_ss))
    return TeamSim(cfg, workers, chats, np.random.default_rng(dynamics_ss), router, supervisor)


def _first_decision(view: Any) -> bool:
    """Whether a decision is its chat's first: every routing decision, a takeover decision after one AI round."""
    return getattr(view, "rounds", 1) == 1


class TeamEnv(gym.Env):
    """Base of the single-agent envs: an episode is one team's shift, a step one decision."""

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        preset: str = "taobao_2024",
        overrides: Mapping[str, Any] | None = None,
        team_size: int = 10,
        shift_hours: float = 8.0,
        start_hour: int = 9,
        reward_weights: Mapping[str, float] | None = None,
        rating: str = "dense",
        render_mode: str | None = None,
        credit: str = "shift",
    ) -> None:
        check_render_mode(render_mode)
        if credit not in CREDITS:
            raise ValueError(f"credit must be one of {CREDITS}, got {credit!r}")
        self.credit = credit
        self.settings = episode_settings(preset, overrides, team_size, shift_hours, start_hour, reward_weights, rating)
        self.cfg, self.render_mode = self.settings.cfg, render_mode
        self.obs = self.observation_type(self.cfg, self.settings.shift_start_s, self.settings.shift_s)
        self.observation_space = self.obs.space
        self.reward_space = gym.spaces.Box(-1e6, 1e6, (len(COMPONENTS),), np.float32)
        self._zero_reward = scalarize(np.zeros(len(COMPONENTS), np.float32), self.settings.weights)
        self.action_space = BinaryAction()
        self.sim: TeamSim | None = None
        self.decision: tuple[str, Any] | None = None
        self.active = False
        self._focal: FocalChat | None = None  # credit="chat": the hook deferring the episode's chat

    # ----------------------------------------------------------------- hooks for subclasses
    observation_type: type = SupervisorObs  # the decision's observation (see observations.py)

    def _hooks(self) -> tuple[Any, Any]:
        """(router, supervisor) for the core; the agent's decision is deferred."""
        raise NotImplementedError

    def _background(self) -> Any:
        """Under ``credit="chat"``, the hook that answers the agent's decisions on other chats."""
        raise NotImplementedError

    def _ai_only(self) -> bool:
        """Whether the reward scores only the finished chats the router sent to the AI (else all)."""
        return False

    # ----------------------------------------------------------------- Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        check_seed(seed, allow_none=True)  # as simulate() does: a bool is not a seed
        if self.credit == "chat":
            return self._next_chat(seed)
        super().reset(seed=seed)
        self._new_shift()
        return self._obs(), self._info(np.zeros(len(COMPONENTS), np.float32))

    def _new_shift(self) -> None:
        hooks = self._hooks()
        if self.credit == "chat":  # the hook that defers the agent's decisions (Defer) defers the focal chat's only
            hooks = tuple(FocalChat(self._background()) if isinstance(h, Defer) else h for h in hooks)
        self.sim = build_episode(self.cfg, self.np_random, *hooks)
        self._focal = next((h for h in hooks if isinstance(h, FocalChat)), None)
        if self._focal is not None:
            self._focal.sim = self.sim
        self.decision = self.sim.run()
        self.sim.take_finished()  # chats closed before the first decision are not the agent's doing
        self.active = True

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.credit == "chat":
            return self._chat_step(action)
        self._check_step(action)
        if self.decision is not None:  # (None: a shift with no decision at all ends at its first step)
            self.decision = self.sim.answer(bool(action))  # the core applies the mask (TeamSim.decide)
        closed = self.sim.take_finished()
        if closed:
            vec = vector_reward(self.sim, closed, self.settings.rating, self._ai_only())
            reward = scalarize(vec, self.settings.weights)
        else:
            vec, reward = np.zeros(len(COMPONENTS), np.float32), self._zero_reward
        self.active = self.decision is not None
        return self._obs(), reward, not self.active, False, self._info(vec)

    # ----------------------------------------------------------------- credit="chat"
    def _next_chat(self, seed: int | None) -> tuple[np.ndarray, dict]:
        """The next episode: the next chat to reach its first decision, in this shift if one is left."""
        if seed is None and self.sim is not None:  # (an episode given up before its end: its chat is left too)
            self._focal.focal = None  # type: ignore[union-attr]
            self._to_first_decision()
        if seed is not None or self.sim is None or self.decision is None:
            super().reset(seed=seed)
            self._new_shift()  # (its first decision is a chat's first)
        self._focal.focal = self.decision[1].chat if self.decision is not None else None  # type: ignore[union-attr]
        self.sim.take_finished()  # type: ignore[union-attr]
        self.active = True
        return self._obs(), self._info(np.zeros(len(COMPONENTS), np.float32))

    def _chat_step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._check_step(action)
        sim, hook = self.sim, self._focal
        if self.decision is not None:  # (None: a shift with no decision at all ends at its first step)
            self.decision = sim.answer(bool(action))  # type: ignore[union-attr]
        sim.take_finished()  # type: ignore[union-attr]
        if self.decision is not None and not hook.closed():  # type: ignore[union-attr]
            return self._obs(), self._zero_reward, False, False, self._info(np.zeros(len(COMPONENTS), np.float32))
        self.active = False
        focal = hook.focal  # type: ignore[union-attr]
        vec = (vector_reward(sim, [focal], self.settings.rating) if focal is not None  # type: ignore[arg-type]
               else np.zeros(len(COMPONENTS), np.float32))  # fmt: skip
        self._to_first_decision()  # so that no pending decision means the shift is over
        return self._obs(), scalarize(vec, self.settings.weights), True, False, self._info(vec)

    def _to_first_decision(self) -> None:
        """Answer with the background policy the decisions on chats already past their first one
        (chats that were decided meanwhile), up to the next chat's first decision or the shift's end."""
        background = self._focal.background  # type: ignore[union-attr]
        while self.decision is not None and not _first_decision(self.decision[1]):
            kind, view = self.decision
            self.decision = self.sim.answer(bool(getattr(background, DECISIONS[kind].method)(view)))  # type: ignore[union-attr]

    def _check_step(self, action: Any) -> None:
        if self.sim is None or not self.active:
            raise RuntimeError("call reset() before step(): no episode is running")
        # fast path for the actions users (int) and SB3's vector envs (np.int64) pass; anything else is checked in full
        if not ((type(action) is int or type(action) is np.int64) and 0 <= action <= 1) and not (
            self.action_space.contains(action)
        ):
            raise ValueError(f"action must be 0 or 1, got {action!r}")

    def _obs(self) -> np.ndarray:
        if self.decision is None:
            return np.zeros(self.observation_space.shape, np.float32)
        return self.obs(self.decision[1])

    def _info(self, vec: np.ndarray) -> dict[str, Any]:
        return {"vector_reward": vec, "action_mask": self._mask(), "time_s": self._now()}

    def _mask(self) -> np.ndarray:
        """The pending decision's mask; ``[1, 0]`` when none is pending."""
        return self.obs.mask(self.decision[1]) if self.decision is not None else np.array([1, 0], np.int8)

    def action_masks(self) -> np.ndarray:
        """The current action mask as booleans (for sb3-contrib's MaskablePPO)."""
        return self._mask().astype(bool)

    def _now(self) -> float:
        """Time of the pending decision; the shift's end once none is pending."""
        return float(self.decision[1].time_s) if self.decision is not None else self.settings.end_s

    # ----------------------------------------------------------------- rendering
    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None or self.sim is None:
            return None
        from hitl_env.envs.render import render

        return render(self.sim, self._now(), self.render_mode, self.decision)
