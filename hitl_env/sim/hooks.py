"""Decision hooks: the two decisions the simulator exposes to policies.

A *router* decides at each arrival whether the chat is AI-eligible; a *supervisor* decides
after each AI round (once the algorithmic triggers have not fired) whether the worker takes
over. Both see only observable quantities, gathered in a view. A hook may also return
:data:`PENDING`: the simulation then pauses and hands the decision to its caller (this is how
the Gymnasium and PettingZoo envs turn the decisions into actions). A hook that needs its team
(the workers' shifts, a random stream per team) defines ``for_team(team, workers)``, and
:func:`hitl_env.sim.run.simulate` decides each team with the hook it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class _Pending:
    """The type of :data:`PENDING` (one instance; it pickles as the constant)."""

    def __repr__(self) -> str:
        return "PENDING"

    def __reduce__(self) -> str:
        return "PENDING"


PENDING = _Pending()
"""Returned by a hook to pause the simulation until the caller supplies the decision.

Not None, so a hook that forgets its ``return`` is an error rather than a deferral."""


@dataclass(slots=True)
class ArrivalView:
    """What a router sees of an arriving chat.

    Attributes:
        chat: index of the chat within its team.
        time_s: simulation time of the arrival.
        category: index of the issue category.
        rule_eligible: what the rule-based router (category rule) says.
        queue: chats waiting in the team's queue.
        held: chats held by the team's workers (AI chats included; a worker past the end of the
            shift may still be finishing some).
        online: online workers in the team.
        u: a uniform draw a randomized policy may use (keeps runs reproducible).
    """

    chat: int
    time_s: float
    category: int
    rule_eligible: bool
    queue: int
    held: int
    online: int
    u: float


@dataclass(slots=True)
class RoundView:
    """What a supervising worker sees of one of their AI chats after a round.

    Attributes:
        chat: index of the chat within its team.
        worker: index of the supervising worker within the team.
        time_s: simulation time.
        elapsed_s: time since the chat arrived.
        rounds: AI rounds so far.
        reading: the noisy sentiment reading (negative is frustrated).
        trend: change of the reading since the previous round (0 on the first).
        confidence: the AI's self-reported confidence in [0, 1].
        category: index of the issue category.
        held: chats the worker holds (AI chats included).
        ai_held: of those, chats the AI is handling (this one included).
        queue: chats waiting in the team's queue.
        can_takeover: False when the worker already handles ``supervisor.max_hand_chats`` chats
            by hand; a takeover is then ignored (the AI continues).
        u: a uniform draw a randomized policy may use.
        reading_min: the lowest reading of the chat so far (this round's included).
        confidence_mean: the mean of the AI's confidence over the chat's rounds so far.
    """

    chat: int
    worker: int
    time_s: float
    elapsed_s: float
    rounds: int
    reading: float
    trend: float
    confidence: float
    category: int
    held: int
    ai_held: int
    queue: int
    can_takeover: bool
    u: float
    reading_min: float = 0.0
    confidence_mean: float = 0.0


class Router(Protocol):
    def route(self, view: ArrivalView) -> bool | _Pending:
        """True marks the chat AI-eligible; :data:`PENDING` defers to the caller."""


class Supervisor(Protocol):
    def takeover(self, view: RoundView) -> bool | _Pending:
        """True takes the chat over now; :data:`PENDING` defers to the caller."""


class RuleRouter:
    """The paper's router: AI-eligible exactly when the category's rule says so."""

    def route(self, view: ArrivalView) -> bool:
        return view.rule_eligible


class PaperSupervisor:
    """The paper's workers: human-initiated takeovers, usually before a flag fires.

    The chance of taking over after a round is ``base + slope * max(0, -reading - level)``:
    a small baseline of judgement calls plus a response to visible frustration, which comes
    before the sentiment trigger's (lower) threshold is crossed.
    """

    def __init__(self, base: float, sentiment_slope: float, sentiment_level: float) -> None:
        self.base, self.slope, self.level = base, sentiment_slope, sentiment_level

    def takeover(self, view: RoundView) -> bool:
        return view.u < self.base + self.slope * max(0.0, -view.reading - self.level)


class NeverTakeover:
    """No hand takeovers: only the algorithmic triggers escalate (the deployed system)."""

    def takeover(self, view: RoundView) -> bool:
        return False
