"""The decisions the simulator exposes, one entry each: the registry every layer dispatches through.

A decision kind names what the core needs to pause at it and hand it to a hook: the code the
compiled loop returns (:mod:`~hitl_env.sim.kernel`), the kernel's layout of its view, the view
type hooks receive (:mod:`~hitl_env.sim.hooks`), the hook method that answers it, and the hook
:func:`~hitl_env.sim.run.simulate` uses when the caller gives none. The envs add their own half
(observation builder and env id) in :data:`hitl_env.envs.ENVS`, keyed by the same name.

Adding a kind (staffing, say) is one entry here, its kernel code and view layout in
``kernel.py``, its view dataclass in ``hooks.py``, and its env entry; an unknown kind raises
wherever a kind is looked up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hitl_env.config import Config
from hitl_env.sim import kernel as K
from hitl_env.sim.hooks import ArrivalView, PaperSupervisor, RoundView

_CONVERT = {"int": int, "float": float, "bool": bool}


@dataclass(frozen=True)
class Decision:
    """One decision kind.

    Attributes:
        name: what :meth:`TeamSim.run` returns with the view (``"route"``, ``"takeover"``).
        agent: who decides (``"router"``, ``"supervisor"``): the hook argument of ``simulate``
            and the policy kind of :mod:`agents`.
        code: the compiled loop's code for it (``advance``'s return, ``resume``'s kind).
        view: the dataclass a hook receives.
        layout: the kernel's field order of the view in ``V``.
        method: the hook method that answers it.
        default_hook: the hook ``simulate`` uses when none is given (None: the kernel decides
            by the config's rule without pausing).
    """

    name: str
    agent: str
    code: int
    view: type
    layout: tuple[str, ...]
    method: str
    default_hook: Callable[[Config], Any]

    read: Callable[[list[float]], Any] = field(init=False, repr=False, compare=False)
    """The view from the kernel's ``V`` (as a list): each field by name, in its type."""

    def __post_init__(self) -> None:
        fields = dataclasses.fields(self.view)
        missing = [f.name for f in fields if f.name not in self.layout]
        if missing:
            raise TypeError(f"{self.view.__name__} fields {missing} are not in the kernel's view layout")
        types = {f.name: str(f.type) for f in fields}
        odd = {k: t for k, t in types.items() if t not in _CONVERT}
        if odd:
            raise TypeError(f"{self.view.__name__} fields {odd}: a view field is an int, float or bool")
        # written out as dataclasses write __init__: reading a step's view costs 0.9 us, not 1.5
        args = ", ".join(f"{t}(v[{self.layout.index(k)}])" for k, t in types.items())
        namespace = {"View": self.view, **_CONVERT}
        exec(f"def read(v):\n    return View({args})", namespace)  # (names and types from the view's fields)
        object.__setattr__(self, "read", namespace["read"])

    def __reduce__(self) -> tuple:
        """Pickled by its fields; ``read`` is written again on load (made by ``exec``, it has no importable name)."""
        return (Decision, (self.name, self.agent, self.code, self.view, self.layout, self.method, self.default_hook))


def default_supervisor(cfg: Config) -> PaperSupervisor:
    """The paper's workers, parameterized by ``cfg.supervisor``."""
    s = cfg.supervisor
    return PaperSupervisor(s.base, s.sentiment_slope, s.sentiment_level)


DECISIONS: dict[str, Decision] = {
    d.name: d
    for d in (
        Decision("route", "router", K.ROUTE, ArrivalView, K.ARRIVAL_VIEW, "route", lambda cfg: None),
        Decision("takeover", "supervisor", K.TAKEOVER, RoundView, K.ROUND_VIEW, "takeover", default_supervisor),
    )
}
"""Every decision kind by name."""
BY_CODE = {d.code: d for d in DECISIONS.values()}
BY_AGENT = {d.agent: d for d in DECISIONS.values()}


def decision(kind: str) -> Decision:
    """The decision kind by name (``"route"``) or by agent (``"router"``).

    Raises:
        ValueError: an unknown kind (the message lists the known ones).
    """
    found = DECISIONS.get(kind) or BY_AGENT.get(kind)
    if found is None:
        known = ", ".join(f"{d.name} ({d.agent})" for d in DECISIONS.values())
        raise ValueError(f"unknown decision kind {kind!r}; known: {known}")
    return found
