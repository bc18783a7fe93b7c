"""Policies by name: ``make("sentiment_threshold", level=-0.6)`` or ``from_spec("rounds_threshold:k=4")``."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from typing import Any

from agents.base import Policy, RandomPolicy
from agents.oracle import Oracle
from agents.router import AllHuman, ConfidenceThreshold, RuleBased
from agents.supervisor import AlgorithmOnly, AlwaysTakeover, PaperWorkers, RoundsThreshold, SentimentThreshold

_SUPERVISORS: dict[str, Callable[..., Policy]] = {
    "algorithm_only": AlgorithmOnly,
    "paper_workers": PaperWorkers,
    "sentiment_threshold": SentimentThreshold,
    "rounds_threshold": RoundsThreshold,
    "always_takeover": AlwaysTakeover,
    "random": RandomPolicy,
}
_ROUTERS: dict[str, Callable[..., Policy]] = {
    "rule_based": RuleBased,
    "all_human": AllHuman,
    "confidence_threshold": ConfidenceThreshold,
    "random": RandomPolicy,
}
_REFERENCES: dict[str, Callable[..., Policy]] = {"oracle": Oracle}
_REGISTRY = {**_SUPERVISORS, **_ROUTERS, **_REFERENCES}

SUPERVISOR_POLICIES: tuple[str, ...] = tuple(_SUPERVISORS)
"""Names of the observable policies for ``hitl_env/Supervisor-v2`` (they see only ``obs`` and ``info``)."""
ROUTER_POLICIES: tuple[str, ...] = tuple(_ROUTERS)
"""Names of the policies for ``hitl_env/Router-v3`` (``random`` serves both envs)."""
REFERENCE_POLICIES: tuple[str, ...] = tuple(_REFERENCES)
"""Upper bounds for ``hitl_env/Supervisor-v2``, not baselines: they read the simulator's latent state,
so they act only once bound to their env (:mod:`agents.oracle`)."""


def params_of(name: str) -> tuple[str, ...]:
    """The parameters policy ``name`` accepts."""
    return tuple(inspect.signature(_lookup(name)).parameters)


def make(name: str, **params: Any) -> Policy:
    """A new policy by name.

    Raises:
        ValueError: an unknown name or parameter (the message lists the valid ones), or a bad value.
    """
    factory = _lookup(name)
    accepted = params_of(name)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"policy {name!r} takes no parameter {', '.join(map(repr, unknown))}; "
            f"parameters: {', '.join(accepted) or '(none)'}"
        )
    return factory(**params)


def check_config(policy: Policy, cfg: Any) -> None:
    """Refuse a policy whose own ``categories`` (from a ``config`` parameter) are not ``cfg``'s.

    Raises:
        ValueError: the categories differ (the policy would index past its table).
    """
    own = getattr(policy, "categories", None)
    if own is not None and own != tuple(cfg.categories):
        raise ValueError(f"its config's categories ({', '.join(own)}) are not the env's ({', '.join(cfg.categories)})")


_PARAM_SPLIT = re.compile(r",(?=\s*[A-Za-z_]\w*\s*=)")


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name:key=value,key=value"`` into the name and parameters (for command lines).

    Values are Python literals (``-0.6``, ``3``, ``None``, ``{"refund_status": 0.9}``); anything
    else is kept as a string (``paper_workers:config=mmn_abandonment``).
    """
    name, _, rest = spec.strip().partition(":")
    params: dict[str, Any] = {}
    for item in _PARAM_SPLIT.split(rest) if rest.strip() else []:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise ValueError(f"bad policy spec {spec!r}: expected 'name:key=value,...', got {item!r}")
        if key.strip() in params:
            raise ValueError(f"bad policy spec {spec!r}: {key.strip()!r} is given twice")
        try:
            params[key.strip()] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            params[key.strip()] = raw.strip()
    return name.strip(), params


def from_spec(spec: str) -> Policy:
    """A new policy from a spec string such as ``"sentiment_threshold:level=-0.6"``."""
    name, params = parse_spec(spec)
    return make(name, **params)


def _lookup(name: str) -> Callable[..., Policy]:
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown policy {name!r}; supervisor policies: {', '.join(SUPERVISOR_POLICIES)}; "
            f"router policies: {', '.join(ROUTER_POLICIES)}; upper bounds: {', '.join(REFERENCE_POLICIES)}"
        )
    return _REGISTRY[name]
