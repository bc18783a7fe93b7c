"""``Supervisor-v2(credit="chat")``: an episode is one AI chat, credited with its own outcome."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from hitl_env.config import ConfigError
from hitl_env.envs import ROUTER_ID, SUPERVISOR_ID
from hitl_env.rewards import chat_components, scalarize
from train.config import load_train_config
from train.envs import EpisodeStats


def chat_episodes(env: gym.Env, seed: int, n: int, policy=lambda obs: 0) -> list[dict]:
    """``n`` chat episodes from ``seed`` on: each one's chat, rewards, first observation and actions."""
    base = env.unwrapped
    out = []
    obs, info = env.reset(seed=seed)
    for _ in range(n):
        ep = {"chat": base._focal.focal, "first": obs.copy(), "rewards": [], "chats": set(), "sim": base.sim}
        done = False
        while not done:
            ep["chats"].add(base.decision[1].chat)
            obs, reward, done, truncated, info = env.step(policy(obs))
            assert not truncated
            ep["rewards"].append(reward)
        ep["vector"] = info["vector_reward"]
        out.append(ep)
        obs, info = env.reset()
    return out


def test_an_episode_is_one_chat_from_its_first_decision_with_its_own_outcome_as_the_reward() -> None:
    env = gym.make(SUPERVISOR_ID, credit="chat")
    base = env.unwrapped
    eps = chat_episodes(env, 0, 300, policy=lambda obs: int(obs[2] < -0.5))  # take over frustrated-looking chats
    shifts = {id(ep["sim"]) for ep in eps}
    assert len(shifts) >= 3, "the episodes go on into the next shifts"
    for ep in eps:
        assert ep["chats"] == {ep["chat"]}, "every decision of an episode is on its chat"
        assert ep["first"][0] == 1.0, "an episode starts at its chat's first decision (one AI round)"
        assert all(r == 0.0 for r in ep["rewards"][:-1])
        sim = ep["sim"]
        expected = chat_components(sim.rec, sim.t_arr, ep["chat"], "dense")
        assert np.allclose(ep["vector"], expected, atol=1e-4)
        assert ep["rewards"][-1] == pytest.approx(scalarize(ep["vector"], base.settings.weights))
    # chats of one shift come in the order of their first decisions, each once
    first = [ep["chat"] for ep in eps if ep["sim"] is eps[0]["sim"]]
    assert len(first) == len(set(first)) > 10
    steps = sum(len(ep["rewards"]) for ep in eps)
    assert 1.2 < steps / len(eps) < 4


def test_left_to_the_ai_the_chats_close_as_in_the_shift_episode() -> None:
    """Never taking over, the chat episodes replay the shift of ``credit="shift"``: the same chats
    close at the same times with the same outcomes."""
    chat, shift = gym.make(SUPERVISOR_ID, credit="chat"), gym.make(SUPERVISOR_ID)
    eps = chat_episodes(chat, 5, 40)
    shift.reset(seed=5)
    done = False
    while not done:
        _, _, done, _, _ = shift.step(0)
    one = [ep for ep in eps if ep["sim"] is eps[0]["sim"]]
    a, b = one[0]["sim"].rec, shift.unwrapped.sim.rec
    for ep in one:
        c = ep["chat"]
        assert a["end_t"][c] == b["end_t"][c] and a["satisfaction"][c] == b["satisfaction"][c]
        assert a["escalation"][c] == b["escalation"][c]


def test_the_same_seed_gives_the_same_chat_episodes() -> None:
    a = chat_episodes(gym.make(SUPERVISOR_ID, credit="chat"), 3, 60, policy=lambda obs: int(obs[4] < 0.4))
    b = chat_episodes(gym.make(SUPERVISOR_ID, credit="chat"), 3, 60, policy=lambda obs: int(obs[4] < 0.4))
    assert [e["chat"] for e in a] == [e["chat"] for e in b]
    assert [e["rewards"] for e in a] == [e["rewards"] for e in b]


