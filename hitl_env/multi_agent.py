"""``hitl_env.multi_agent``: a team's router and supervisors as PettingZoo agents.

:func:`env` gives the event-driven AEC env, :func:`parallel_env` the parallel one; both are thin
adapters over the simulation core (:class:`~hitl_env.sim.team.TeamSim`), like the Gymnasium envs:
the core pauses at each decision (its hooks are :class:`~hitl_env.envs.base.Defer`), the env hands
the decision to the agent it belongs to, applies the action and resumes the core. No dynamics
live here.

Observations are exactly those of the single-agent envs: both use the same definitions
(:mod:`hitl_env.envs.observations`), settings (:func:`~hitl_env.envs.base.episode_settings`) and
team construction (:func:`~hitl_env.envs.base.build_episode`), so the two APIs cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

from hitl_env.config import Config
from hitl_env.envs.base import Defer, build_episode, episode_settings
from hitl_env.envs.observations import OBSERVATIONS, BinaryAction
from hitl_env.envs.render import RENDER_MODES, check_render_mode, render
from hitl_env.rewards import COMPONENTS, scalarize, vector_reward
from hitl_env.sim.run import check_seed
from hitl_env.sim.team import TeamSim

ROUTER = "router"
_NO_OP = np.array([1, 0], np.int8)


def supervisor_agent(worker: int) -> str:
    """The name of the agent that supervises ``worker``'s AI chats."""
    return f"supervisor_{worker}"


class _Shift:
    """One team's shift, paused at each decision: the state and logic both envs share."""

    def __init__(self, **kwargs: Any) -> None:
        self.settings = episode_settings(**kwargs)
        self.cfg, self.rating, self.end_s = self.settings.cfg, self.settings.rating, self.settings.end_s
        self.weights = self.settings.weights
        start, length = self.settings.shift_start_s, self.settings.shift_s
        self.models = {kind: obs(self.cfg, start, length) for kind, obs in OBSERVATIONS.items()}
        self.n_workers = self.cfg.experiment.team_size
        self.agents = [ROUTER] + [supervisor_agent(w) for w in range(self.n_workers)]
        self.observation_spaces: dict[str, spaces.Dict] = {}
        for a in self.agents:  # one space object per agent, so that agents sample independently
            box = self.models["route" if a == ROUTER else "takeover"].space
            self.observation_spaces[a] = spaces.Dict(
                {
                    "observation": spaces.Box(box.low, box.high, dtype=np.float32),
                    "action_mask": spaces.Box(0, 1, (2,), np.int8),
                }
            )
        self.action_spaces = {a: BinaryAction() for a in self.agents}
        self.reward_spaces = {a: spaces.Box(-1e6, 1e6, (len(COMPONENTS),), np.float32) for a in self.agents}
        self.zero = np.zeros(len(COMPONENTS), np.float32)
        self.sim: TeamSim | None = None
        self.decision: tuple[str, Any] | None = None
        self.over = True

    def reset(self, rng: np.random.Generator) -> None:
        """A new team from ``rng``, run to its first decision (the team ``TeamEnv.reset`` draws)."""
        self.sim = build_episode(self.cfg, rng, Defer(), Defer())
        self.decision = self.sim.run()
        self.sim.take_finished()  # chats closed before the first decision are no agent's doing
        self.over = False

    def due(self) -> str:
        """The agent whose decision is due (the router in a shift without any decision)."""
        if self.decision is None or self.decision[0] == "route":
            return ROUTER
        if self.decision[0] == "takeover":
            return supervisor_agent(self.decision[1].worker)
        raise ValueError(f"no agent of this env takes {self.decision[0]!r} decisions")

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """The due agent's observation and mask; zeros and the no-op mask ``[1, 0]`` for others."""
        box = self.observation_spaces[agent]["observation"]
        if self.decision is None or agent != self.due():
            return {"observation": np.zeros(box.shape, np.float32), "action_mask": _NO_OP.copy()}
        kind, view = self.decision
        model = self.models[kind]
        return {"observation": model(view), "action_mask": model.mask(view)}

    def mask(self, agent: str) -> np.ndarray:
        """The due agent's action mask; the no-op mask ``[1, 0]`` for others."""
        if self.decision is None or agent != self.due():
            return _NO_OP.copy()
        kind, view = self.decision
        return self.models[kind].mask(view)

    def info(self, agent: str, vector: np.ndarray) -> dict[str, Any]:
        now = self.end_s if self.decision is None else float(self.decision[1].time_s)
        return {"vector_reward": vector, "action_mask": self.mask(agent), "time_s": now}

    def decide(self, action: Any) -> dict[str, np.ndarray]:
        """Apply the due agent's action, run to the next decision; each agent's reward vector."""
        if self.sim is None or self.over:
            raise RuntimeError("call reset() before step(): no episode is running")
        if self.decision is not None:  # (None: a shift without any decision ends at its first step)
            self.decision = self.sim.answer(bool(action))  # the core applies the mask (TeamSim.decide)
        vectors = self._score(self.sim.take_finished())
        self.over = self.decision is None
        return vectors

    def _score(self, chats: list[int]) -> dict[str, np.ndarray]:
        """The router scores every closed chat; supervisor_i the AI-routed ones of worker i."""
        routed, worker = self.sim.rec["routed_ai"], self.sim.rec["worker"]  # type: ignore[union-attr]
        mine: list[list[int]] = [[] for _ in range(self.n_workers)]
        for c in chats:
            if routed[c]:
                mine[worker[c]].append(c)
        vectors = {ROUTER: vector_reward(self.sim, chats, self.rating)}  # type: ignore[arg-type]
        for w, cs in enumerate(mine):  # (most steps close no AI chat of most workers)
            vectors[supervisor_agent(w)] = vector_reward(self.sim, cs, self.rating) if cs else self.zero.copy()  # type: ignore[arg-type]
        return vectors

    def render(self, mode: str) -> str | np.ndarray:
        now = self.end_s if self.decision is None else float(self.decision[1].time_s)
        return render(self.sim, now, mode, self.decision)


