"""Multi-agent training: one supervisor policy shared by every ``supervisor_i`` of the team env.

``hitl_train/SharedSupervisor-v2`` (:class:`SharedSupervisorEnv`) turns the PettingZoo team env
(:func:`hitl_env.multi_agent.parallel_env`) into a single-agent Gymnasium env that any
stable-baselines3 algorithm trains on, with parameter sharing:

* The router acts by a fixed policy (``router``: a heuristic spec such as ``"rule_based"`` or
  ``"confidence_threshold:threshold=0.4"``, or a router model saved by ``hitl-train``), inside
  the env.
* Every decision of any ``supervisor_i`` is one step. The observation is that agent's own
  observation (``Supervisor-v2``'s table; the agent's name is ``info["agent"]``, not part of the
  observation), so one network acts for every worker: the supervisors are homogeneous, and each
  worker's decisions are samples of the same policy (parameter sharing, as in MAPPO's shared
  actor).
* The reward of a step is the sum of every supervisor's PettingZoo reward over the step (the
  AI-routed chats of the whole team that closed meanwhile, each credited to its worker's agent):
  the agents are cooperative, and the shared policy maximizes the team's total. The decisions
  of different agents interleave in simulated time, so a step's reward can stem from another
  worker's earlier decision; the critic sees the team's load in the observation (queue, held
  chats), which is what makes a shared team-level value function workable.

Why this way: PettingZoo's event-driven team has one decision due at a time (never simultaneous
moves), so a synchronous parallel-agent vector env (SuperSuit's ``pettingzoo_env_to_vec_env``)
does not apply; the stream of decisions in simulated time is the natural single-agent view.
With ``router="rule_based"`` the episodes equal ``Supervisor-v2``'s for the same seed and
actions; the env adds a pluggable (e.g. learned) router and the per-agent reward attribution
of the team env, and a policy trained here acts in ``Supervisor-v2`` unchanged.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from hitl_env.config import Config
from hitl_env.envs.observations import BinaryAction
from hitl_env.multi_agent import ROUTER, TeamParallelEnv
from hitl_env.rewards import COMPONENTS


def router_policy(spec: str, cfg: Config) -> Any:
    """The fixed router of a spec: a router heuristic, or a router model saved by ``hitl-train``.

    Raises:
        ValueError: an unknown name, a supervisor policy, a bad parameter, a missing file, a model
            of another env or of another preset's categories.
    """
    from agents.loading import load

    try:
        return load("router", spec, cfg)
    except (ValueError, TypeError) as e:
        raise ValueError(f"router {spec!r}: {e}") from None


class SharedSupervisorEnv(gym.Env):
    """Every supervisor agent's takeover decision as one step of one shared policy.

    ## Description
    The team env of :mod:`hitl_env.multi_agent` (one team's shift; agents ``router`` and
    ``supervisor_0..N-1``), the router acting by a fixed policy, every supervisor decision handed
    to the learner. See the module docstring for the approach.

    ## Action Space
    ``Discrete(2)`` as ``Supervisor-v2``: 0 lets the AI continue, 1 takes over; the mask
    (``info["action_mask"]``, :meth:`action_masks`) is ``[1, 0]`` where a takeover is impossible.

    ## Observation Space
    The acting supervisor's observation: ``Supervisor-v2``'s ``Box`` (see its table).

    ## Rewards
    The sum over the supervisor agents of their rewards (weighted components of their AI-routed
    chats closed during the step); the summed vector is ``info["vector_reward"]``.

    ## Starting State
    The team env reset with the seed (the team ``Supervisor-v2`` draws from the same seed), run
    through the router's decisions to the first supervisor decision; chats closed before it are
    not scored (as in ``Supervisor-v2``).

    ## Episode End
    When the team has closed every chat of the shift. A shift without any supervisor decision is
    a one-step episode with zero reward. No truncation.

    ## Arguments
    ``gymnasium.make("hitl_train/SharedSupervisor-v2", router="rule_based", **team_kwargs)``:
    ``team_kwargs`` as for :func:`hitl_env.multi_agent.parallel_env` (preset, overrides,
    team_size, shift_hours, start_hour, reward_weights, rating).

    ## Version History
    * v2: over ``hitl_team_v3``: the calibrated ``taobao_2024`` changed (DOMAIN.md's per-escalation-type
      table and statistical power): a hand takeover costs a rating penalty (gatekeeper aversion)
      and gets a worker's chosen effort; ratings are J-shaped; workers drift from day to day;
      the AI's confidence signal is weak at first and sharpens over rounds (the observation's
      ``confidence``); the supervisor also observes the chat's lowest reading and mean
      confidence so far; the default reward weights are a cost model in worker-minutes
      (:mod:`hitl_env.rewards`). Returns and observations are not comparable with v1's.
    * v1: over ``hitl_team_v2``: the calibrated ``taobao_2024`` changed: a worker who takes
      over an AI chat within the AI's scope resolves it more often (``ai.handoff_resolve``
      0.1, the AI's transcript); returns are not comparable with v0's.
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, router: str = "rule_based", render_mode: str | None = None, **team_kwargs: Any) -> None:
        self.team = TeamParallelEnv(render_mode=render_mode, **team_kwargs)
        self.router, self.router_spec = router_policy(router, self.team.cfg), router
        self.render_mode = render_mode
        self.supervisors = [a for a in self.team.possible_agents if a != ROUTER]
        box = self.team.observation_space(self.supervisors[0])["observation"]
        self.observation_space = gym.spaces.Box(box.low, box.high, dtype=np.float32)
        self.action_space = BinaryAction()
        self.reward_space = self.team.reward_space(self.supervisors[0])
        self._obs: dict[str, Any] = {}
        self._infos: dict[str, Any] = {}
        self._reward, self._vec = 0.0, np.zeros(len(COMPONENTS), np.float32)
        self._active = False

    @property
    def sim(self) -> Any:
        """The running core (read it, never drive it)."""
        return self.team.sim

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.router.reset(seed)
        self._obs, self._infos = self.team.reset(seed=seed)
        self._advance()
        self._reward, self._vec = 0.0, np.zeros(len(COMPONENTS), np.float32)  # not the agents' doing
        self._active = True
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self._active:
            raise RuntimeError("call reset() before step(): no episode is running")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 or 1, got {action!r}")
        self._reward, self._vec = 0.0, np.zeros(len(COMPONENTS), np.float32)
        if self.team.agents:  # (else: a shift without any supervisor decision ends at its first step)
            self._decide(self.team.due_agent, int(action))
            self._advance()
        self._active = bool(self.team.agents)
        return self._observation(), self._reward, not self._active, False, self._info()

    def _decide(self, agent: str, action: int) -> None:
        """One decision of the team env; the supervisors' rewards add to this step's."""
        self._obs, rewards, _, _, self._infos = self.team.step({agent: action})
        self._reward += sum(rewards[a] for a in self.supervisors)
        self._vec = self._vec + sum(self._infos[a]["vector_reward"] for a in self.supervisors)

    def _advance(self) -> None:
        """Let the router act until a supervisor's decision is due or the shift ends."""
        while self.team.agents and self.team.due_agent == ROUTER:
            self._decide(ROUTER, self.router.act(self._obs[ROUTER]["observation"], self._infos[ROUTER]))

    def _due(self) -> str | None:
        return self.team.due_agent if self.team.agents else None

    def _observation(self) -> np.ndarray:
        due = self._due()
        return self._obs[due]["observation"] if due else np.zeros(self.observation_space.shape, np.float32)

    def action_masks(self) -> np.ndarray:
        """The current action mask as booleans (for sb3-contrib's MaskablePPO)."""
        due = self._due()
        return self._obs[due]["action_mask"].astype(bool) if due else np.array([True, False])

    def _info(self) -> dict[str, Any]:
        time_s = self._infos[ROUTER]["time_s"]  # every agent's info carries the pending decision's time
        return {"vector_reward": self._vec, "action_mask": self.action_masks().astype(np.int8),
                "time_s": time_s, "agent": self._due()}  # fmt: skip

    def render(self) -> str | np.ndarray | None:
        return self.team.render()

    def close(self) -> None:
        self.team.close()


__all__ = ["SharedSupervisorEnv"]
