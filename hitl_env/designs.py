"""Operations designs: named presets of config overrides, each a what-if against ``taobao_2024``.

Every design switches on options that are off in ``taobao_2024`` (or moves a calibrated value),
so the calibrated records stay as they are; ``hitl-whatif`` (:mod:`eval.whatif`) runs each design
against the default on the same workers and customers. docs/MODEL.md's section "Operations
designs" states each mechanism, its parameters and what every value rests on.

==========================  ===================================================================
``earlier_detection``       the sentiment monitor's threshold lowered from 1.0 to 0.6
``predictive_detection``    a trend trigger beside it: a reading that falls by more than 0.3 in
                            one round while below -0.5 escalates (emotional)
``wider_scope_10``          AI-eligible share 10%: the router's keywords mark 16.8% of
                            ``product_inquiry`` eligible, where the AI solves 30%
``wider_scope_20``          20%: 56.8% of ``product_inquiry``
``wider_scope_40``          40%: all of ``product_inquiry`` and 61.3% of ``order_modification``
``incentive``               a bonus for recovered ratings after escalations: bonus 1, effort
                            response 0.5 (half the post-escalation effort gap closes)
``integrated``              today's roles (no overrides: the default itself, effect 0)
``specialized``             30% of each team's treated workers supervise AI chats and take their
                            escalations; the others handle AI-ineligible chats (either role
                            covers for the other when none of its workers has a free slot)
``fatigue``                 speculative: post-escalation effort x exp(-0.1 x frustrated customers
                            the worker inherited earlier in the shift)
``skill_erosion``           speculative: a worker's resolution chance falls 0.002 per post-period
                            day times the share of their chats the AI took
==========================  ===================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hitl_env.config import Config, ConfigError, with_overrides

NEW_SCOPE_SOLVABLE = 0.3
"""AI-solvability assumed on newly eligible chats (0.44-0.52 on today's eligible categories)."""


def _scope(target: float, base: float = 5.8) -> dict[str, Any]:
    """Overrides that make ``target`` percent of arrivals eligible, filling the categories in order."""
    fill = (("product_inquiry", 25.0), ("order_modification", 15.0))
    need, out = target - base, {}
    for name, weight in fill:
        if need <= 0:
            break
        share = min(1.0, need / weight)
        out[f"categories.{name}.keyword_share"] = round(share, 6)
        out[f"categories.{name}.ai_solvable"] = NEW_SCOPE_SOLVABLE
        need -= share * weight
    return out


@dataclass(frozen=True)
class Design:
    """A what-if: its name, a one-line description and the config overrides that make it."""

    name: str
    doc: str
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def config(self, cfg: Config) -> Config:
        """``cfg`` with this design's overrides."""
        return with_overrides(cfg, dict(self.overrides))


DESIGNS: dict[str, Design] = {
    d.name: d
    for d in (
        Design("earlier_detection", "sentiment monitor threshold 1.0 -> 0.6",
               {"monitor.emotional_threshold": 0.6}),
        Design("predictive_detection", "trend trigger: reading falls > 0.3 in a round while below -0.5",
               {"monitor.predictive": True, "monitor.trend_threshold": 0.3, "monitor.predictive_level": 0.5}),
        Design("wider_scope_10", "AI-eligible share 10% (product inquiries, AI solves 30%)", _scope(10.0)),
        Design("wider_scope_20", "AI-eligible share 20% (product inquiries, AI solves 30%)", _scope(20.0)),
        Design("wider_scope_40", "AI-eligible share 40% (+ order changes, AI solves 30%)", _scope(40.0)),
        Design("incentive", "bonus for recovered ratings after escalations (response 0.5)",
               {"effort.bonus": 1.0, "effort.bonus_response": 0.5}),
        Design("integrated", "today's roles: every treated worker supervises and handles chats", {}),
        Design("specialized", "30% of each team's treated workers only supervise AI chats and take escalations",
               {"supervisor.specialized_share": 0.3}),
        Design("fatigue", "speculative: escalation effort falls 10% per frustrated customer inherited this shift",
               {"effort.fatigue_slope": 0.1}),
        Design("skill_erosion", "speculative: resolution chance falls 0.2 pp a day per share of chats the AI took",
               {"workers.skill_erosion": 0.002}),
    )
}  # fmt: skip


def design(name: str) -> Design:
    """The design called ``name`` (raises :class:`ConfigError` naming the known ones)."""
    if name not in DESIGNS:
        raise ConfigError(f"unknown design {name!r}; designs: {', '.join(DESIGNS)}")
    return DESIGNS[name]