class _TeamAgents:
    """What both envs share: construction, seeding, spaces, rendering, the pending decision."""

    metadata = {"name": "hitl_team_v3", "render_modes": list(RENDER_MODES), "render_fps": 4}

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
    ) -> None:
        check_render_mode(render_mode)
        self._shift = _Shift(
            preset=preset, overrides=overrides, team_size=team_size, shift_hours=shift_hours,
            start_hour=start_hour, reward_weights=reward_weights, rating=rating,
        )  # fmt: skip
        self.render_mode = render_mode
        self.possible_agents: list[str] = list(self._shift.agents)
        self.agents: list[str] = []
        self.observation_spaces = self._shift.observation_spaces
        self.action_spaces = self._shift.action_spaces
        self._np_random: np.random.Generator | None = None

    def observation_space(self, agent: str) -> spaces.Dict:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self.action_spaces[agent]

    def reward_space(self, agent: str) -> spaces.Box:
        """The space of ``info["vector_reward"]`` (components :data:`hitl_env.rewards.COMPONENTS`)."""
        return self._shift.reward_spaces[agent]

    @property
    def cfg(self) -> Config:
        """The episode's config (one team, one shift)."""
        return self._shift.cfg

    @property
    def decision(self) -> tuple[str, Any] | None:
        """The pending decision, ``("route", ArrivalView)`` or ``("takeover", RoundView)``; None at the end."""
        return self._shift.decision

    @property
    def sim(self) -> TeamSim | None:
        """The running core (read it, never drive it: the env owns its decisions)."""
        return self._shift.sim

    def _reset_shift(self, seed: int | None) -> None:
        check_seed(seed, allow_none=True)  # as simulate() does: a bool is not a seed
        # Gymnasium's seeding rule: a seed restarts the generator, None continues it
        if seed is not None or self._np_random is None:
            self._np_random, _ = seeding.np_random(seed)
        self._shift.reset(self._np_random)
        self.agents = list(self.possible_agents)

    def _check(self, agent: str, action: Any) -> None:
        if not self.action_spaces[agent].contains(action):
            raise ValueError(f"action of {agent!r} must be 0 or 1, got {action!r}")

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None or self._shift.sim is None:
            return None
        return self._shift.render(self.render_mode)

    def close(self) -> None:
        pass


