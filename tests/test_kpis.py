"""One KPI definition (``hitl_env.kpis``) for training logs and ``hitl-eval``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import agents
from eval.episodes import episode_kpis
from hitl_env.envs import ROUTER_ID
from train.envs import SCOPED_KPIS, shift_kpis


@pytest.fixture(scope="module")
def shift() -> tuple[dict, list]:
    """The records of one Router-v3 episode (its reward scores every closed chat)."""
    env, policy = gym.make(ROUTER_ID, team_size=4, shift_hours=3.0), agents.make("rule_based")
    obs, info = env.reset(seed=0)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy.act(obs, info))
        done = terminated or truncated
    sim = env.unwrapped.sim
    return sim.rec, sim.t_arr


def test_training_logs_and_hitl_eval_report_the_same_numbers(shift: tuple[dict, list]) -> None:
    logged, evaluated = shift_kpis(*shift), episode_kpis(*shift, "router")
    for k in SCOPED_KPIS:
        np.testing.assert_equal(logged[f"kpi/all/{k}"], evaluated[k], err_msg=k)
    assert logged["kpi/ai_share"] == evaluated["ai_share"]
    assert logged["kpi/takeover_round"] == evaluated["takeover_round"]
    assert [logged[f"kpi/escalation/{k}"] for k in ("none", "technical", "emotional", "human")] == [
        evaluated[f"esc_{k}"] for k in ("none", "technical", "emotional", "human")
    ]


def test_rating_is_the_given_ratings_and_satisfaction_every_chat(shift: tuple[dict, list]) -> None:
    rec, _ = shift
    closed = np.isfinite(np.asarray(rec["end_t"], float))
    rated = closed & np.asarray(rec["rated"], bool)
    assert 0 < rated.sum() < closed.sum()
    k = episode_kpis(*shift, "router")
    assert k["rating"] == pytest.approx(np.asarray(rec["rating"], float)[rated].mean())
    assert k["satisfaction"] == pytest.approx(np.nanmean(np.asarray(rec["satisfaction"], float)[closed]))
    assert k["n_chats"] == closed.sum()
