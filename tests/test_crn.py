"""Common random numbers: what a seed fixes, whatever the policies and unrelated parameters."""

from __future__ import annotations

import numpy as np

import hitl_env
from hitl_env.sim.hooks import NeverTakeover
from hitl_env.sim.run import build_team, team_jobs

SMALL = {"experiment.workers": 20, "experiment.days_pre": 1, "experiment.days_post": 2}


def _teams(**overrides: object) -> list:
    return [build_team(j) for j in team_jobs(hitl_env.load_config("taobao_2024", {**SMALL, **overrides}), seed=7)]


def test_arm_split_does_not_change_the_workers_or_their_customers() -> None:
    base, none_treated = _teams(), _teams(**{"experiment.treatment_share": 0.0})
    assert sum(sum(s.workers.treated) for s in base) == round(20 * 302 / 647)
    assert not any(any(s.workers.treated) for s in none_treated)
    for a, b in zip(base, none_treated, strict=True):
        np.testing.assert_array_equal(a.workers.speed, b.workers.speed)
        np.testing.assert_array_equal(a.workers.skill, b.workers.skill)
        np.testing.assert_array_equal(a.C.t, b.C.t)
        np.testing.assert_array_equal(a.C.work, b.C.work)


def test_ai_parameters_change_no_customer_draw() -> None:
    base, other = _teams(), _teams(**{"ai.rounds_to_resolve": 6.0, "monitor.technical_rounds": 5.0})
    for a, b in zip(base, other, strict=True):
        for name in ("t", "category", "work", "solvable", "misread", "patience", "f0", "u_rate", "z_rating"):
            np.testing.assert_array_equal(getattr(a.C, name), getattr(b.C, name), err_msg=name)
        assert (a.C.ai_need != b.C.ai_need).any()


def test_policies_meet_the_same_customers() -> None:
    cfg = hitl_env.load_config("taobao_2024", SMALL)
    a = hitl_env.simulate(cfg, seed=3)
    b = hitl_env.simulate(cfg, seed=3, supervisor=NeverTakeover())
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.arrival_s, b.arrival_s)
    np.testing.assert_array_equal(a.category, b.category)
    assert (a.escalation != b.escalation).any()