class TeamAECEnv(_TeamAgents, AECEnv):
    """A team's router and supervisors, each acting when its decision is due.

    ## Description
    One team of workers (``team_size``, default 10) works one shift of the calibrated operation
    (``preset``, default ``taobao_2024``), every worker with the AI on, as in the Gymnasium envs
    ``hitl_env/Router-v3`` and ``hitl_env/Supervisor-v2``, but with every decision in the hands
    of an agent. Agents: ``router``, who decides at each arrival whether the chat is
    AI-eligible, and ``supervisor_0`` ... ``supervisor_{team_size-1}``, one per worker, who
    decides after each round of one of that worker's AI chats (once no algorithmic trigger has
    fired) whether the worker takes over. The algorithmic triggers stay on (see
    ``Supervisor-v2``). The env is event-driven: ``agent_selection`` is always the agent whose
    decision the core is waiting for, so the order of turns follows simulated time and an agent
    may act many times in a row or never (a worker without AI chats).

    ## Action Space
    ``Discrete(2)`` for every agent. Router: 0 sends the chat to a human, 1 to the AI.
    Supervisor: 0 lets the AI continue, 1 takes over. ``observation["action_mask"]`` and
    ``info["action_mask"]`` are ``[1, 0]`` where 1 is impossible (a category that may not go to
    the AI; a worker at ``supervisor.max_hand_chats``), and 1 then acts as 0.

    ## Observation Space
    ``Dict({"observation": Box(float32), "action_mask": Box(0, 1, (2,), int8)})``. The router's
    ``observation`` is ``Router-v3``'s observation, a supervisor's is ``Supervisor-v2``'s (see
    their tables). An agent whose decision is not due observes zeros and the mask ``[1, 0]``.

    ## Rewards
    At each step, the weighted sum (``reward_weights``) of the reward components
    (:mod:`hitl_env.rewards`) of the chats that closed during the step: for ``router`` every
    chat of the team, for ``supervisor_i`` the AI-routed chats of worker ``i`` (whether or not
    they were escalated). Every agent receives its reward at every step; :meth:`last` returns
    the sum since the agent last acted (PettingZoo's cumulative reward), and
    ``info["vector_reward"]`` the vector behind that sum. ``rating`` as in ``Supervisor-v2``.

    ## Starting State
    A new team drawn from the seed at the shift start (the same team the Gymnasium envs draw
    from the same seed); ``reset`` runs the core to the first decision.

    ## Episode End
    When the team has closed every chat of the shift, every agent terminates at once, and each
    then steps once with ``None`` (PettingZoo's dead-step protocol). The last step's reward
    includes every chat still open at that step. No truncation. A shift without any decision
    (no arrival) is one router step with the mask ``[1, 0]`` and zero reward.

    ## Arguments
    ``hitl_env.multi_agent.env(preset="taobao_2024", overrides=None, team_size=10,
    shift_hours=8.0, start_hour=9, reward_weights=None, rating="dense", render_mode=None)``, as
    for the Gymnasium envs; :func:`env` adds PettingZoo's ``OrderEnforcingWrapper``.

    ## Version History
    * v3: the calibrated ``taobao_2024`` changed (DOMAIN.md's per-escalation-type
      table and statistical power): a hand takeover costs a rating penalty (gatekeeper aversion)
      and gets a worker's chosen effort; ratings are J-shaped; workers drift from day to day;
      the AI's confidence signal is weak at first and sharpens over rounds (the observation's
      ``confidence``); the supervisor also observes the chat's lowest reading and mean
      confidence so far; the default reward weights are a cost model in worker-minutes
      (:mod:`hitl_env.rewards`). Returns and observations are not comparable with v2's.
    * v2: the calibrated ``taobao_2024`` changed: a worker who takes over an AI chat within the
      AI's scope resolves it more often (``ai.handoff_resolve`` 0.1, the AI's transcript); returns
      are not comparable with v1's.
    * v1: the router's observation is ``Router-v1``'s (loads per online worker, online share);
      an escalated chat of a category the AI cannot solve needs the full human work.
    * v0: initial version.
    """

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self._reset_shift(seed)
        zero = np.zeros(len(COMPONENTS), np.float32)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self._vectors = {a: zero.copy() for a in self.agents}
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: self._shift.info(a, self._vectors[a]) for a in self.agents}
        self.agent_selection = self._shift.due()

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        return self._shift.observe(agent)

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._check(agent, action)
        self._cumulative_rewards[agent] = 0.0
        self._vectors[agent] = np.zeros(len(COMPONENTS), np.float32)
        vectors = self._shift.decide(action)
        for a in self.agents:
            self.rewards[a] = scalarize(vectors[a], self._shift.weights)
            self._vectors[a] = self._vectors[a] + vectors[a]
            self.infos[a] = self._shift.info(a, self._vectors[a])
        self._accumulate_rewards()
        if self._shift.over:
            self.terminations = dict.fromkeys(self.agents, True)
            self.agent_selection = self.agents[0]
        else:
            self.agent_selection = self._shift.due()


