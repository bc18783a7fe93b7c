"""``oracle``: an upper bound for ``hitl_env/Supervisor-v2``, not an observable baseline.

The supervisor heuristics of :mod:`agents.supervisor` see only the observation. The oracle
reads what no supervisor can see: the latent state the simulator (the env's
:class:`~hitl_env.sim.team.TeamSim`) holds for the chat being decided, namely whether the chat
is within the AI's capability (``solvable``), whether the AI misreads it (``misread``), how many
rounds the AI needs to resolve it (``ai_need``), when the technical trigger fires on it
(``tech_round``) and the customer's frustration. It shows how much a better takeover rule could
gain at most, so it is reported as a bound beside the heuristics and learned policies, never
ranked among them.

It needs the env, given explicitly: ``Oracle(env=env)`` or ``oracle.bind(env)`` (``hitl-eval``
binds it to the env it evaluates on). Without one, :meth:`Oracle.act` refuses to run; so does
``agents.hooks.PolicyHook`` (``simulate`` and ``hitl-rct`` give hooks no simulator), and the
``info`` dict stays free of latent variables for every observable policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from agents.base import masked
from hitl_env.sim import kernel as K

LATENT_TYPES = ("beyond", "misread", "on_track")
"""A chat's latent type, as :func:`latent_type` numbers them: outside the AI's capability; within
it, but the AI answers the wrong question; within it and read right."""


def latent_type(sim: Any, c: int) -> int:
    """The latent type of chat ``c`` of a team simulation (``TeamSim``): an index of :data:`LATENT_TYPES`."""
    if not sim.C.solvable[c]:
        return 0
    return 1 if sim.C.misread[c] else 2


class NeedsEnv(RuntimeError):
    """A policy that reads the simulator's latent state was asked to act without its env."""


class Oracle:
    """Take over the chats a takeover helps, as told by their latent type (an upper bound).

    The rule, by the chat's latent type, after the AI's ``n``-th round (a decision comes only
    after a round in which no trigger fired):

    * **misread** (within the AI's capability, but the AI answers the wrong question): take over
      once ``n >= misread_round``. Left alone, the AI loops, frustration builds and the chat
      ends in an emotional escalation (the paper's worst outcome) or an abandonment.
    * **on track** (within capability, read right): let the AI finish, unless it still needs
      more than ``on_track_left`` rounds (None: always let it finish).
    * **beyond the AI** (not solvable): leave it to the technical trigger, which escalates
      without the gatekeeper rating penalty a hand takeover costs (``ai.gatekeeper_penalty``),
      unless the trigger is more than ``technical_wait`` rounds away (None: always wait). With
      the technical trigger off, only the AI's round limit (``ai.max_rounds``) ends its loop.

    Args:
        env: the env whose decisions it takes (a ``Supervisor-v2``, wrapped or not); or
            :meth:`bind` it later.
        misread_round: AI round from which a misread chat is taken over (1: at once; None: never).
        on_track_left: AI rounds still needed above which an on-track chat is taken over.
        technical_wait: rounds the oracle waits for the technical trigger on a chat beyond the AI.
    """

    name = "oracle"
    needs_env = True
    """Reads the simulator's latent state: acts only once bound to its env (:meth:`bind`)."""

    def __init__(
        self,
        env: Any = None,
        misread_round: int | None = 1,
        on_track_left: int | None = None,
        technical_wait: int | None = None,
    ) -> None:
        if misread_round is not None and (not _count(misread_round) or misread_round < 1):
            raise ValueError(f"oracle: misread_round must be a positive integer or None, got {misread_round!r}")
        if on_track_left is not None and (not _count(on_track_left) or on_track_left < 0):
            raise ValueError(f"oracle: on_track_left must be a non-negative integer or None, got {on_track_left!r}")
        if technical_wait is not None and (not _count(technical_wait) or technical_wait < 0):
            raise ValueError(f"oracle: technical_wait must be a non-negative integer or None, got {technical_wait!r}")
        self.misread_round, self.on_track_left = misread_round, on_track_left
        self.technical_wait = technical_wait
        self._env: Any = None
        if env is not None:
            self.bind(env)

    def bind(self, env: Any) -> Oracle:
        """Decide the takeovers of ``env`` (its unwrapped simulator is read at every decision)."""
        base = getattr(env, "unwrapped", env)
        if not hasattr(base, "sim") or not hasattr(base, "decision"):
            raise TypeError(f"oracle: {env!r} is not a hitl_env takeover env (it has no simulator to read)")
        self._env = base
        return self

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, obs: np.ndarray, info: Mapping[str, Any]) -> int:
        if self._env is not None and self._env.decision is None:
            return 0  # nothing to decide (a shift without a decision still takes one step)
        return masked(int(self.takes_over(*self._pending(info))), info)

    def takes_over(self, sim: Any, c: int) -> bool:
        """Whether the rule takes chat ``c`` of ``sim`` over now (the mask aside)."""
        n, kind = int(sim.rec["ai_rounds"][c]), LATENT_TYPES[latent_type(sim, c)]
        if kind == "beyond":
            P = sim.state.P
            trigger = P[K.p.ai_max_rounds]
            if P[K.p.technical]:
                trigger = min(trigger, int(sim.C.tech_round[c]))
            return self.technical_wait is not None and trigger - n > self.technical_wait
        if kind == "misread":
            return self.misread_round is not None and n >= self.misread_round
        return self.on_track_left is not None and int(sim.C.ai_need[c]) - n > self.on_track_left

    def _pending(self, info: Mapping[str, Any]) -> tuple[Any, int]:
        """The simulator and the chat of the pending takeover decision."""
        if self._env is None:
            raise NeedsEnv(
                "oracle reads the simulator's latent state (an upper bound, not an observable policy): "
                "give it the env it decides for, Oracle(env=env) or oracle.bind(env)"
            )
        sim = self._env.sim
        pending = None if sim is None else sim.pending
        if pending is None or pending[0] != "takeover":
            raise NeedsEnv("oracle: its env has no pending takeover decision (is it bound to the env it acts in?)")
        if "time_s" in info and float(info["time_s"]) != pending[2]:
            raise NeedsEnv("oracle: the decision it is asked about is not its env's (bound to another env?)")
        return sim, pending[1]

    def __repr__(self) -> str:
        return (
            f"Oracle(misread_round={self.misread_round!r}, on_track_left={self.on_track_left!r}, "
            f"technical_wait={self.technical_wait!r})"
        )


def needs_env(policy: Any) -> bool:
    """Whether ``policy`` reads the simulator's latent state (and so must be bound to its env)."""
    return bool(getattr(policy, "needs_env", False))


def _count(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)
