"""Any policy as a decision hook of the simulation core: heuristics and saved models in ``simulate``.

The core asks its hooks ``takeover(view)`` and ``route(view)`` (:mod:`hitl_env.sim.hooks`); a
policy of this package maps an env observation and its ``info`` to an action. A hook of this
module bridges the two: at each decision it builds the observation the Gymnasium env would give,
with the env's own builders (:mod:`hitl_env.envs.observations`), and ``info = {"action_mask":
mask}``, asks the policy, and applies the action only where the mask allows it::

    cfg = hitl_env.load_config("taobao_2024", {"experiment.workers": 50})
    hook = PolicyHook("supervisor", "sentiment_threshold:level=-1", cfg, seed=0)
    df = hitl_env.simulate(cfg, seed=0, supervisor=hook, n_jobs=2)

What the envs define per episode (one team, one shift) is defined here per team and decision:

* **Shift progress of a takeover**: the progress through the deciding worker's current shift,
  the time since that worker's latest daily shift start (``Workers.shift_start_h``), in shifts
  of ``arrivals.shift_hours``: what the worker would see in a ``Supervisor-v2`` episode of that
  shift. It exceeds 1 when the worker finishes chats after the shift, as in the env.
* **Shift progress of a routing decision** (the arrival has no worker): the mean progress of
  the shifts of the team's workers whose shift is running at the arrival (by the same
  definition). In ``Router-v3`` every worker shares one shift, and this is the env's definition.
* **Randomness**: :class:`PolicyHook` is a recipe the core binds to each team
  (``for_team``, :func:`hitl_env.sim.run.team_hook`) in the process that simulates it. Each team
  gets a fresh policy reset with a seed drawn from (seed, team, kind), the seed being the run's
  unless the spec gives one (``random:p=0.2,seed=7``): a randomized policy (``random``,
  ``paper_workers``) gives the same records for the same seed, whatever the number of processes.
* **Saved models** load once per process (:mod:`agents.loading`); the recipe pickles as its
  spec, so no model crosses processes.
* **Upper bounds** (``oracle``) are refused: they read the latent state of a Gymnasium env's
  simulator, and a core hook is given only its view of the decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agents.base import Policy
from agents.loading import KINDS, MODEL_ENVS, is_model_spec, load
from agents.oracle import needs_env
from agents.registry import parse_spec
from hitl_env.config import Config
from hitl_env.envs.observations import RouterObs, SupervisorObs
from hitl_env.sim.hooks import ArrivalView, RoundView
from hitl_env.sim.population import DAY_S, HOUR_S, Workers

_STREAM = {"supervisor": 1, "router": 2}


def team_seed(seed: int, team: int, kind: str) -> int:
    """The seed of team ``team``'s ``kind`` policy: independent streams per team and kind."""
    return int(np.random.SeedSequence([seed, team, _STREAM[kind]]).generate_state(1)[0])


class PolicyHook:
    """A policy spec as a core hook: bound to each team by the core (``for_team``).

    Args:
        kind: ``supervisor`` (``takeover`` decisions) or ``router`` (``route`` decisions).
        spec: a heuristic with parameters (``"sentiment_threshold:level=-1"``) or the path of a
            model saved by ``hitl-train`` for that kind.
        cfg: the run's config (observations, shifts, and heuristics with a ``config`` parameter).
        seed: the run's seed, from which every team's policy is reseeded.

    Raises:
        ValueError: the spec is not a ``kind`` policy (checked here, once, by building it), or it
            is an upper bound that reads the simulator's latent state (``oracle``).
    """

    def __init__(self, kind: str, spec: str, cfg: Config, seed: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.spec, self.cfg = kind, spec, cfg
        self.is_model = is_model_spec(spec)
        self.model_envs = tuple(MODEL_ENVS[kind])  # as registered here, for processes that never import train
        given = None if self.is_model else parse_spec(spec)[1].get("seed")
        self.seed = seed if given is None else given
        if needs_env(self.policy(0)):
            raise ValueError(
                f"{spec!r} reads the latent state of a Gymnasium env's simulator (an upper bound, not an "
                "observable policy): evaluate it with hitl-eval; a core hook sees only the decision's view"
            )

    def policy(self, team: int) -> Policy:
        """Team ``team``'s policy: a new heuristic, or this process's model, reset with its seed."""
        policy = load(self.kind, self.spec, self.cfg, self.model_envs)
        policy.reset(team_seed(self.seed, team, self.kind))
        return policy

    def for_team(self, team: int, workers: Workers) -> SupervisorHook | RouterHook:
        """The hook deciding for team ``team``, whose workers are ``workers``."""
        starts = np.asarray(workers.shift_start_h, dtype=float) * HOUR_S
        return _HOOKS[self.kind](self.policy(team), self.cfg, starts)

    def __repr__(self) -> str:
        return f"PolicyHook({self.kind!r}, {self.spec!r}, seed={self.seed!r})"


class _TeamHook:
    """A policy deciding for one team, whose workers start their shifts at ``shift_start_s``.

    Args:
        policy: a policy for this decision's env (its observations and actions).
        cfg: the run's config.
        shift_start_s: each worker's daily shift start, seconds after midnight.
    """

    observation_type: type = SupervisorObs

    def __init__(self, policy: Policy, cfg: Config, shift_start_s: Sequence[float]) -> None:
        self.policy = policy
        self.shift_s = cfg.arrivals.shift_hours * HOUR_S
        # the builder's shift start is set per decision, to the shift the decision falls in
        self.obs = self.observation_type(cfg, 0.0, self.shift_s)
        self.starts = [float(s) for s in shift_start_s]

    def _decide(self, view: Any, since_shift_start: float) -> bool:
        self.obs.shift_start_s = view.time_s - since_shift_start
        mask = self.obs.mask(view)
        action = self.policy.act(self.obs(view), {"action_mask": mask})
        if not isinstance(action, (int, np.integer, np.bool_)) or action not in (0, 1):  # not "no", 2 or NaN
            raise TypeError(f"{self.policy!r}.act() must return the action 0 or 1, got {action!r}")
        return bool(action) and bool(mask[1])


class SupervisorHook(_TeamHook):
    """``takeover(view)``: a supervisor policy deciding one team's takeovers."""

    observation_type = SupervisorObs

    def takeover(self, view: RoundView) -> bool:
        return self._decide(view, (view.time_s - self.starts[view.worker]) % DAY_S)


class RouterHook(_TeamHook):
    """``route(view)``: a router policy deciding one team's arrivals."""

    observation_type = RouterObs

    def route(self, view: ArrivalView) -> bool:
        since = [(view.time_s - s) % DAY_S for s in self.starts]
        running = [x for x in since if x < self.shift_s] or [min(since)]
        return self._decide(view, sum(running) / len(running))


_HOOKS = {"supervisor": SupervisorHook, "router": RouterHook}
"""The team hook of each kind (``hitl_env.sim.decisions.BY_AGENT``'s agents)."""