class TeamParallelEnv(_TeamAgents, ParallelEnv):
    """The team's agents in PettingZoo's parallel API: one step is one decision.

    Same agents, spaces, rewards, episodes and arguments as :class:`TeamAECEnv` (see there).

    ## Timing
    Decisions in the core are sequential events in simulated time, never simultaneous, so a
    parallel step is one decision: every live agent submits an action, but only the action of
    the agent whose decision is due is applied (the agent whose observation is non-zero and
    whose ``action_mask`` is its real mask); every other agent's mask is ``[1, 0]`` and its
    action is ignored (it may also be left out of ``actions``). The core then runs to the next
    decision, whoever's it is, and every agent receives the reward of the chats closed
    meanwhile (``info["vector_reward"]``: this step's vector). The due agent is also
    ``due_agent``. At the end of the shift every agent terminates in the same step and
    ``agents`` becomes empty.
    """

    @property
    def due_agent(self) -> str | None:
        """The agent whose action the next step applies (None once the episode has ended)."""
        return self._shift.due() if self.agents else None

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, Any]]]:
        self._reset_shift(seed)
        zero = np.zeros(len(COMPONENTS), np.float32)
        return {a: self._shift.observe(a) for a in self.agents}, {a: self._shift.info(a, zero) for a in self.agents}

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("call reset() before step(): no episode is running")
        if not isinstance(actions, Mapping):
            raise ValueError(f"actions must map agent names to actions, got {type(actions).__name__}")
        for a, action in actions.items():
            if a not in self.agents:
                raise ValueError(f"{a!r} is not a live agent; live agents: {self.agents}")
            self._check(a, action)
        due = self._shift.due()
        if due not in actions:
            raise ValueError(f"no action for {due!r}, whose decision is due")
        vectors = self._shift.decide(actions[due])
        live, over = self.agents, self._shift.over
        obs = {a: self._shift.observe(a) for a in live}
        rewards = {a: scalarize(vectors[a], self._shift.weights) for a in live}
        infos = {a: self._shift.info(a, vectors[a]) for a in live}
        terminations = dict.fromkeys(live, over)
        truncations = dict.fromkeys(live, False)
        if over:
            self.agents = []
        return obs, rewards, terminations, truncations, infos


def env(**kwargs: Any) -> AECEnv:
    """The AEC env (:class:`TeamAECEnv`, arguments as there) in PettingZoo's order-enforcing wrapper."""
    return OrderEnforcingWrapper(TeamAECEnv(**kwargs))


def parallel_env(**kwargs: Any) -> TeamParallelEnv:
    """The parallel env (:class:`TeamParallelEnv`, arguments as for :class:`TeamAECEnv`)."""
    return TeamParallelEnv(**kwargs)


raw_env = TeamAECEnv
