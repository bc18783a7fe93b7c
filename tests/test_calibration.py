"""Calibration of ``taobao_2024`` against DOMAIN.md's baseline table and escalation shares.

Runs the full experiment scale (647 workers, 31 days, about 680,000 chats, about 40,000 of them
AI-eligible) for seeds 0 and 1. At this scale the sampling error of every checked statistic is
far inside its accept range (escalation shares: about 0.5 pp standard error on about 10,000
routed chats, against +-5 pp), so a failure means the model is off, not the draw.
"""

from __future__ import annotations

import pytest

import hitl_env
from eval.calibration import BASELINE, ESCALATION_SHARES, baseline_stats, escalation_shares

SEEDS = (0, 1)


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def records(request: pytest.FixtureRequest):
    return hitl_env.simulate(hitl_env.load_config("taobao_2024"), seed=request.param, n_jobs=None)


def test_full_scale_counts(records) -> None:
    # 680,676 chats in the paper; the arrival rate is set from it (Poisson noise is ~0.1%).
    assert 660_000 <= len(records) <= 700_000
    assert records["worker_id"].nunique() == 647
    assert records.drop_duplicates("worker_id")["arm"].value_counts()["treatment"] == 302


@pytest.mark.parametrize("stat", list(BASELINE))
def test_baseline_in_accept_range(records, stat: str) -> None:
    value = baseline_stats(records)[stat]
    target = BASELINE[stat]
    assert target.ok(value), f"{stat}={value:.4g} outside [{target.lo:.4g}, {target.hi:.4g}]"


@pytest.mark.parametrize("kind", list(ESCALATION_SHARES))
def test_escalation_share_in_accept_range(records, kind: str) -> None:
    value = escalation_shares(records)[kind]
    target = ESCALATION_SHARES[kind]
    assert target.ok(value), f"{kind} share {value:.3f} outside [{target.lo:.3f}, {target.hi:.3f}]"


def test_only_treated_post_eligible_chats_reach_the_ai(records) -> None:
    routed = records[records["routed_ai"]]
    # 680,676 chats x 5.8% eligible x 302/647 treated x 17/31 post-period days = about 10,100
    assert 9_000 <= len(routed) <= 11_200
    assert routed["eligible"].all()
    assert (routed["arm"] == "treatment").all()
    assert (routed["period"] == "post").all()