def test_a_shift_without_decisions_is_a_one_step_episode_each_time() -> None:
    env = gym.make(SUPERVISOR_ID, preset="mmn_abandonment", credit="chat", shift_hours=0.5)
    for seed in (0, None, None):
        obs, info = env.reset(seed=seed)
        assert not obs.any() and info["action_mask"].tolist() == [1, 0]
        _, reward, done, _, _ = env.step(0)
        assert done and reward == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"credit": "day"}, "credit must be one of"), ({"credit": "chat", "scope": "team"}, 'needs scope="ai"')],
)
def test_bad_credit_arguments_are_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make(SUPERVISOR_ID, **kwargs)


def test_the_training_config_passes_credit_to_the_envs_that_take_it() -> None:
    cfg = load_train_config(None, {"env.credit": "chat"})
    assert cfg.env.kwargs()["credit"] == "chat"
    assert "credit" not in load_train_config(None).env.kwargs()  # (run.json files of older runs lack it)
    assert (
        load_train_config(None, {"env.credit": "chat", "env.id": "hitl_env/Router-v3"}).env.kwargs()["credit"] == "chat"
    )
    with pytest.raises(ConfigError, match=r"env\.credit applies only to hitl_env/Supervisor-v2 and hitl_env/Router-v3"):
        load_train_config(None, {"env.credit": "chat", "env.id": "hitl_train/SharedSupervisor-v2"})
    with pytest.raises(ConfigError, match=r"env\.scope applies only to hitl_env/Supervisor-v2"):
        load_train_config(None, {"env.scope": "team", "env.id": "hitl_env/Router-v3"})
    with pytest.raises(ConfigError, match=r'needs env\.scope "ai"'):
        load_train_config(None, {"env.credit": "chat", "env.scope": "team"})


def test_episode_stats_of_a_chat_episode_hold_its_components_and_at_a_shifts_end_its_kpis() -> None:
    env = EpisodeStats(gym.make(SUPERVISOR_ID, credit="chat"))
    env.reset(seed=0)
    sims, ends = [env.unwrapped.sim], []
    while len(sims) < 3:
        done = False
        while not done:
            _, _, done, _, info = env.step(0)
        stats = info["episode_stats"]
        assert {f"reward/{c}" for c in ("rating", "duration", "worker_time", "retrial", "abandonment")} <= set(stats)
        assert stats["reward/duration"] < 0
        over = env.unwrapped.decision is None
        assert ("kpi/ai/satisfaction" in stats) == over
        if over:
            ends.append(stats["kpi/ai_share"])
        env.reset()
        if env.unwrapped.sim is not sims[-1]:
            sims.append(env.unwrapped.sim)
    assert len(ends) == 2 and all(0.03 < share < 0.1 for share in ends)


@pytest.mark.parametrize("env_id", [SUPERVISOR_ID, ROUTER_ID])
def test_gymnasiums_env_checker_passes(env_id: str) -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make(env_id, credit="chat").unwrapped, skip_render_check=True)


def test_router_chat_episodes_are_one_routing_decision_each_with_that_chats_outcome() -> None:
    env = gym.make(ROUTER_ID, credit="chat", preset="promotion_day")
    base = env.unwrapped
    eps = chat_episodes(env, 0, 200, policy=lambda obs: int(obs[1] > 0.5))  # every chat that may go to the AI
    assert all(len(ep["rewards"]) == 1 and ep["chats"] == {ep["chat"]} for ep in eps)
    for ep in eps:
        sim = ep["sim"]
        assert np.allclose(ep["vector"], chat_components(sim.rec, sim.t_arr, ep["chat"], "dense"), atol=1e-4)
        assert ep["rewards"][0] == pytest.approx(scalarize(ep["vector"], base.settings.weights))
    one = [ep for ep in eps if ep["sim"] is eps[0]["sim"]]
    chats = [ep["chat"] for ep in one]
    assert chats == sorted(chats) and len(chats) > 10
    sim = one[0]["sim"]
    between = [c for c in range(chats[0], chats[-1]) if c not in set(chats)]
    assert between, "arrivals while a chat's episode is open are routed by the paper's rule"
    rule = sim.C.category  # the rule marks exactly the eligible categories
    eligible = np.array([c.eligible for c in base.cfg.categories.values()])
    assert (sim.rec["eligible"][between] == eligible[rule[between]]).all()
    taken = [ep["chat"] for ep in one]
    allowed = np.array([c.ai_allowed for c in base.cfg.categories.values()])
    assert (sim.rec["eligible"][taken] == allowed[rule[taken]]).all()
